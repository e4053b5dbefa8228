// AlertOutbox: admin alerts queued once per key and delivered per admin, a failed admin
// retried with backoff on a FixedClock; and the reconciler's alerts going through it.
#include "db/alert_outbox.h"

#include <doctest/doctest.h>

#include <barrier>
#include <thread>

#include "db/database.h"
#include "db/reconciler.h"
#include "tests/fakes/ledger_builder.h"

using namespace depositbot;
using depositbot::testing::LedgerBuilder;
using depositbot::testing::QueryInt;
using depositbot::testing::TestDb;

namespace {

constexpr int64_t kGood = 900;
constexpr int64_t kBlocked = 901;
const std::set<int64_t> kAdmins{kGood, kBlocked};

struct Outbox {
  TestDb t;
  AlertOutbox outbox{t.db(), t.clock()};

  int64_t Queue(const std::string& key, const std::string& text = "books differ") {
    auto q = outbox.Enqueue(key, text);
    REQUIRE(q);
    REQUIRE(*q);
    return QueryInt(t.db(), "SELECT id FROM admin_alerts WHERE alert_key = '" + key + "'");
  }
  std::vector<AlertDelivery> Due(const std::set<int64_t>& admins = kAdmins) {
    auto d = outbox.Due(admins, 100);
    REQUIRE_MESSAGE(d, (d ? std::string() : d.error().message));
    return *d;
  }
  std::set<int64_t> DueAdmins(int64_t alert_id) {
    std::set<int64_t> out;
    for (const auto& d : Due()) {
      if (d.alert.id == alert_id) out.insert(d.admin_id);
    }
    return out;
  }
  void Seconds(int64_t s) { t.clock().Advance(s * 1000); }
};

Currency Usd() { return *Currency::FromCode("USD"); }

}  // namespace

TEST_CASE("queuing the same key twice keeps one alert with the first text") {
  Outbox o;
  auto first = o.outbox.Enqueue("order:17:registered_after_refund", "first");
  REQUIRE(first);
  CHECK(*first);
  auto second = o.outbox.Enqueue("order:17:registered_after_refund", "second");
  REQUIRE(second);
  CHECK_FALSE(*second);
  CHECK(QueryInt(o.t.db(), "SELECT COUNT(*) FROM admin_alerts") == 1);
  auto due = o.Due();
  REQUIRE(due.size() == 2);  // one alert, two admins
  CHECK(due[0].alert.text == "first");
  CHECK(due[0].admin_id == kGood);
  CHECK(due[1].admin_id == kBlocked);
}

TEST_CASE("a queued alert is due to every admin, oldest alert first, up to the limit") {
  Outbox o;
  int64_t a = o.Queue("a");
  o.Seconds(1);
  int64_t b = o.Queue("b");
  auto due = o.Due();
  REQUIRE(due.size() == 4);
  CHECK(due[0].alert.id == a);
  CHECK(due[1].alert.id == a);
  CHECK(due[2].alert.id == b);
  CHECK(due[0].attempts == 0);
  auto limited = o.outbox.Due(kAdmins, 3);
  REQUIRE(limited);
  CHECK(limited->size() == 3);
  auto none = o.outbox.Due({}, 100);
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("delivery is recorded per admin: the one who got it is never sent it again") {
  Outbox o;
  int64_t id = o.Queue("reconcile:1");
  REQUIRE(o.outbox.MarkDelivered(id, kGood));
  REQUIRE(o.outbox.MarkFailed(id, kBlocked, "403 Forbidden: bot was blocked by the user"));
  CHECK(QueryInt(o.t.db(), "SELECT COUNT(*) FROM admin_alert_deliveries WHERE alert_id = " +
                               std::to_string(id) +
                               " AND admin_id = 900 AND delivered_at "
                               "IS NOT NULL") == 1);
  CHECK(QueryInt(o.t.db(), "SELECT attempts FROM admin_alert_deliveries WHERE admin_id = 901") ==
        1);
  // A day later the failed admin is due again, the good one never.
  o.Seconds(86400);
  CHECK(o.DueAdmins(id) == std::set<int64_t>{kBlocked});
  // A failure recorded late (say by a second process) does not undo a delivery.
  REQUIRE(o.outbox.MarkFailed(id, kGood, "late"));
  CHECK(o.DueAdmins(id) == std::set<int64_t>{kBlocked});
  CHECK(QueryInt(o.t.db(), "SELECT attempts FROM admin_alert_deliveries WHERE admin_id = 900") ==
        0);
}

TEST_CASE("a failed send is due again only after its backoff: 30 s doubling, capped at an hour") {
  Outbox o;
  int64_t id = o.Queue("reconcile:1");
  REQUIRE(o.outbox.MarkDelivered(id, kGood));
  int64_t expected_waits[] = {30, 60, 120, 240, 480, 960, 1920, 3600, 3600};
  for (int64_t wait : expected_waits) {
    REQUIRE(o.outbox.MarkFailed(id, kBlocked, "blocked"));
    o.Seconds(wait - 1);
    CHECK_MESSAGE(o.DueAdmins(id).empty(), "due before a wait of " << wait << " s");
    o.Seconds(1);
    auto due = o.Due();
    REQUIRE(due.size() == 1);
    CHECK(due[0].admin_id == kBlocked);
  }
  CHECK(o.Due()[0].attempts == 9);
}

TEST_CASE("the retry wait is taken from the options") {
  TestDb t;
  AlertOutbox::Options options;
  options.first_retry_seconds = 1;
  AlertOutbox outbox(t.db(), t.clock(), options);
  CHECK(outbox.RetryDelaySeconds(1) == 1);
  CHECK(outbox.RetryDelaySeconds(2) == 2);
  CHECK(outbox.RetryDelaySeconds(13) == 3600);
  CHECK(outbox.RetryDelaySeconds(1'000'000) == 3600);
}

TEST_CASE("a claimed pair is sent by one process only, and is due again if its sender dies") {
  Outbox o;
  int64_t id = o.Queue("reconcile:1");
  auto mine = o.outbox.Claim(id, kGood);
  REQUIRE(mine);
  CHECK(*mine);
  auto theirs = o.outbox.Claim(id, kGood);  // a second sender working from the same Due list
  REQUIRE(theirs);
  CHECK_FALSE(*theirs);
  CHECK(o.DueAdmins(id) == std::set<int64_t>{kBlocked});
  // Nothing recorded within the claim (the sender died mid-send): due again after it.
  o.Seconds(60);
  CHECK(o.DueAdmins(id) == kAdmins);
  REQUIRE(o.outbox.MarkDelivered(id, kGood));
  auto after = o.outbox.Claim(id, kGood);
  REQUIRE(after);
  CHECK_FALSE(*after);
}

TEST_CASE("an alert is undelivered until one admin got it; it reached no admin once all failed") {
  Outbox o;
  int64_t a = o.Queue("a");
  int64_t b = o.Queue("b");
  auto count = o.outbox.UndeliveredCount(kAdmins);
  REQUIRE(count);
  CHECK(*count == 2);
  REQUIRE(o.outbox.MarkFailed(a, kGood, "timeout"));
  auto nobody = o.outbox.ReachedNoAdmin(a, kAdmins);
  REQUIRE(nobody);
  CHECK_FALSE(*nobody);  // the other admin was not tried yet
  REQUIRE(o.outbox.MarkFailed(a, kBlocked, "blocked"));
  nobody = o.outbox.ReachedNoAdmin(a, kAdmins);
  REQUIRE(nobody);
  CHECK(*nobody);
  REQUIRE(o.outbox.MarkDelivered(b, kBlocked));
  count = o.outbox.UndeliveredCount(kAdmins);
  REQUIRE(count);
  CHECK(*count == 1);
  nobody = o.outbox.ReachedNoAdmin(b, kAdmins);
  REQUIRE(nobody);
  CHECK_FALSE(*nobody);
  // Delivered to someone no longer an admin does not count.
  count = o.outbox.UndeliveredCount({kGood});
  REQUIRE(count);
  CHECK(*count == 2);
}

TEST_CASE("an alert older than the retry window is not sent any more") {
  Outbox o;
  int64_t id = o.Queue("old");
  REQUIRE(o.outbox.MarkFailed(id, kBlocked, "blocked"));
  o.Seconds(7 * 86400 + 1);
  CHECK(o.Due().empty());
  auto count = o.outbox.UndeliveredCount(kAdmins);
  REQUIRE(count);
  CHECK(*count == 1);  // still shown as undelivered
}

TEST_CASE("a discrepancy is queued once and recorded as alerted before any send") {
  TestDb t;
  LedgerBuilder(t.db(), t.clock()).User(1001).Balance(500).Build();
  REQUIRE(t.db().Exec("UPDATE user_deposits SET balance = 700"));
  Reconciler reconciler(t.db(), t.clock());
  AlertOutbox outbox(t.db(), t.clock());
  for (int run = 0; run < 3; ++run) {
    auto report = reconciler.Run();
    REQUIRE(report);
    auto queued = reconciler.QueueAlerts(*report, Usd(), outbox);
    REQUIRE(queued);
    CHECK(queued->new_or_changed.size() == (run == 0 ? 1 : 0));
    // Recorded at queue time: nothing is pending although nobody was sent anything.
    auto pending = reconciler.PendingAlerts(*report);
    REQUIRE(pending);
    CHECK(pending->empty());
  }
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM admin_alerts") == 1);
  CHECK(QueryInt(t.db(),
                 "SELECT COUNT(*) FROM admin_alerts WHERE text LIKE "
                 "'%difference 2.00 USD%'") == 1);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM admin_alert_deliveries") == 0);
}

TEST_CASE("two reconcilers queuing the same report's delta queue one alert") {
  TestDb t(TestDb::kFile);
  LedgerBuilder(t.db(), t.clock()).User(1001).Balance(500).Build();
  REQUIRE(t.db().Exec("UPDATE user_deposits SET balance = 700"));
  auto other = t.OpenAnother();
  Reconciler mine(t.db(), t.clock()), theirs(*other, t.clock());
  AlertOutbox my_outbox(t.db(), t.clock()), their_outbox(*other, t.clock());
  auto r1 = mine.Run();
  auto r2 = theirs.Run();
  REQUIRE(r1);
  REQUIRE(r2);
  auto q1 = mine.QueueAlerts(*r1, Usd(), my_outbox);
  auto q2 = theirs.QueueAlerts(*r2, Usd(), their_outbox);
  REQUIRE(q1);
  REQUIRE(q2);
  CHECK(q1->new_or_changed.size() == 1);
  CHECK(q2->empty());
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM admin_alerts") == 1);
}

TEST_CASE("two processes reconciling at the same moment queue each new discrepancy once") {
  // Each round tampers with one more balance; both connections then reconcile and queue at
  // once. Whatever the interleaving, the round adds exactly one alert (DESIGN.md rule 6).
  TestDb t(TestDb::kFile);
  auto other = t.OpenAnother();
  Database* dbs[2] = {&t.db(), other.get()};
  LedgerBuilder builder(t.db(), t.clock());
  constexpr int kRounds = 60;
  int64_t extra_alerts = 0;
  for (int round = 0; round < kRounds; ++round) {
    auto user = builder.User(2000 + round).Balance(500).Build();
    REQUIRE(t.db().Exec("UPDATE user_deposits SET balance = 700 WHERE user_id = " +
                        std::to_string(user.id)));
    int64_t before = QueryInt(t.db(), "SELECT COUNT(*) FROM admin_alerts");
    std::barrier start(2);
    Result<AlertDelta> queued[2] = {Error::Internal("not run"), Error::Internal("not run")};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&, i] {
        Reconciler reconciler(*dbs[i], t.clock());
        AlertOutbox outbox(*dbs[i], t.clock());
        start.arrive_and_wait();
        auto report = reconciler.Run();
        if (!report) {
          queued[i] = report.error();
          return;
        }
        queued[i] = reconciler.QueueAlerts(*report, Usd(), outbox);
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& q : queued) CHECK_MESSAGE(q.ok(), (q ? std::string() : q.error().message));
    int64_t added = QueryInt(t.db(), "SELECT COUNT(*) FROM admin_alerts") - before;
    CAPTURE(round);
    CHECK(added == 1);
    if (added > 1) extra_alerts += added - 1;
  }
  CHECK(extra_alerts == 0);
}

TEST_CASE("a changed figure, a resolution and a discrepancy that comes back are each alerted") {
  TestDb t;
  LedgerBuilder(t.db(), t.clock()).User(1001).Balance(500).Build();
  Reconciler reconciler(t.db(), t.clock());
  AlertOutbox outbox(t.db(), t.clock());
  auto run_and_queue = [&] {
    auto report = reconciler.Run();
    REQUIRE(report);
    auto queued = reconciler.QueueAlerts(*report, Usd(), outbox);
    REQUIRE(queued);
    return *queued;
  };
  REQUIRE(t.db().Exec("UPDATE user_deposits SET balance = 700"));
  CHECK(run_and_queue().new_or_changed.size() == 1);
  REQUIRE(t.db().Exec("UPDATE user_deposits SET balance = 900"));
  CHECK(run_and_queue().new_or_changed.size() == 1);  // changed figures
  REQUIRE(t.db().Exec("UPDATE user_deposits SET balance = 500"));
  CHECK(run_and_queue().resolved.size() == 1);
  CHECK(run_and_queue().empty());
  REQUIRE(t.db().Exec("UPDATE user_deposits SET balance = 700"));
  CHECK(run_and_queue().new_or_changed.size() == 1);  // the first delta again, a new alert
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM admin_alerts") == 4);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM admin_alerts WHERE text LIKE '%Resolved%'") == 1);
}
