// AdminAlertSender against the fake Telegram server: delivery recorded per admin, an admin who
// blocked the bot retried alone with backoff, an alert that reached nobody logged and counted.
#include "chat/admin_alert_sender.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>

#include "chat/telegram_client.h"
#include "common/metrics.h"
#include "db/alert_outbox.h"
#include "db/database.h"
#include "tests/fakes/fake_telegram_server.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/log_capture.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using namespace depositbot::testing;
using std::chrono::seconds;

namespace {

constexpr int64_t kGood = 900;
constexpr int64_t kBlocked = 901;

struct Fixture {
  FakeTelegramServer telegram;
  TestDb t;
  AlertOutbox outbox{t.db(), t.clock()};
  Metrics metrics;
  TestEnvironment env;  // the client's retry waits are recorded, not slept
  std::unique_ptr<TelegramClient> client;
  std::unique_ptr<AdminAlertSender> sender;

  explicit Fixture(std::set<int64_t> admins = {kGood, kBlocked}) {
    TelegramClient::Config c;
    c.api_base = telegram.url();
    c.token = telegram.token();
    c.pace_sends = false;
    auto r = TelegramClient::Create(c, env);
    REQUIRE(r);
    client = std::move(*r);
    sender = std::make_unique<AdminAlertSender>(*client, outbox,
                                                AdminAlertSender::Options{admins, 20}, &metrics);
  }

  AlertDeliveryPass Pass() {
    auto p = sender->DeliverDue();
    REQUIRE(p);
    return *p;
  }
  int SendsTo(int64_t chat) { return telegram.CallCountTo("sendMessage", chat); }
};

}  // namespace

TEST_CASE("an admin who blocked the bot fails alone: the other gets the alert once") {
  Fixture f;
  f.telegram.BlockChat(kBlocked);
  REQUIRE(f.outbox.Enqueue("reconcile:1", "⚠️ Reconciliation: user 1 <balance> differs"));

  auto first = f.Pass();
  CHECK(first.delivered == 1);
  CHECK(first.failed == 1);
  CHECK(first.undelivered == 0);
  auto sent = f.telegram.SentMessages();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].chat_id == kGood);
  CHECK(sent[0].text ==
        "⚠️ Reconciliation: user 1 <balance> differs");  // plain text, as queued
  CHECK(f.SendsTo(kBlocked) == 1);

  // Right after: nothing is due (the good admin has it, the blocked one waits its backoff).
  auto second = f.Pass();
  CHECK(second.delivered + second.failed == 0);

  // After the backoff only the blocked admin is tried again.
  f.t.clock().Advance(30'000);
  auto third = f.Pass();
  CHECK(third.delivered == 0);
  CHECK(third.failed == 1);
  CHECK(f.SendsTo(kBlocked) == 2);
  CHECK(f.SendsTo(kGood) == 1);

  std::string text = f.metrics.Render();
  CHECK(Contains(text, "depositbot_admin_alerts_delivered_total 1"));
  CHECK(Contains(text, "depositbot_admin_alert_delivery_failures_total{reason=\"forbidden\"} 2"));
  CHECK(Contains(text, "depositbot_admin_alerts_undelivered 0"));
  CHECK(QueryInt(f.t.db(), "SELECT attempts FROM admin_alert_deliveries WHERE admin_id = 901") ==
        2);
}

TEST_CASE("an alert that reached no admin is logged at error level and shown in the gauge") {
  Fixture f({kBlocked});
  f.telegram.BlockChat(kBlocked);
  REQUIRE(f.outbox.Enqueue("order:17:registered_after_refund", "order 17 registered after refund"));
  ScopedLogCapture err;
  auto pass = f.Pass();
  std::string log = err.Text();
  CHECK(pass.failed == 1);
  CHECK(pass.undelivered == 1);
  CHECK(Contains(log, "level=error event=admin_alert.reached_no_admin"));
  CHECK(Contains(log, "order:17:registered_after_refund"));
  CHECK(Contains(f.metrics.Render(), "depositbot_admin_alerts_undelivered 1"));
}

TEST_CASE("a failure that is not a block (a 500 after the retries) is retried as well") {
  Fixture f({kGood});
  f.telegram.InjectFault("sendMessage", FakeTelegramServer::Fault::InternalError(), 3);
  REQUIRE(f.outbox.Enqueue("reconcile:1", "books differ"));
  auto first = f.Pass();
  CHECK(first.failed == 1);
  CHECK(f.telegram.SentMessages().empty());
  f.t.clock().Advance(30'000);
  auto second = f.Pass();
  CHECK(second.delivered == 1);
  CHECK(f.telegram.SentMessages().size() == 1);
  f.t.clock().Advance(86'400'000);
  auto third = f.Pass();
  CHECK(third.delivered + third.failed == 0);
}
