// The model provider's limits for the whole process (issue 13, item 3): LLM_MAX_CONCURRENT and
// LLM_MAX_REQUESTS_PER_MINUTE as settings, and `depositbot serve` as a real process against the
// fake Telegram and model servers, where one 429 slows every conversation, not only its own.
#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <optional>
#include <regex>
#include <thread>

#include "app/config.h"
#include "app/services.h"
#include "tests/fakes/fake_llm_server.h"
#include "tests/fakes/fake_telegram_server.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/process_runner.h"
#include "tests/serve_bot.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using namespace depositbot::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const FakeTelegramUser kAnna{2001, "Anna", "", "anna", "en", false};
const FakeTelegramUser kBoris{2002, "Boris", "", "boris", "en", false};
const FakeTelegramUser kChloe{2003, "Chloe", "", "chloe", "en", false};

// `depositbot serve` on the fake Telegram server, its model the fake model server.
struct Bot : ServeBot {
  explicit Bot(const FakeLlmServer& llm) { UseModel(llm); }

  bool WaitForReply(int64_t chat, const std::string& part) {
    for (size_t n = 1; n < 100; ++n) {
      if (!telegram.WaitForSentMessages(n, seconds(20))) return false;
      for (const auto& m : telegram.SentMessages()) {
        if (m.chat_id == chat && Contains(m.text, part)) return true;
      }
    }
    return false;
  }

  // Polls /metrics until `name` reads at least `value` (the gate counts in another process).
  bool WaitForMetric(const std::string& name, int64_t value) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto v = Metric(name); v && *v >= value) return true;
      std::this_thread::sleep_for(milliseconds(20));  // a poll interval, not a synchronisation
    }
    return false;
  }
};

}  // namespace

TEST_CASE("LLM_MAX_CONCURRENT and LLM_MAX_REQUESTS_PER_MINUTE are read, bounded, with defaults") {
  auto defaults = Config::FromEnvironment({});
  REQUIRE(defaults);
  CHECK(defaults->llm_max_concurrent == 1024);
  CHECK(defaults->llm_max_requests_per_minute == 0);
  auto ends = Config::FromEnvironment(
      {{"LLM_MAX_CONCURRENT", "100000"}, {"LLM_MAX_REQUESTS_PER_MINUTE", "10000000"}});
  REQUIRE(ends);
  CHECK(ends->llm_max_concurrent == 100000);
  CHECK(ends->llm_max_requests_per_minute == 10000000);
  auto low =
      Config::FromEnvironment({{"LLM_MAX_CONCURRENT", "1"}, {"LLM_MAX_REQUESTS_PER_MINUTE", "0"}});
  REQUIRE(low);
  CHECK(low->llm_max_concurrent == 1);
  CHECK(low->llm_max_requests_per_minute == 0);
  for (const char* bad : {"0", "-1", "100001", "9999999999999999999", "1e3", "8 ", "many"}) {
    CAPTURE(bad);
    auto c = Config::FromEnvironment({{"LLM_MAX_CONCURRENT", bad}});
    REQUIRE_FALSE(c);
    CHECK(Contains(c.error().message, "LLM_MAX_CONCURRENT"));
    CHECK(Contains(c.error().message, "from 1 to 100000"));
  }
  for (const char* bad : {"-1", "10000001", "60/min", "1.5", "lots"}) {
    CAPTURE(bad);
    auto c = Config::FromEnvironment({{"LLM_MAX_REQUESTS_PER_MINUTE", bad}});
    REQUIRE_FALSE(c);
    CHECK(Contains(c.error().message, "LLM_MAX_REQUESTS_PER_MINUTE"));
    CHECK(Contains(c.error().message, "up to 10000000"));
  }
}

TEST_CASE("a bad LLM_MAX_CONCURRENT or LLM_MAX_REQUESTS_PER_MINUTE stops start-up in one line") {
  std::string dir = MakeTempDir();
  for (auto [var, value] :
       {std::pair{"LLM_MAX_CONCURRENT", "0"}, std::pair{"LLM_MAX_REQUESTS_PER_MINUTE", "-60"}}) {
    CAPTURE(var);
    auto r = RunProcess(DepositbotBinary(), {"chat"}, {{var, value}}, dir, "hi\n");
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.err, var));
    CHECK(r.err.find('\n') == r.err.size() - 1);  // one line
    CHECK(r.out.empty());
  }
}

TEST_CASE("depositbot config prints the model limits") {
  std::string dir = MakeTempDir();
  auto r = RunProcess(DepositbotBinary(), {"config"},
                      {{"LLM_MAX_CONCURRENT", "64"}, {"DEPOSITBOT_DB", dir + "/unused.db"}}, dir);
  CAPTURE(r.out);
  CHECK(r.exit_code == 0);
  CHECK(std::regex_search(r.out, std::regex("LLM_MAX_CONCURRENT +64")));
  CHECK(std::regex_search(r.out, std::regex("LLM_MAX_REQUESTS_PER_MINUTE +0 \\(no limit\\)")));
}

TEST_CASE("the services describe the model capacity in one phrase") {
  std::string dir = MakeTempDir();
  auto offline = Config::FromEnvironment({{"DEPOSITBOT_DB", dir + "/a.db"}});
  REQUIRE(offline);
  auto s = Services::Create(*offline);
  REQUIRE(s);
  CHECK((*s)->ModelCapacity() == "model: offline, no provider limits");
  CHECK((*s)->model_gate() == nullptr);

  auto limited = Config::FromEnvironment({{"DEPOSITBOT_DB", dir + "/b.db"},
                                          {"LLM_API_KEY", "sk-test"},
                                          {"LLM_MAX_CONCURRENT", "8"},
                                          {"LLM_MAX_REQUESTS_PER_MINUTE", "600"}});
  REQUIRE(limited);
  auto t = Services::Create(*limited);
  REQUIRE(t);
  CHECK((*t)->ModelCapacity() == "model: at most 8 calls at once, at most 600 a minute");
  REQUIRE((*t)->model_gate() != nullptr);
  CHECK((*t)->model_gate()->options().max_concurrent == 8);

  auto defaults =
      Config::FromEnvironment({{"DEPOSITBOT_DB", dir + "/c.db"}, {"LLM_API_KEY", "sk-test"}});
  REQUIRE(defaults);
  auto u = Services::Create(*defaults);
  REQUIRE(u);
  CHECK((*u)->ModelCapacity() == "model: at most 1024 calls at once, no per-minute limit");
}

TEST_CASE("serve: a 429 from the model server slows every conversation, not only its own") {
  FakeLlmServer::Options o;
  o.default_reply = FakeLlmReply::Text("Noted, thank you.");
  FakeLlmServer llm(o);
  llm.Enqueue(FakeLlmReply::HttpError(429, "Rate limit reached for requests", "requests",
                                      "rate_limit_exceeded")
                  .WithHeader("Retry-After", "2"));
  Bot b(llm);
  b.Start();

  b.telegram.PushMessage(kAnna, kAnna.id, "hello, I have a question");
  REQUIRE(llm.WaitForRequests(1, seconds(20)));
  // Once serve has taken the 429 (the gate counts it), two other chats write.
  REQUIRE(b.WaitForMetric("depositbot_model_throttled_total", 1));
  b.telegram.PushMessage(kBoris, kBoris.id, "hi there");
  b.telegram.PushMessage(kChloe, kChloe.id, "good morning");

  CHECK(b.WaitForReply(kAnna.id, "Noted, thank you."));
  CHECK(b.WaitForReply(kBoris.id, "Noted, thank you."));
  CHECK(b.WaitForReply(kChloe.id, "Noted, thank you."));

  // Anna's retry and both other chats' first calls all came after the pause the server asked
  // for (2 s; the bound leaves room for the two processes' clocks, and has no upper side).
  auto requests = llm.Requests();
  REQUIRE(requests.size() == 4);
  const auto throttled_at = requests[0].received_at;
  for (size_t i = 1; i < requests.size(); ++i) {
    CAPTURE(i);
    CHECK(requests[i].received_at - throttled_at >= milliseconds(1500));
  }
  CHECK(b.Metric("depositbot_model_throttled_total") == 1);
  auto waits = b.Metric("depositbot_model_rate_limited_waits_total");
  REQUIRE(waits);
  CHECK(*waits >= 1);  // Anna's retry at least; Boris and Chloe unless they came very late
  CHECK(b.Metric("depositbot_model_in_flight") == 0);
  CHECK(b.Metric("depositbot_model_waiting") == 0);
  CHECK(b.Stop().exit_code == 0);
}
