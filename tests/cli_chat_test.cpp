// `depositbot chat` and `depositbot recover` as real processes: the embedded
// defaults on a fresh directory, the purchase flow on the demo registrar, the
// real model client against the fake model server, and crashes at failpoints
// against the fake Namecheap server followed by recovery.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "db/database.h"
#include "tests/fakes/fake_llm_server.h"
#include "tests/fakes/fake_namecheap_server.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/process_runner.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using namespace depositbot::testing;

namespace {

struct Box {
  std::string dir = MakeTempDir();
  std::string db = dir + "/depositbot.db";

  ProcessResult Chat(const std::string& input, std::map<std::string, std::string> env = {},
                     std::vector<std::string> args = {}) {
    std::vector<std::string> all{"chat"};
    all.insert(all.end(), args.begin(), args.end());
    return RunProcess(DepositbotBinary(), all, env, dir, input);
  }
  ProcessResult Command(std::vector<std::string> args,
                        std::map<std::string, std::string> env = {}) {
    return RunProcess(DepositbotBinary(), args, env, dir);
  }
  int64_t Query(const std::string& sql) {
    auto d = Database::Open(db);
    REQUIRE(d);
    return QueryInt(**d, sql);
  }
  int64_t BalanceOf(int64_t telegram_id) {
    return Query(
        "SELECT d.balance FROM user_deposits d JOIN users u ON u.id = d.user_id "
        "WHERE u.telegram_id = " +
        std::to_string(telegram_id));
  }
  void ExpectBooksClean() {
    auto d = Database::Open(db);
    REQUIRE(d);
    auto books = CheckBooks(**d);
    CAPTURE(books.Describe());
    CHECK(books.ok());
    CHECK(IntegrityCheck(**d) == "ok");
  }
};

// Funds user 2 with `amount` through a deposit request confirmed by admin 1.
void Fund(Box& b, const std::string& amount, std::map<std::string, std::string> env = {}) {
  env["ADMIN_IDS"] = "1";
  auto req = b.Chat("/deposit " + amount + " USER TWO\n", env, {"--as", "2", "--name", "Two"});
  REQUIRE(req.exit_code == 0);
  int64_t id = b.Query("SELECT MAX(id) FROM deposit_transactions");
  auto ok = b.Chat("/confirm " + std::to_string(id) + "\n", env, {"--as", "1"});
  REQUIRE(ok.exit_code == 0);
  REQUIRE(Contains(ok.out, "confirmed"));
}

}  // namespace

TEST_CASE("chat on the embedded defaults answers and leaves a pending deposit") {
  Box b;
  auto r = b.Chat("what is my balance\n/deposit 30000 KIM MINJI\n/history\n");
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "offline model"));
  CHECK(Contains(r.out, "demo registrar"));
  CHECK(Contains(r.out, "Your balance is 0.00 USD."));
  CHECK(Contains(r.out, "Deposit #1 of 30,000.00 USD from KIM MINJI is recorded and pending"));
  CHECK(Contains(r.out, "#1 deposit 30,000.00 USD — pending"));
  CHECK(Contains(r.out, "Bye."));
  CHECK(b.Query("SELECT COUNT(*) FROM deposit_transactions WHERE status = 'pending' AND "
                "amount = 3000000 AND depositor_name = 'KIM MINJI'") == 1);
  CHECK(b.Query("SELECT balance FROM user_deposits") == 0);
}

TEST_CASE("chat shows the conversation only: log lines go to stderr with --verbose or to a file") {
  Box b;
  // A refused tool call logs a warning; a Korean amount with units is read (issue 16).
  const std::string input =
      "/deposit 1.000\xEB\xA7\x8C KIM\n/deposit 3\xEB\xA7\x8C 5\xEC\xB2\x9C"
      "\xEC\x9B\x90 KIM MINJI\n";
  const std::map<std::string, std::string> krw{{"CURRENCY", "KRW"}, {"USD_EXCHANGE_RATE", "1400"}};
  auto quiet = b.Chat(input, krw);
  CAPTURE(quiet.out);
  CAPTURE(quiet.err);
  CHECK(quiet.exit_code == 0);
  CHECK(Contains(quiet.out, "Did you mean 10,000,000 KRW or 10,000 KRW?"));
  CHECK(Contains(quiet.out, "Deposit #1 of 35,000 KRW from KIM MINJI"));
  CHECK_FALSE(Contains(quiet.out, "level="));
  CHECK_FALSE(Contains(quiet.err, "level="));

  auto verbose = b.Chat(input, krw, {"--verbose"});
  CHECK(Contains(verbose.err, "event=agent.tool_call"));
  CHECK_FALSE(Contains(verbose.out, "level="));

  auto to_file = b.Chat(input, krw, {"--log-file", b.dir + "/chat.log"});
  CHECK_FALSE(Contains(to_file.out + to_file.err, "level="));
  std::ifstream log(b.dir + "/chat.log");
  std::string logged((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK(Contains(logged, "event=agent.tool_call"));
}

TEST_CASE("chat: a bad configuration value stops start-up with one line naming it") {
  Box b;
  auto r = b.Chat("", {{"CURRENCY", "DOGE"}});
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "CURRENCY"));
  CHECK(r.out.empty());
}

TEST_CASE("chat on the defaults: look up, buy with enough balance, refuse with too little") {
  Box b;
  Fund(b, "20");
  auto r = b.Chat("is example.com free?\n/buy coolname.com\ny\n/buy othername.net\ny\n/balance\n",
                  {{"ADMIN_IDS", "1"}}, {"--as", "2"});
  CAPTURE(r.out);
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "example.com is taken."));
  CHECK(Contains(r.out, "coolname.com for 1 year costs 10.28 USD"));
  CHECK(Contains(r.out, "coolname.com is registered to you"));
  CHECK(Contains(r.out, "othername.net costs 12.48 USD but your balance is 9.72 USD"));
  CHECK(Contains(r.out, "Your balance is 9.72 USD."));
  CHECK(Contains(r.out, "demo registrar — nothing is really registered"));
  CHECK(b.Query("SELECT COUNT(*) FROM domain_orders WHERE state = 'registered'") == 1);
  CHECK(b.Query("SELECT COUNT(*) FROM domain_orders WHERE state = 'quoted'") == 1);
  b.ExpectBooksClean();
  CHECK(b.Command({"reconcile"}).exit_code == 0);
}

TEST_CASE("chat: answering anything but y to a quote buys nothing") {
  Box b;
  Fund(b, "20");
  auto r = b.Chat("/buy coolname.com\nno\n", {}, {"--as", "2"});
  CHECK(Contains(r.out, "Not bought; quote #1 cancelled."));
  CHECK(b.BalanceOf(2) == 2000);
  CHECK(b.Query("SELECT state = 'cancelled' FROM domain_orders WHERE id = 1") == 1);
}

TEST_CASE("chat with an LLM configured talks to the model server and runs its tool calls") {
  Box b;
  FakeLlmServer llm;
  llm.Enqueue(
      FakeLlmReply::ToolCalls({{"callBal01", "manage_deposit", R"({"action":"balance"})"}}));
  llm.Enqueue(FakeLlmReply::Text("You have 0.00 USD on your deposit."));
  auto r = b.Chat("how much money do I have?\n/balance\n",
                  {{"LLM_BASE_URL", llm.url()}, {"LLM_API_KEY", "sk-test"}});
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(Contains(r.out, "model gpt-4o-mini at " + llm.url()));
  CHECK(Contains(r.out, "You have 0.00 USD on your deposit."));
  CHECK(Contains(r.out, "Your balance is 0.00 USD."));  // the slash command did not reach the model
  CHECK(llm.RequestCount() == 2);
  CHECK(llm.Requests()[0].authorization == "Bearer sk-test");
}

TEST_CASE("chat --dry-run prints the request and its size without calling a model") {
  Box b;
  auto r = b.Chat("", {}, {"--dry-run", "what is my balance"});
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "\"manage_deposit\""));
  CHECK(Contains(r.out, "system prompt:"));
  CHECK(Contains(r.out, "tool schemas:"));
  CHECK(Contains(r.out, "tokens"));
}

TEST_CASE("chat --dry-run names the rate limit and the tokens the user spent today of the budget") {
  Box b;
  FakeLlmServer llm;
  llm.Enqueue(FakeLlmReply::Text("Hello!").WithUsage(50, 25));
  std::map<std::string, std::string> env = {
      {"LLM_BASE_URL", llm.url()}, {"LLM_API_KEY", "sk-test"},
      {"ADMIN_IDS", "9"},          {"USER_MESSAGES_PER_MINUTE", "30"},
      {"USER_MESSAGE_BURST", "5"}, {"USER_DAILY_MODEL_TOKENS", "5000"}};
  REQUIRE(Contains(b.Chat("hi\n", env, {"--as", "2"}).out, "Hello!"));

  auto user = b.Chat("", env, {"--as", "2", "--dry-run", "what is my balance"});
  CAPTURE(user.out);
  CHECK(user.exit_code == 0);
  CHECK(Contains(user.out, "rate limit:    30 messages a minute, bursts of 5 (per process)\n"));
  CHECK(Contains(user.out, "model budget:  75 of 5000 tokens used today ("));
  CHECK(Contains(user.out, "UTC); resets at 00:00 UTC, in "));
  CHECK(llm.RequestCount() == 1);  // the dry run called no model

  auto admin = b.Chat("", env, {"--as", "9", "--dry-run", "pending deposits"});
  CHECK(Contains(admin.out, "rate limit:    none: admins are exempt (ADMINS_EXEMPT_FROM_LIMITS)"));
  CHECK(Contains(admin.out, "model budget:  none: admins are exempt"));
}

#ifdef DEPOSITBOT_FAILPOINTS
// The fake registrar's settings, with user 1 as the admin who confirms deposits. Only the crash
// tests use it: outside this block a build without failpoints warns that it is unused.
namespace {
std::map<std::string, std::string> NamecheapEnv(const FakeNamecheapServer& fake) {
  auto env = fake.ProcessEnv();
  env["ADMIN_IDS"] = "1";
  return env;
}
}  // namespace

TEST_CASE("a crash after the debit, before the registrar call, is refunded by recover") {
  Box b;
  FakeNamecheapServer fake;
  auto env = NamecheapEnv(fake);
  Fund(b, "50", env);
  auto crash = env;
  crash["DEPOSITBOT_FAILPOINT"] = "purchase.after_debit=exit";
  auto r = b.Chat("/buy coolname.com\ny\n", crash, {"--as", "2"});
  CHECK(r.exit_code == 86);
  CHECK(b.Query("SELECT state = 'charged' FROM domain_orders WHERE id = 1") == 1);
  CHECK(b.BalanceOf(2) == 5000 - b.Query("SELECT price FROM domain_orders WHERE id = 1"));
  CHECK(fake.RequestCount("namecheap.domains.create") == 0);
  // By default recover leaves an order this young to a serve that may still be working on it.
  auto young = b.Command({"recover"}, env);
  CHECK(young.exit_code == 0);
  CHECK(Contains(young.out, "0 orders checked"));
  CHECK(b.Query("SELECT state = 'charged' FROM domain_orders WHERE id = 1") == 1);
  CHECK(fake.RequestCount("namecheap.domains.getInfo") == 0);
  auto rec = b.Command({"recover", "--min-age", "0"}, env);
  CAPTURE(rec.out);
  CHECK(rec.exit_code == 0);
  CHECK(Contains(rec.out, "1 refunded"));
  CHECK(b.Query("SELECT state = 'refunded' FROM domain_orders WHERE id = 1") == 1);
  CHECK(b.BalanceOf(2) == 5000);
  // A second recovery finds nothing more to do: no double refund.
  CHECK(Contains(b.Command({"recover", "--min-age", "0"}, env).out, "0 orders checked"));
  b.ExpectBooksClean();
}

TEST_CASE("a crash after the registrar registered, before the order update, is completed") {
  Box b;
  FakeNamecheapServer fake;
  auto env = NamecheapEnv(fake);
  Fund(b, "50", env);
  auto crash = env;
  crash["DEPOSITBOT_FAILPOINT"] = "purchase.after_create=exit";
  auto r = b.Chat("/buy coolname.com\ny\n", crash, {"--as", "2"});
  CHECK(r.exit_code == 86);
  CHECK(fake.RequestCount("namecheap.domains.create") == 1);
  auto rec = b.Command({"recover", "--min-age", "0"}, env);
  CHECK(Contains(rec.out, "1 registered"));
  CHECK(b.Query("SELECT state = 'registered' FROM domain_orders WHERE id = 1") == 1);
  CHECK(b.BalanceOf(2) == 5000 - b.Query("SELECT price FROM domain_orders WHERE id = 1"));
  b.ExpectBooksClean();
}

TEST_CASE("recover run beside a chat purchase in flight leaves the order to the chat") {
  // On 791c793 a recovery in another process (recover by hand, serve's start-up) refunded an
  // order whose registrar create was in flight; the create then registered the name.
  Box b;
  FakeNamecheapServer fake;
  auto env = NamecheapEnv(fake);
  Fund(b, "50", env);
  // The registration happens at receipt; the answer waits until the test releases it.
  fake.InjectFault("namecheap.domains.create", FakeNamecheapServer::Fault::Hang(true));
  ProcessResult bought;
  std::thread chat([&] { bought = b.Chat("/buy coolname.com\ny\n", env, {"--as", "2"}); });
  bool sent = false;
  for (int i = 0; i < 24 && !sent; ++i)
    sent = fake.AwaitRequestCount("namecheap.domains.create", 1);
  if (!sent) fake.ReleaseHangs();
  REQUIRE(sent);
  CHECK(b.Query("SELECT state = 'charged' AND create_sent_at IS NOT NULL FROM domain_orders "
                "WHERE id = 1") == 1);

  auto rec = b.Command({"recover", "--min-age", "0"}, env);
  CAPTURE(rec.out);
  CAPTURE(rec.err);
  CHECK(rec.exit_code == 0);
  CHECK(Contains(rec.out, "0 orders checked"));
  CHECK(Contains(rec.out, "1 left to the process executing them"));
  CHECK(b.Query("SELECT state = 'charged' FROM domain_orders WHERE id = 1") == 1);
  CHECK(b.Query("SELECT COUNT(*) FROM deposit_transactions WHERE type = 'refund'") == 0);
  CHECK(fake.RequestCount("namecheap.domains.getInfo") == 0);

  fake.ReleaseHangs();
  chat.join();
  CAPTURE(bought.out);
  CHECK(bought.exit_code == 0);
  CHECK(Contains(bought.out, "is registered to you"));
  CHECK(b.Query("SELECT state = 'registered' FROM domain_orders WHERE id = 1") == 1);
  CHECK(b.BalanceOf(2) == 5000 - b.Query("SELECT price FROM domain_orders WHERE id = 1"));
  CHECK(b.Query("SELECT COUNT(*) FROM deposit_transactions WHERE type = 'refund'") == 0);
  b.ExpectBooksClean();
}

TEST_CASE("a crash inside the ledger transaction before commit applies nothing") {
  Box b;
  auto req = b.Chat("/deposit 30 USER TWO\n", {}, {"--as", "2"});
  REQUIRE(req.exit_code == 0);
  auto r = b.Chat("/confirm 1\n",
                  {{"ADMIN_IDS", "1"}, {"DEPOSITBOT_FAILPOINT", "ledger.before_commit=exit"}},
                  {"--as", "1"});
  CHECK(r.exit_code == 86);
  CHECK(b.Query("SELECT status = 'pending' FROM deposit_transactions WHERE id = 1") == 1);
  CHECK(b.BalanceOf(2) == 0);
  // After the restart the confirmation goes through exactly once.
  auto again = b.Chat("/confirm 1\n/confirm 1\n", {{"ADMIN_IDS", "1"}}, {"--as", "1"});
  CHECK(Contains(again.out, "confirmed for"));
  CHECK(Contains(again.out, "already confirmed"));
  CHECK(b.BalanceOf(2) == 3000);
  b.ExpectBooksClean();
}

TEST_CASE("a crash after commit, before the reply, loses the reply but not the deposit") {
  Box b;
  auto r = b.Chat("/deposit 30 USER TWO\n", {{"DEPOSITBOT_FAILPOINT", "turn.before_reply=exit"}},
                  {"--as", "2"});
  CHECK(r.exit_code == 86);
  CHECK_FALSE(Contains(r.out, "Deposit #1"));
  CHECK(b.Query("SELECT COUNT(*) FROM deposit_transactions WHERE status = 'pending'") == 1);
  b.ExpectBooksClean();
}
#endif

TEST_CASE("a session recorded with chat --record against the model server replays identically") {
  Box b;
  FakeLlmServer llm;
  llm.Enqueue(FakeLlmReply::ToolCalls(
      {{"callDep01", "manage_deposit",
        R"({"action":"request_deposit","amount":"25","depositor_name":"KIM MINJI"})"}}));
  llm.Enqueue(FakeLlmReply::Text("Recorded deposit #1 of 25.00 USD; an admin will confirm it."));
  llm.Enqueue(
      FakeLlmReply::ToolCalls({{"callChk01", "check_domain", R"({"domains":["coolname.com"]})"}}));
  llm.Enqueue(FakeLlmReply::Text("coolname.com is free for 10.28 USD."));
  std::string file = b.dir + "/session.json";
  auto r = b.Chat("I sent 25 dollars as KIM MINJI\nis coolname.com free?\n/balance\n",
                  {{"LLM_BASE_URL", llm.url()}, {"LLM_API_KEY", "sk-secret-key-123"}},
                  {"--record", file});
  REQUIRE(r.exit_code == 0);
  std::ifstream in(file);
  std::string recorded((std::istreambuf_iterator<char>(in)), {});
  CHECK(Contains(recorded, "KIM MINJI"));
  CHECK_FALSE(Contains(recorded, "sk-secret-key-123"));
  CHECK_FALSE(Contains(recorded, "Authorization"));
  auto replay = RunProcess(DepositbotBinary(), {"replay", file}, {}, b.dir);
  CAPTURE(replay.out);
  CHECK(replay.exit_code == 0);
  CHECK(Contains(replay.out, "PASS"));
  CHECK(Contains(replay.out, "1 passed, 0 failed"));
}

TEST_CASE("a message refused by the rate limit is left out of a recording, which replays clean") {
  Box b;
  std::string file = b.dir + "/session.json";
  auto r =
      b.Chat("/balance\n/balance\n",
             {{"USER_MESSAGES_PER_MINUTE", "1"}, {"USER_MESSAGE_BURST", "1"}}, {"--record", file});
  REQUIRE(r.exit_code == 0);
  CHECK(Contains(r.out, "Your balance is 0.00 USD."));
  CHECK(Contains(r.out, "You are sending messages faster than I can answer."));
  std::ifstream in(file);
  auto recorded = nlohmann::json::parse(in);
  REQUIRE(recorded["turns"].size() == 1);
  CHECK(recorded["turns"][0]["say"] == "/balance");
  auto replay = RunProcess(DepositbotBinary(), {"replay", file}, {}, b.dir);
  CAPTURE(replay.out);
  CHECK(replay.exit_code == 0);
  CHECK(Contains(replay.out, "1 passed, 0 failed"));
}

TEST_CASE("chat: an admin's adjustment waits for y, and /export writes a CSV file here") {
  Box b;
  Fund(b, "30");
  std::map<std::string, std::string> admin{{"ADMIN_IDS", "1"}};
  auto no = b.Chat("/adjust 2 +5 goodwill\nn\n", admin, {"--as", "1"});
  CAPTURE(no.out);
  CHECK(Contains(no.out, "Apply adjustment #2 of +5.00 USD for Two? [y/N]"));
  CHECK(Contains(no.out, "was cancelled; the balance is unchanged"));
  CHECK(b.BalanceOf(2) == 3000);
  auto yes = b.Chat("/adjust 2 -1.25 bank fee\ny\n/export\n", admin, {"--as", "1"});
  CAPTURE(yes.out);
  CHECK(Contains(yes.out, "Adjustment #3 of -1.25 USD applied for Two."));
  CHECK(b.BalanceOf(2) == 3000 - 125);
  std::smatch m;
  const std::string out = yes.out;
  REQUIRE(std::regex_search(out, m, std::regex("Wrote (/\\S+\\.csv) \\(3 rows")));
  std::ifstream file(m[1].str(), std::ios::binary);
  REQUIRE(file);
  std::string csv((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  CHECK(m[1].str().rfind(b.dir + "/ledger-all-", 0) == 0);
  CHECK(Contains(csv, ",2,Two,adjustment,confirmed,debit,-1.25,USD,,,bank fee,1,,1\r\n"));
  CHECK(Contains(csv, ",2,Two,adjustment,cancelled,credit,5.00,USD,,,goodwill,1,,1\r\n"));
  // A user is refused and nothing is written.
  auto user = b.Chat("/export\n", admin, {"--as", "2"});
  CHECK(Contains(user.out, "Sorry, only admins can do that."));
  CHECK(!Contains(user.out, "Wrote"));
  b.ExpectBooksClean();
}
