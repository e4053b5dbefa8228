// `depositbot serve` as a real process against the fake Telegram Bot API and
// the fake model server on loopback.
#include "app/serve.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <ctime>
#include <regex>

#include "db/database.h"
#include "tests/fakes/fake_llm_server.h"
#include "tests/fakes/fake_telegram_server.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/process_runner.h"
#include "tests/serve_bot.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using namespace depositbot::testing;
using nlohmann::json;
using std::chrono::seconds;

namespace {

using Bot = ServeBot;

}  // namespace

TEST_CASE("serve answers a balance question through long polling") {
  Bot b;
  b.Start();
  b.telegram.PushMessage(kAlice, kAlice.id, "/balance");
  auto m = b.WaitForMessage(kAlice.id, "Your balance is 0.00 USD.");
  CHECK(m.parse_mode == "HTML");
  auto r = b.Stop();
  CHECK(r.exit_code == 0);
  CHECK(b.Query("SELECT COUNT(*) FROM telegram_updates WHERE state = 'done'") == 1);
}

// The press runs DecisionHandler, as fixtures/admin/button-confirm.json's replayed press does:
// the admin reads on the button the sentence that fixture pins.
TEST_CASE("deposit request -> admin notified with buttons -> press -> user credited and told") {
  Bot b;
  b.Start();
  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 30 ALICE KIM");
  b.WaitForMessage(kAlice.id, "is recorded and pending");
  auto note = b.WaitForMessage(kAdmin.id, "New deposit request");
  CHECK(Contains(note.text, "30.00 USD"));
  CHECK(Contains(note.text, "ALICE KIM"));
  REQUIRE(note.reply_markup.is_object());
  b.telegram.PushCallback(kAdmin, note.message_id, CallbackData(note, 0));
  b.WaitForMessage(kAlice.id, "was confirmed. Your balance is now 30.00 USD");
  REQUIRE(b.telegram.WaitForEdits(1, seconds(20)));
  auto edit = b.telegram.Edits().at(0);
  CHECK(edit.message_id == note.message_id);
  CHECK(Contains(edit.text, "Confirmed by Admin"));
  REQUIRE(b.telegram.WaitForCallbackAnswers(1, seconds(20)));
  auto answer = b.telegram.CallbackAnswers().at(0);
  CHECK(answer.text ==
        "Deposit #1 of 30.00 USD confirmed for Alice. Their balance is now 30.00 USD.");
  CHECK_FALSE(answer.show_alert);
  CHECK(b.BalanceOf(kAlice.id) == 3000);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("a non-admin pressing the admin's button is refused and the books do not move") {
  Bot b;
  b.Start();
  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 30 ALICE");
  auto note = b.WaitForMessage(kAdmin.id, "New deposit request");
  b.telegram.PushCallback(kBob, note.message_id, CallbackData(note, 0));
  REQUIRE(b.telegram.WaitForCallbackAnswers(1, seconds(20)));
  auto answer = b.telegram.CallbackAnswers().at(0);
  CHECK(Contains(answer.text, "Only admins"));
  CHECK(answer.show_alert);
  CHECK(b.BalanceOf(kAlice.id) == 0);
  CHECK(b.Query("SELECT status = 'pending' FROM deposit_transactions WHERE id = 1") == 1);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("webhook: the same update delivered twice is handled once; a wrong secret gets 401") {
  Bot b;
  b.env["TELEGRAM_WEBHOOK_SECRET"] = "s3cret-token";
  b.Start({"--webhook"});
  std::string url = "http://127.0.0.1:" + std::to_string(b.http_port) + "/telegram/webhook";
  json balance = b.telegram.BuildMessageUpdate(kAlice, kAlice.id, "/balance");
  CHECK(b.telegram.DeliverViaWebhook(
            url, "wrong", b.telegram.BuildMessageUpdate(kAlice, kAlice.id, "/deposit 5 X")) == 401);
  CHECK(b.telegram.DeliverViaWebhook(url, "", balance) == 401);
  CHECK(b.telegram.DeliverViaWebhook(url, "s3cret-token", balance) == 200);
  CHECK(b.telegram.DeliverViaWebhook(url, "s3cret-token", balance) == 200);
  // Messages of one chat are handled in order: once /history is answered, a
  // second /balance would have been answered before it.
  CHECK(b.telegram.DeliverViaWebhook(
            url, "s3cret-token", b.telegram.BuildMessageUpdate(kAlice, kAlice.id, "/history")) ==
        200);
  b.WaitForMessage(kAlice.id, "no transactions yet");
  CHECK(b.Count(kAlice.id, "Your balance is") == 1);
  CHECK(b.Query("SELECT COUNT(*) FROM deposit_transactions") == 0);  // the 401 one never ran
  CHECK(b.Stop().exit_code == 0);
}

// A model's runaway answer is capped by the agent (issue 11, item 8); splitting a long text
// into several messages is pinned in telegram_client_test.
TEST_CASE("a 5,000-character model reply arrives as one message, cut at a line with a note") {
  Bot b;
  FakeLlmServer llm;
  std::string line(49, 'x');
  std::string text;
  for (int i = 0; i < 100; ++i) text += line + "\n";
  llm.Enqueue(FakeLlmReply::Text(text));
  b.env["LLM_BASE_URL"] = llm.url();
  b.env["LLM_API_KEY"] = "sk-test";
  b.Start();
  b.telegram.PushMessage(kAlice, kAlice.id, "tell me a long story");
  b.WaitForMessage(kAlice.id, "cut short");
  CHECK(b.Stop().exit_code == 0);
  auto sent = b.telegram.SentMessages();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].text.size() <= 4096);
  CHECK(sent[0].text.size() >= 3000);
  CHECK(sent[0].text.rfind(line + "\n" + line + "\n", 0) == 0);
  CHECK(sent[0].text.find(line + "\n(My answer was cut short here") != std::string::npos);
}

TEST_CASE("a 429 on sendMessage is waited out and the reply is delivered once") {
  Bot b;
  b.Start();
  b.telegram.InjectFault("sendMessage", FakeTelegramServer::Fault::TooManyRequests(1));
  b.telegram.PushMessage(kAlice, kAlice.id, "/balance");
  b.WaitForMessage(kAlice.id, "Your balance is");
  CHECK(b.telegram.CallCount("sendMessage") == 2);
  CHECK(b.Count(kAlice.id, "Your balance is") == 1);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("a user who blocked the bot is not retried and others are still served") {
  Bot b;
  b.Start();
  b.telegram.BlockChat(kAlice.id);
  b.telegram.PushMessage(kAlice, kAlice.id, "/balance");
  b.telegram.PushMessage(kBob, kBob.id, "/balance");
  b.WaitForMessage(kBob.id, "Your balance is");
  // Alice's chat runs on another worker: stopping drains it before counting.
  auto r = b.Stop();
  CHECK(b.telegram.CallCount("sendMessage") == 2);
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.err, "blocked"));
}

TEST_CASE("SIGTERM during a slow model call: the message is answered and serve exits 0") {
  Bot b;
  FakeLlmServer::Options o;
  o.delay = std::chrono::milliseconds(1500);
  o.default_reply = FakeLlmReply::Text("Thanks for waiting.");
  FakeLlmServer llm(o);
  b.env["LLM_BASE_URL"] = llm.url();
  b.env["LLM_API_KEY"] = "sk-test";
  b.Start();
  b.telegram.PushMessage(kAlice, kAlice.id, "hello there");
  REQUIRE(llm.WaitForRequests(1, seconds(20)));
  auto r = b.Stop();  // while the model is still answering
  CHECK(r.exit_code == 0);
  CHECK(b.Count(kAlice.id, "Thanks for waiting.") == 1);
}

TEST_CASE("serve exposes /healthz and /metrics") {
  Bot b;
  b.Start();
  b.telegram.PushMessage(kAlice, kAlice.id, "/balance");
  b.WaitForMessage(kAlice.id, "Your balance is");
  httplib::Client http("127.0.0.1", b.http_port);
  auto health = http.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  // The capacity an operator plans with: the in-flight cap, the model's limits, the pacing.
  CHECK(Contains(health->body,
                 "capacity: at most 1024 updates in flight (a turn waiting on "
                 "the model holds no thread); at most 64 handler threads"));
  CHECK(Contains(health->body, "\nwaiting_on_model: 0\n"));
  CHECK(Contains(health->body, "Telegram pacing 30 messages per 1000 ms overall"));
  // The reply can reach the fake before its update is marked done: 0 or 1 in flight here.
  CHECK(std::regex_search(health->body, std::regex("\nin_flight: [01] of 1024\n")));
  auto metrics = http.Get("/metrics");
  REQUIRE(metrics);
  CHECK(Contains(metrics->body, "depositbot_updates_received_total 1"));
  CHECK(Contains(metrics->body,
                 "depositbot_tool_calls_total{tool=\"manage_deposit\",outcome=\"ok\"} 1"));
  CHECK(Contains(metrics->body, "depositbot_ledger_version_conflicts 0"));
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("serve with a token Telegram rejects stops with one line naming the variable") {
  Bot b;
  b.env["TELEGRAM_BOT_TOKEN"] = "123:wrong";
  auto r = RunProcess(DepositbotBinary(), {"serve"}, b.env, b.dir);
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "TELEGRAM_BOT_TOKEN"));
  CHECK_FALSE(Contains(r.err, "123:wrong"));
}

TEST_CASE("a tampered balance raises one admin alert, not repeated, then reported resolved") {
  Bot b;
  REQUIRE(RunProcess(DepositbotBinary(), {"migrate"}, b.env, b.dir).exit_code == 0);
  {
    auto d = Database::Open(b.db);
    REQUIRE(d);
    REQUIRE(
        (*d)->Exec("INSERT INTO users(id, telegram_id, display_name, created_at) VALUES "
                   "(1, 1001, 'Alice', 0); INSERT INTO user_deposits(user_id, balance, "
                   "updated_at) VALUES (1, 500, 0);"));
  }
  auto first = RunProcess(DepositbotBinary(), {"reconcile", "--alert"}, b.env, b.dir);
  CHECK(first.exit_code == 1);
  auto alert = b.WaitForMessage(kAdmin.id, "Reconciliation");
  CHECK(Contains(alert.text, "5.00 USD"));
  auto second = RunProcess(DepositbotBinary(), {"reconcile", "--alert"}, b.env, b.dir);
  CHECK(second.exit_code == 1);
  CHECK(b.telegram.SentMessages().size() == 1);
  {
    auto d = Database::Open(b.db);
    REQUIRE((*d)->Exec("UPDATE user_deposits SET balance = 0"));
  }
  auto third = RunProcess(DepositbotBinary(), {"reconcile", "--alert"}, b.env, b.dir);
  CHECK(third.exit_code == 0);
  b.WaitForMessage(kAdmin.id, "Resolved");
  CHECK(b.telegram.SentMessages().size() == 2);
}

TEST_CASE("an admin who blocked the bot is retried alone; the other admin is alerted once") {
  const int64_t blocked = 901;
  Bot b;
  b.env["ADMIN_IDS"] = std::to_string(kAdmin.id) + "," + std::to_string(blocked);
  b.env["ALERT_RETRY_SECONDS"] = "1";
  b.telegram.BlockChat(blocked);
  REQUIRE(RunProcess(DepositbotBinary(), {"migrate"}, b.env, b.dir).exit_code == 0);
  {
    auto d = Database::Open(b.db);
    REQUIRE(d);
    REQUIRE(
        (*d)->Exec("INSERT INTO users(id, telegram_id, display_name, created_at) VALUES "
                   "(1, 1001, 'Alice', 0); INSERT INTO user_deposits(user_id, balance, "
                   "updated_at) VALUES (1, 500, 0);"));
  }
  b.Start();
  // Two reconciliation runs, each a process that queues what is new and sends what is due.
  CHECK(RunProcess(DepositbotBinary(), {"reconcile", "--alert"}, b.env, b.dir).exit_code == 1);
  CHECK(RunProcess(DepositbotBinary(), {"reconcile", "--alert"}, b.env, b.dir).exit_code == 1);
  // From here only serve sends: two more tries to the blocked admin mean serve finished (and
  // counted) at least one, and made at least two delivery passes after both runs.
  size_t tried = static_cast<size_t>(b.telegram.CallCountTo("sendMessage", blocked));
  CHECK(tried >= 1);
  REQUIRE(b.telegram.WaitForCallsTo("sendMessage", blocked, tried + 2, seconds(60)));

  auto alert = b.WaitForMessage(kAdmin.id, "Reconciliation");
  CHECK(Contains(alert.text, "5.00 USD"));
  CHECK(b.Count(kAdmin.id, "Reconciliation") == 1);
  CHECK(b.Count(blocked, "") == 0);
  CHECK(b.Query("SELECT COUNT(*) FROM admin_alerts") == 1);
  CHECK(b.Query("SELECT COUNT(*) FROM admin_alert_deliveries WHERE admin_id = 900 AND "
                "delivered_at IS NOT NULL") == 1);
  CHECK(b.Query("SELECT attempts FROM admin_alert_deliveries WHERE admin_id = 901") >=
        static_cast<int64_t>(tried + 1));

  httplib::Client http("127.0.0.1", b.http_port);
  auto metrics = http.Get("/metrics");
  REQUIRE(metrics);
  std::smatch m;
  REQUIRE(std::regex_search(
      metrics->body, m,
      std::regex(
          "depositbot_admin_alert_delivery_failures_total\\{reason=\"forbidden\"\\} ([0-9]+)")));
  CHECK(std::stoi(m[1].str()) >= 1);
  CHECK(Contains(metrics->body, "depositbot_admin_alerts_undelivered 0"));
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("serve delivers an admin alert another process queued") {
  Bot b;
  b.Start();
  {
    auto d = Database::Open(b.db);
    REQUIRE(d);
    REQUIRE(
        (*d)->Exec("INSERT INTO admin_alerts(alert_key, text, created_at) VALUES "
                   "('order:17:registered_after_refund', 'Order 17 <coolname.com> was "
                   "registered after its refund', " +
                   std::to_string(std::time(nullptr)) + ")"));
  }
  auto alert = b.WaitForMessage(kAdmin.id, "Order 17 <coolname.com> was registered");
  CHECK(alert.parse_mode.empty());  // plain text: the queued text is sent as it is
  CHECK(b.Stop().exit_code == 0);
  CHECK(b.Query("SELECT COUNT(*) FROM admin_alert_deliveries WHERE delivered_at IS NOT NULL") == 1);
}

TEST_CASE("serve --record writes a session that replays identically") {
  Bot b;
  std::string rec = b.dir + "/recordings";
  REQUIRE(std::system(("mkdir -p " + rec).c_str()) == 0);
  b.Start({"--record", rec});
  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 30 ALICE KIM");
  auto note = b.WaitForMessage(kAdmin.id, "New deposit request");
  b.telegram.PushCallback(kAdmin, note.message_id, CallbackData(note, 0));
  b.WaitForMessage(kAlice.id, "was confirmed");
  b.telegram.PushMessage(kAlice, kAlice.id, "/balance");
  b.WaitForMessage(kAlice.id, "Your balance is 30.00 USD.");
  REQUIRE(b.Stop().exit_code == 0);
  auto replay = RunProcess(DepositbotBinary(), {"replay", rec}, {}, b.dir);
  CAPTURE(replay.out);
  CHECK(replay.exit_code == 0);
  CHECK(Contains(replay.out, "1 passed, 0 failed"));
  auto listing = RunProcess("/bin/sh", {"-c", "cat " + rec + "/*.json"}, {}, b.dir);
  CHECK_FALSE(Contains(listing.out, b.telegram.token()));
}

TEST_CASE("SIGTERM while idle in a 25 s long poll aborts the poll and exits 0") {
  Bot b;
  b.poll_timeout = "25";
  b.Start();
  REQUIRE(b.telegram.WaitForHeldRequests(1, seconds(20)));
  auto r = b.Stop();
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.err, "drained=yes"));
  // The fake holds its poll for 25 s and never answered this one: serve is gone, so it
  // abandoned the poll instead of waiting it out.
  CHECK(b.telegram.HeldRequests() == 1);
  CHECK(b.telegram.CallCount("getUpdates") == 1);
}

TEST_CASE("an update in a poll cut off by SIGTERM is handled once, after the restart") {
  Bot b;
  b.poll_timeout = "25";
  b.telegram.PushMessage(kAlice, kAlice.id, "/balance");
  // The first getUpdates gets no answer while serve runs: SIGTERM finds it in flight.
  b.telegram.InjectFault("getUpdates", FakeTelegramServer::Fault::Hang());
  b.Start();
  REQUIRE(b.telegram.WaitForHeldRequests(1, seconds(20)));
  auto first = b.Stop();
  CHECK(first.exit_code == 0);
  CHECK(b.telegram.HeldRequests() == 1);   // abandoned, not waited out
  CHECK(b.telegram.CurrentOffset() == 0);  // nothing was confirmed
  CHECK(b.Query("SELECT COUNT(*) FROM telegram_updates") == 0);
  b.Start();
  b.WaitForMessage(kAlice.id, "Your balance is 0.00 USD.");
  CHECK(b.Stop().exit_code == 0);
  CHECK(b.Count(kAlice.id, "Your balance is") == 1);
  CHECK(b.Query("SELECT COUNT(*) FROM telegram_updates WHERE state = 'done'") == 1);
}

#ifdef DEPOSITBOT_FAILPOINTS
TEST_CASE("a drain that runs out of time exits 3; the next start tells the interrupted chat") {
  Bot b;
  b.env["DEPOSITBOT_FAILPOINT"] = "turn.before_reply=sleep:60000";
  b.Start({"--shutdown-seconds", "1"});
  b.telegram.PushMessage(kAlice, kAlice.id, "/balance");
  // "typing" is sent once the update is started: from here the worker is inside it, 60 s
  // away from finishing.
  REQUIRE(b.telegram.WaitForChatActions(1, seconds(20)));
  auto r = b.Stop();
  CHECK(r.signal == 0);
  CHECK(r.exit_code == kServeExitNotDrained);
  CHECK(Contains(r.err, "drained=no"));
  CHECK(b.Query("SELECT COUNT(*) FROM telegram_updates WHERE state = 'started'") == 1);
  CHECK(b.Count(kAlice.id, "Your balance is") == 0);

  b.env.erase("DEPOSITBOT_FAILPOINT");
  b.Start();
  b.WaitForMessage(kAlice.id, "I was interrupted while handling one of your requests");
  CHECK(b.Stop().exit_code == 0);
  CHECK(b.Count(kAlice.id, "Your balance is") == 0);  // not run twice
  CHECK(b.Query("SELECT COUNT(*) FROM telegram_updates WHERE state = 'abandoned'") == 1);
}
#endif

TEST_CASE("serve forgets handled updates older than INBOX_RETENTION_DAYS and keeps the rest") {
  Bot b;
  b.env["INBOX_RETENTION_DAYS"] = "7";
  REQUIRE(RunProcess(DepositbotBinary(), {"migrate"}, b.env, b.dir).exit_code == 0);
  const int64_t day = 86400;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  {
    auto d = Database::Open(b.db);
    REQUIRE(d);
    auto row = [&](int64_t id, const char* state, int64_t age_days) {
      int64_t at = now - age_days * day;
      REQUIRE(
          (*d)->Exec("INSERT INTO telegram_updates(update_id, chat_id, payload, state, "
                     "received_at, updated_at) VALUES (" +
                     std::to_string(id) + ", 1001, '{}', '" + state + "', " + std::to_string(at) +
                     ", " + std::to_string(at) + ")"));
    };
    row(1, "done", 8);
    row(2, "abandoned", 8);
    row(3, "done", 6);
    row(4, "abandoned", 6);
  }
  b.Start();
  CHECK(b.Query("SELECT COUNT(*) FROM telegram_updates WHERE update_id IN (1, 2)") == 0);
  CHECK(b.Query("SELECT COUNT(*) FROM telegram_updates WHERE update_id IN (3, 4)") == 2);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("a refused setWebhook stops serve with one line, not an abort") {
  Bot b;
  b.env["TELEGRAM_WEBHOOK_SECRET"] = "s3cret-token";
  b.telegram.InjectFault("setWebhook",
                         FakeTelegramServer::Fault::Error(400, "Bad Request: bad webhook"));
  auto r =
      RunProcess(DepositbotBinary(),
                 {"serve", "--webhook", "--webhook-url", "https://bot.example/hook"}, b.env, b.dir);
  CHECK(r.signal == 0);
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "setWebhook failed"));
}
