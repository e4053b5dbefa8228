// LLM_MAX_TOKENS and the model failing after a tool acted, through the real `depositbot`
// process against the fake model server (issue 11, item 8).
#include <doctest/doctest.h>

#include "app/config.h"
#include "db/database.h"
#include "tests/fakes/fake_llm_server.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/process_runner.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using namespace depositbot::testing;
using nlohmann::json;

namespace {

std::map<std::string, std::string> LlmEnv(const FakeLlmServer& llm) {
  return {{"LLM_BASE_URL", llm.url()}, {"LLM_API_KEY", "sk-test"}};
}

}  // namespace

TEST_CASE("LLM_MAX_TOKENS is read, bounded 16..32768, and 1024 when unset") {
  CHECK(Config::FromEnvironment({})->llm_max_tokens == 1024);
  CHECK(Config::FromEnvironment({{"LLM_MAX_TOKENS", "16"}})->llm_max_tokens == 16);
  CHECK(Config::FromEnvironment({{"LLM_MAX_TOKENS", "32768"}})->llm_max_tokens == 32768);
  for (const char* bad : {"15", "0", "-5", "32769", "10000000000", "1e3", "512 ", "lots"}) {
    CAPTURE(bad);
    auto c = Config::FromEnvironment({{"LLM_MAX_TOKENS", bad}});
    REQUIRE_FALSE(c);
    CHECK(Contains(c.error().message, "LLM_MAX_TOKENS"));
    CHECK(Contains(c.error().message, "16 to 32768"));
  }
}

TEST_CASE("a bad LLM_MAX_TOKENS stops start-up with one line naming it") {
  std::string dir = MakeTempDir();
  auto r = RunProcess(DepositbotBinary(), {"chat"}, {{"LLM_MAX_TOKENS", "100000"}}, dir, "hi\n");
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "LLM_MAX_TOKENS"));
  CHECK(r.err.find('\n') == r.err.size() - 1);  // one line
  CHECK(r.out.empty());
}

TEST_CASE("the model server gets max_tokens from LLM_MAX_TOKENS") {
  std::string dir = MakeTempDir();
  FakeLlmServer llm;
  llm.Enqueue(FakeLlmReply::Text("Hello."));
  auto env = LlmEnv(llm);
  env["LLM_MAX_TOKENS"] = "77";
  auto r = RunProcess(DepositbotBinary(), {"chat"}, env, dir, "hi\n");
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  REQUIRE(llm.RequestCount() == 1);
  CHECK(llm.Requests()[0].json["max_tokens"] == 77);
}

TEST_CASE("chat: the model fails after recording a deposit: the user is told the deposit") {
  std::string dir = MakeTempDir();
  FakeLlmServer llm;
  llm.Enqueue(FakeLlmReply::ToolCalls(
      {{"callDep01", "manage_deposit",
        R"({"action":"request_deposit","amount":"30,000","depositor_name":"KIM MINJI"})"}}));
  // Not retried (x-should-retry), so the test does not wait out the client's backoff.
  llm.Enqueue(
      FakeLlmReply::HttpError(500, "boom", "server_error").WithHeader("x-should-retry", "false"));
  llm.Enqueue(FakeLlmReply::Text("Yes, deposit #1 is pending."));
  auto r = RunProcess(DepositbotBinary(), {"chat"}, LlmEnv(llm), dir,
                      "I sent 30,000 as KIM MINJI\nis it recorded?\n");
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "I recorded your deposit #1 of 30,000.00 USD as KIM MINJI"));
  CHECK_FALSE(Contains(r.out, "can't reach"));
  CHECK(Contains(r.out, "Yes, deposit #1 is pending."));
  auto db = Database::Open(dir + "/depositbot.db");
  REQUIRE(db);
  CHECK(QueryInt(**db, "SELECT COUNT(*) FROM deposit_transactions") == 1);
  CHECK(QueryInt(**db,
                 "SELECT COUNT(*) FROM deposit_transactions WHERE status = 'pending' AND "
                 "amount = 3000000 AND depositor_name = 'KIM MINJI'") == 1);
  // The third request (the next message) carries the recorded call and the reply given.
  REQUIRE(llm.RequestCount() == 3);
  CHECK(Contains(llm.Requests()[2].json["messages"].dump(), "I recorded your deposit #1"));
}
