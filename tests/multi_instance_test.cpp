// Two `depositbot serve --webhook` processes behind a load balancer on one database (issue 14):
// SQLite here, PostgreSQL in the _pg run. The fake Telegram delivers each update to one of them
// in turn, some to both.
#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "common/failpoint.h"
#include "tests/fakes/fake_llm_server.h"
#include "tests/fakes/fake_telegram_server.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/process_runner.h"
#include "tests/serve_bot.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using namespace depositbot::testing;

namespace {

constexpr char kSecret[] = "two-instances-secret";

struct Instance {
  std::unique_ptr<ChildProcess> proc;
  int port = 0;
  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(port) + "/telegram/webhook";
  }
  std::string Get(const std::string& path) const {
    httplib::Client http("127.0.0.1", port);
    auto r = http.Get(path);
    REQUIRE(r);
    return r->body;
  }
  // The value of the unlabelled series `name` on /metrics (0 when absent).
  int64_t Metric(const std::string& name) const {
    std::smatch m;
    const std::string body = Get("/metrics");
    if (!std::regex_search(body, m, std::regex("\n" + name + " ([0-9]+)\n"))) return 0;
    return std::stoll(m[1].str());
  }
};

struct TwoInstances {
  TestDb t{TestDb::kFile};
  FakeTelegramServer telegram;
  FakeLlmServer llm{EchoModel()};
  std::map<std::string, std::string> env;

  TwoInstances() {
    env = {{"TELEGRAM_BOT_TOKEN", telegram.token()},
           {"TELEGRAM_API_BASE", telegram.url()},
           {"TELEGRAM_WEBHOOK_SECRET", kSecret},
           {"ADMIN_IDS", std::to_string(kAdmin.id)},
           {"HTTP_LISTEN", "127.0.0.1:0"},
           {"DEPOSITBOT_DB", t.path()},
           {"LLM_BASE_URL", llm.url()},
           {"LLM_API_KEY", "sk-test"},
           {"RECONCILE_INTERVAL_SECONDS", "60"}};
  }

  // A `serve --webhook` (or, with `polling`, a long-polling serve).
  Instance Start(const std::map<std::string, std::string>& extra = {}, bool polling = false) {
    auto e = env;
    for (const auto& [k, v] : extra) e[k] = v;
    std::vector<std::string> args{"serve", "--takeover-seconds", "1"};
    if (polling) {
      args.insert(args.end(), {"--poll-timeout", "1"});
    } else {
      args.push_back("--webhook");
    }
    Instance i;
    i.proc = std::make_unique<ChildProcess>(DepositbotBinary(), args, e, t.dir());
    std::string line = i.proc->ReadUntil("depositbot serving");
    REQUIRE_MESSAGE(!line.empty(), i.proc->Wait().err);
    std::smatch m;
    REQUIRE(std::regex_search(line, m, std::regex("http port ([0-9]+)")));
    i.port = std::stoi(m[1].str());
    return i;
  }

  void Deliver(const Instance& i, const nlohmann::json& update) {
    REQUIRE(telegram.DeliverViaWebhook(i.Url(), kSecret, update) == 200);
  }

  std::vector<std::string> TextsTo(int64_t chat) {
    std::vector<std::string> texts;
    for (const auto& m : telegram.SentMessages()) {
      if (m.chat_id == chat) texts.push_back(m.text);
    }
    return texts;
  }

  FakeSentMessage WaitFor(int64_t chat, const std::string& part) {
    return WaitForMessageTo(telegram, chat, part);
  }

  int Count(int64_t chat, const std::string& part) {
    int n = 0;
    for (const auto& m : telegram.SentMessages()) n += m.chat_id == chat && Contains(m.text, part);
    return n;
  }
};

std::string Backend() { return TestOnPostgres() ? "postgresql" : "sqlite"; }

}  // namespace

TEST_CASE("two instances handle each update once, each chat in order, and one runs the jobs") {
  TwoInstances p;
  // A discrepancy in the books before the start: the holder of the jobs alerts it.
  LedgerBuilder lb(p.t.db(), p.t.clock());
  auto carol = lb.User(4001, "Carol").Balance(10'000).Build();
  CorruptBooks(p.t.db(), "UPDATE user_deposits SET balance = 12345 WHERE user_id = " +
                             std::to_string(carol.id));
  Instance a = p.Start();
  p.WaitFor(kAdmin.id, "Reconciliation: 1 discrepanc");
  Instance b = p.Start();
  // One holds the jobs; the other stands by.
  CHECK(Contains(a.Get("/healthz"), "database: " + Backend() + "\n"));
  CHECK(Contains(a.Get("/healthz"), "jobs: held by this instance\n"));
  CHECK(Contains(b.Get("/healthz"), "jobs: standby\n"));
  CHECK(a.Metric("depositbot_jobs_leader") == 1);
  CHECK(b.Metric("depositbot_jobs_leader") == 0);

  // Four chats, six messages each, sent to A and B in turn; every third also to the other one
  // (the load balancer retried it). Telegram sends a chat's updates one after another.
  constexpr int kChats = 4, kMessages = 6;
  for (int i = 0; i < kMessages; ++i) {
    for (int c = 0; c < kChats; ++c) {
      const int64_t chat = 30001 + c;
      auto update = p.telegram.BuildMessageUpdate(UserFor(chat), chat, "m" + std::to_string(i));
      const bool to_a = (i + c) % 2 == 0;
      p.Deliver(to_a ? a : b, update);
      if (i % 3 == 2) p.Deliver(to_a ? b : a, update);
    }
  }
  for (int c = 0; c < kChats; ++c) {
    const int64_t chat = 30001 + c;
    p.WaitFor(chat, "echo: m" + std::to_string(kMessages - 1));
    std::vector<std::string> want;
    for (int i = 0; i < kMessages; ++i) want.push_back("echo: m" + std::to_string(i));
    CHECK(p.TextsTo(chat) == want);  // each once, in the order sent
  }
  // Both served: neither forwarded everything to the other.
  CHECK(a.Metric("depositbot_updates_handled_total") > 0);
  CHECK(b.Metric("depositbot_updates_handled_total") > 0);
  CHECK(b.Metric("depositbot_reconciliation_runs_total") == 0);  // the standby ran no job

  // A stops; B takes the jobs over and checks the books at once: the same discrepancy is not
  // alerted a second time.
  a.proc->Signal(SIGTERM);
  CHECK(a.proc->Wait().exit_code == 0);
  for (int i = 0; i < 60 && b.Metric("depositbot_reconciliation_runs_total") < 1; ++i) {
    REQUIRE_FALSE(p.telegram.WaitForSentMessages(p.telegram.SentMessages().size() + 1,
                                                 std::chrono::milliseconds(500)));
  }
  REQUIRE(b.Metric("depositbot_reconciliation_runs_total") >= 1);
  CHECK(Contains(b.Get("/healthz"), "jobs: held by this instance\n"));
  CHECK(b.Metric("depositbot_reconciliation_findings") == 1);
  CHECK(p.Count(kAdmin.id, "Reconciliation") == 1);
  CHECK(p.TextsTo(kAdmin.id).size() == 1);
  b.proc->Signal(SIGTERM);
  CHECK(b.proc->Wait().exit_code == 0);
  // Drained: every update was recorded once and handled (a reply can reach Telegram a moment
  // before its update is marked done, so this is counted after both stopped).
  CHECK(QueryInt(p.t.db(), "SELECT COUNT(*) FROM telegram_updates WHERE state = 'done'") ==
        kChats * kMessages);
  CHECK(QueryInt(p.t.db(), "SELECT COUNT(*) FROM telegram_updates") == kChats * kMessages);
}

TEST_CASE("in long-polling mode one instance polls; when it dies the other takes the poll over") {
  TwoInstances p;
  p.env["RECONCILE_INTERVAL_SECONDS"] = "0";
  Instance a = p.Start({}, true);
  Instance b = p.Start({}, true);
  // Telegram answers 409 to a second poller: only one polls, the other stands by.
  CHECK(Contains(a.Get("/healthz"), "polling: this instance\n"));
  CHECK(Contains(b.Get("/healthz"), "polling: standby\n"));
  CHECK(b.Metric("depositbot_poll_leader") == 0);
  const FakeTelegramUser dave = UserFor(6001);
  p.telegram.PushMessage(dave, dave.id, "first");
  p.WaitFor(dave.id, "echo: first");
  CHECK(a.Metric("depositbot_updates_received_total") == 1);
  CHECK(b.Metric("depositbot_updates_received_total") == 0);
  // The reply goes out before the turn's last commits; the kill comes once A recorded it done
  // (a kill before that is a crash mid-update, which another test covers).
  for (int i = 0; i < 100 && a.Metric("depositbot_updates_handled_total") < 1; ++i) {
    REQUIRE_FALSE(p.telegram.WaitForSentMessages(p.telegram.SentMessages().size() + 1,
                                                 std::chrono::milliseconds(100)));
  }
  REQUIRE(a.Metric("depositbot_updates_handled_total") == 1);

  a.proc->Signal(SIGKILL);  // the poller's machine dies
  a.proc->Wait();
  p.telegram.PushMessage(dave, dave.id, "second");
  p.WaitFor(dave.id, "echo: second");
  CHECK(Contains(b.Get("/healthz"), "polling: this instance\n"));
  CHECK(b.Metric("depositbot_poll_leader") == 1);
  const auto texts = p.TextsTo(dave.id);
  const std::vector<std::string> want{"echo: first", "echo: second"};
  CHECK(texts == want);
  b.proc->Signal(SIGTERM);
  CHECK(b.proc->Wait().exit_code == 0);
}

#ifdef DEPOSITBOT_FAILPOINTS
TEST_CASE(
    "when the instance holding the jobs dies mid-purchase, the other takes them over and "
    "settles the purchase once") {
  TwoInstances p;
  p.env["RECONCILE_INTERVAL_SECONDS"] = "0";
  LedgerBuilder lb(p.t.db(), p.t.clock());
  auto alice = lb.User(5001, "Alice").Balance(50'000'000).Build();
  const FakeTelegramUser kAlice = UserFor(5001);
  // A dies right after it debits the purchase, before the registrar hears of it.
  Instance a = p.Start({{"DEPOSITBOT_FAILPOINT", "purchase.after_debit=exit"}});
  Instance b = p.Start();
  CHECK(Contains(a.Get("/healthz"), "jobs: held by this instance\n"));

  // The quote and the press both go to A: a press that reached A while B still held the chat's
  // earlier update would be handed on to B, which has no failpoint (per-chat order).
  p.Deliver(a, p.telegram.BuildMessageUpdate(kAlice, kAlice.id, "/buy handover-test.com"));
  auto quote = p.WaitFor(kAlice.id, "Buy <b>handover-test.com</b>");
  const int64_t order =
      QueryInt(p.t.db(), "SELECT id FROM domain_orders WHERE domain = 'handover-test.com'");
  // A may die before its answer to this delivery is written: no answer (0) is what Telegram
  // would see then, and it would deliver the update again (recorded already: skipped).
  const int code = p.telegram.DeliverViaWebhook(
      a.Url(), kSecret,
      p.telegram.BuildCallbackUpdate(kAlice, quote.message_id, "buy:c:" + std::to_string(order)));
  CHECK((code == 200 || code == 0));
  const auto died = std::chrono::steady_clock::now();
  CHECK(a.proc->Wait().exit_code == kFailpointExitCode);
  CHECK(QueryInt(p.t.db(), "SELECT COUNT(*) FROM domain_orders WHERE state = 'charged'") == 1);

  // B takes the jobs over: it settles the purchase A left (its lease holder is gone), then tells
  // Alice that the request A was handling was interrupted.
  p.WaitFor(kAlice.id, "I was interrupted");
  const auto told = std::chrono::steady_clock::now();
  MESSAGE("jobs taken over and settled "
          << std::chrono::duration_cast<std::chrono::milliseconds>(told - died).count()
          << " ms after the holder died (--takeover-seconds 1)");
  CHECK(Contains(b.Get("/healthz"), "jobs: held by this instance\n"));
  CHECK(b.Metric("depositbot_jobs_takeovers_total") == 1);
  CHECK(QueryInt(p.t.db(), "SELECT COUNT(*) FROM domain_orders WHERE id = " +
                               std::to_string(order) + " AND state = 'refunded'") == 1);
  CHECK(QueryInt(p.t.db(), "SELECT COUNT(*) FROM deposit_transactions WHERE type = 'refund'") == 1);
  CHECK(QueryInt(p.t.db(), "SELECT balance FROM user_deposits WHERE user_id = " +
                               std::to_string(alice.id)) == 50'000'000);
  CHECK(CheckBooks(p.t.db()).ok());
  CHECK(p.Count(kAlice.id, "I was interrupted") == 1);

  // The chat goes on on B; a restart of A later finds nothing left to settle or tell.
  p.Deliver(b, p.telegram.BuildMessageUpdate(kAlice, kAlice.id, "still there?"));
  p.WaitFor(kAlice.id, "echo: still there?");
  Instance again = p.Start();
  CHECK(Contains(again.Get("/healthz"), "jobs: standby\n"));
  p.Deliver(again, p.telegram.BuildMessageUpdate(kAlice, kAlice.id, "and now?"));
  p.WaitFor(kAlice.id, "echo: and now?");
  CHECK(p.Count(kAlice.id, "I was interrupted") == 1);
  CHECK(QueryInt(p.t.db(), "SELECT COUNT(*) FROM deposit_transactions WHERE type = 'refund'") == 1);
  again.proc->Signal(SIGTERM);
  CHECK(again.proc->Wait().exit_code == 0);
  b.proc->Signal(SIGTERM);
  CHECK(b.proc->Wait().exit_code == 0);
}
#endif
