#include "db/reconciler.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "db/database.h"
#include "tests/fakes/ledger_builder.h"
#ifdef DEPOSITBOT_RECONCILE_E2E
#include "tests/fakes/fake_namecheap_server.h"
#include "tests/fakes/process_runner.h"
#include "tests/test_helpers.h"
#endif

using namespace depositbot;
using depositbot::testing::CheckBooks;
using depositbot::testing::CorruptBooks;
using depositbot::testing::JoinedRows;
using depositbot::testing::LedgerBuilder;
using depositbot::testing::QueryInt;
using depositbot::testing::TestDb;

namespace {

using depositbot::testing::Contains;

Currency Usd() { return *Currency::FromCode("USD"); }

struct Books {
  TestDb t;
  LedgerBuilder b{t.db(), t.clock()};
  Reconciler reconciler{t.db(), t.clock()};

  ReconciliationReport Run() {
    auto r = reconciler.Run();
    REQUIRE(r);
    return *r;
  }
  // One run that also compares orders with `registrar` (what the caller in app/ fetched).
  ReconciliationReport RunWith(RegistrarDomains registrar) {
    Reconciler with_registrar(t.db(), t.clock(), [registrar] { return registrar; });
    auto r = with_registrar.Run();
    REQUIRE(r);
    return *r;
  }
  int64_t Int(const std::string& sql) { return QueryInt(t.db(), sql); }
  void Sql(const std::string& sql) { REQUIRE(t.db().Exec(sql)); }
  std::string Snapshot() {
    return JoinedRows(t.db(),
                      "SELECT user_id || ':' || balance || ':' || version AS x FROM user_deposits "
                      "UNION ALL SELECT id || ':' || status || ':' || amount "
                      "FROM deposit_transactions UNION ALL SELECT id || ':' || telegram_id "
                      "FROM users");
  }
};

const Finding* FindKind(const std::vector<Finding>& findings, Finding::Kind kind) {
  for (const auto& f : findings) {
    if (f.kind == kind) return &f;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("clean books give a clean report and the run is recorded") {
  Books k;
  k.b.User(1001).Balance(50'000).Pending(30'000, "KIM").Purchase(2'000).Rejected(9, "X");
  k.b.User(1002).Balance(7).Build();
  auto r = k.Run();
  CHECK(r.clean());
  CHECK(r.users_checked == 2);
  CHECK(r.transactions_checked == 5);
  CHECK(r.run_id > 0);
  CHECK(r.started_at == testing::kTestEpochMillis / 1000);
  CHECK(r.new_or_changed.empty());
  CHECK(r.resolved.empty());
  CHECK(QueryInt(k.t.db(), "SELECT COUNT(*) FROM reconciliation_runs") == 1);
  CHECK(QueryInt(k.t.db(), "SELECT findings FROM reconciliation_runs") == 0);
  CHECK(QueryInt(k.t.db(), "SELECT COUNT(*) FROM reconciliation_findings") == 0);
}

TEST_CASE("an empty database is clean") {
  Books k;
  auto r = k.Run();
  CHECK(r.clean());
  CHECK(r.users_checked == 0);
}

TEST_CASE("a balance edited behind the repository's back is a balance mismatch with its figures") {
  Books k;
  auto alice = k.b.User(1001).Balance(10'000).Build();
  k.Sql("UPDATE user_deposits SET balance = 10500 WHERE user_id = " + std::to_string(alice.id));
  auto r = k.Run();
  REQUIRE(r.findings.size() == 1);
  const auto& f = r.findings[0];
  CHECK(f.kind == Finding::Kind::kBalanceMismatch);
  CHECK(f.user_id == alice.id);
  CHECK(f.telegram_id == 1001);
  CHECK(f.balance == 10'500);
  CHECK(f.ledger_sum == 10'000);
  CHECK(f.Difference() == 500);
  CHECK(Contains(f.Describe(Usd()), "difference 5.00 USD"));
  CHECK(r.new_or_changed.size() == 1);
  CHECK(QueryInt(k.t.db(), "SELECT COUNT(*) FROM reconciliation_findings WHERE run_id = " +
                               std::to_string(r.run_id)) == 1);
  CHECK_FALSE(CheckBooks(k.t.db()).ok());  // the independent checker agrees
}

TEST_CASE("a ledger row edited behind the repository's back is found too") {
  Books k;
  auto alice = k.b.User(1001).Balance(10'000).Purchase(3'000).Build();
  k.Sql("UPDATE deposit_transactions SET amount = 2000 WHERE id = " +
        std::to_string(alice.purchases[0]));
  auto r = k.Run();
  REQUIRE(r.findings.size() == 2);
  auto* mismatch = FindKind(r.findings, Finding::Kind::kBalanceMismatch);
  REQUIRE(mismatch);
  CHECK(mismatch->balance == 7'000);
  CHECK(mismatch->ledger_sum == 8'000);
  // The purchase no longer matches its order's price either.
  auto* order = FindKind(r.findings, Finding::Kind::kOrderPurchaseMismatch);
  REQUIRE(order);
  CHECK(order->balance == 3'000);
  CHECK(order->ledger_sum == 2'000);
}

TEST_CASE("a negative balance is reported as such (and as a mismatch)") {
  Books k;
  auto alice = k.b.User(1001).Balance(100).Build();
  CorruptBooks(k.t.db(), "UPDATE user_deposits SET balance = -50 WHERE user_id = " +
                             std::to_string(alice.id));
  auto r = k.Run();
  auto* neg = FindKind(r.findings, Finding::Kind::kNegativeBalance);
  REQUIRE(neg);
  CHECK(neg->balance == -50);
  CHECK(Contains(neg->Describe(Usd()), "negative balance -0.50 USD"));
  CHECK(FindKind(r.findings, Finding::Kind::kBalanceMismatch));
  CHECK(CheckBooks(k.t.db()).negative == std::vector<int64_t>{alice.id});
}

TEST_CASE("a ledger row whose user does not exist is an orphan transaction") {
  Books k;
  k.b.User(1001).Balance(100).Build();
  CorruptBooks(k.t.db(),
               "INSERT INTO deposit_transactions(user_id, type, amount, direction, status, "
               "created_at) VALUES (999, 'purchase', 40, -1, 'confirmed', 0)");
  auto r = k.Run();
  auto* f = FindKind(r.findings, Finding::Kind::kOrphanTransaction);
  REQUIRE(f);
  CHECK(f->user_id == 999);
  CHECK(f->transaction_id > 0);
  CHECK(f->ledger_sum == -40);
  CHECK(Contains(f->Describe(Usd()), "does not exist"));
}

TEST_CASE("a balance row whose user does not exist is an orphan account") {
  Books k;
  k.b.User(1001).Balance(100).Build();
  CorruptBooks(k.t.db(),
               "INSERT INTO user_deposits(user_id, balance, updated_at) VALUES (777, 2500, 0)");
  auto r = k.Run();
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].kind == Finding::Kind::kOrphanAccount);
  CHECK(r.findings[0].user_id == 777);
  CHECK(r.findings[0].balance == 2'500);
}

TEST_CASE("a user with ledger rows but no balance row is a missing account") {
  Books k;
  auto alice = k.b.User(1001).Balance(300).Build();
  k.Sql("DELETE FROM user_deposits WHERE user_id = " + std::to_string(alice.id));
  auto r = k.Run();
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].kind == Finding::Kind::kMissingAccount);
  CHECK(r.findings[0].ledger_sum == 300);
  CHECK(Contains(r.findings[0].Describe(Usd()), "no balance row"));
}

TEST_CASE("the reconciler never changes a balance or a ledger row") {
  Books k;
  auto alice = k.b.User(1001).Balance(10'000).Pending(5, "A").Build();
  k.Sql("UPDATE user_deposits SET balance = 1 WHERE user_id = " + std::to_string(alice.id));
  std::string before = k.Snapshot();
  for (int i = 0; i < 3; ++i) CHECK_FALSE(k.Run().clean());
  CHECK(k.Snapshot() == before);
}

TEST_CASE("a discrepancy seen again unchanged is not new; a changed one is") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Build();
  std::string id = std::to_string(alice.id);
  k.Sql("UPDATE user_deposits SET balance = 1100 WHERE user_id = " + id);
  CHECK(k.Run().new_or_changed.size() == 1);
  auto second = k.Run();
  CHECK(second.findings.size() == 1);
  CHECK(second.new_or_changed.empty());
  CHECK(second.resolved.empty());
  k.Sql("UPDATE user_deposits SET balance = 1200 WHERE user_id = " + id);
  auto third = k.Run();
  REQUIRE(third.new_or_changed.size() == 1);
  CHECK(third.new_or_changed[0].balance == 1'200);
}

TEST_CASE("a discrepancy that went away is reported as resolved once") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Build();
  std::string id = std::to_string(alice.id);
  k.Sql("UPDATE user_deposits SET balance = 1100 WHERE user_id = " + id);
  REQUIRE_FALSE(k.Run().clean());
  k.Sql("UPDATE user_deposits SET balance = 1000 WHERE user_id = " + id);
  auto fixed = k.Run();
  CHECK(fixed.clean());
  REQUIRE(fixed.resolved.size() == 1);
  CHECK(fixed.resolved[0].user_id == alice.id);
  CHECK(Contains(FormatReport(fixed, Usd()), "resolved since the last run"));
  CHECK(k.Run().resolved.empty());
}

TEST_CASE("several users with several kinds of findings are all listed") {
  Books k;
  auto a = k.b.User(1001).Balance(100).Build();
  auto b = k.b.User(1002).Balance(200).Build();
  k.b.User(1003).Balance(300).Build();
  k.Sql("UPDATE user_deposits SET balance = 0 WHERE user_id = " + std::to_string(a.id));
  k.Sql("DELETE FROM user_deposits WHERE user_id = " + std::to_string(b.id));
  auto r = k.Run();
  CHECK(r.users_checked == 3);
  REQUIRE(r.findings.size() == 2);
  CHECK(FindKind(r.findings, Finding::Kind::kBalanceMismatch)->user_id == a.id);
  CHECK(FindKind(r.findings, Finding::Kind::kMissingAccount)->user_id == b.id);
  CHECK(QueryInt(k.t.db(), "SELECT findings FROM reconciliation_runs WHERE id = " +
                               std::to_string(r.run_id)) == 2);
}

TEST_CASE("the text report says clean or lists each discrepancy") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Build();
  auto clean = k.Run();
  std::string text = FormatReport(clean, Usd());
  CHECK(Contains(text, "Reconciliation run #" + std::to_string(clean.run_id)));
  CHECK(Contains(text, "2026-01-01T00:00:00Z"));
  CHECK(Contains(text, "The books are clean"));
  k.Sql("UPDATE user_deposits SET balance = 1 WHERE user_id = " + std::to_string(alice.id));
  text = FormatReport(k.Run(), Usd());
  CHECK(Contains(text, "1 discrepancy found"));
  CHECK(Contains(text, "balance 0.01 USD, ledger sum 10.00 USD, difference -9.99 USD"));
}

TEST_CASE("the JSON report carries the figures of every finding") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Build();
  k.Sql("UPDATE user_deposits SET balance = 900 WHERE user_id = " + std::to_string(alice.id));
  auto r = k.Run();
  auto j = nlohmann::json::parse(ReportToJson(r, Usd()).dump());
  CHECK(j["clean"] == false);
  CHECK(j["currency"] == "USD");
  CHECK(j["run_id"] == r.run_id);
  CHECK(j["users_checked"] == 1);
  REQUIRE(j["findings"].size() == 1);
  CHECK(j["findings"][0]["kind"] == "balance_mismatch");
  CHECK(j["findings"][0]["balance"] == 900);
  CHECK(j["findings"][0]["ledger_sum"] == 1000);
  CHECK(j["findings"][0]["difference"] == -100);
  CHECK(j["new_or_changed"].size() == 1);
  CHECK(j["resolved"].is_array());
}

TEST_CASE("finding kinds have stable names") {
  CHECK(ToString(Finding::Kind::kBalanceMismatch) == "balance_mismatch");
  CHECK(ToString(Finding::Kind::kNegativeBalance) == "negative_balance");
  CHECK(ToString(Finding::Kind::kOrphanTransaction) == "orphan_transaction");
  CHECK(ToString(Finding::Kind::kOrphanAccount) == "orphan_account");
  CHECK(ToString(Finding::Kind::kMissingAccount) == "missing_account");
}

// ---- domain orders against the ledger and the registrar ----

namespace {

using State = DomainOrder::State;

std::string Id(int64_t id) { return std::to_string(id); }

// Every finding of `kind`.
std::vector<Finding> OfKind(const std::vector<Finding>& findings, Finding::Kind kind) {
  std::vector<Finding> out;
  for (const auto& f : findings) {
    if (f.kind == kind) out.push_back(f);
  }
  return out;
}

}  // namespace

TEST_CASE("orders in every state with the ledger rows their state implies are clean") {
  Books k;
  auto alice = k.b.User(1001)
                   .Balance(100'000)
                   .Order(State::kQuoted, 1'028)
                   .Order(State::kExpired, 1'028)
                   .Order(State::kCancelled, 1'028)
                   .Order(State::kCharged, 1'028)
                   .Order(State::kUnknown, 1'248)
                   .Order(State::kRegistered, 998, "coolname.com")
                   .Order(State::kRefunded, 3'998, "refused.io")
                   .Purchase(500)
                   .Build();
  CHECK(alice.orders.size() == 8);
  auto r = k.RunWith({std::vector<std::string>{"coolname.com", "order-8-8.com", "older.net"}, ""});
  CAPTURE(FormatReport(r, Usd()));
  CHECK(r.clean());
  CHECK(r.orders_checked == 8);
  CHECK(r.registrar_compared);
  CHECK(r.registrar_domains == 3);
  CHECK(Contains(FormatReport(r, Usd()), "every order its ledger rows"));
}

TEST_CASE("a paid order without its purchase row is found") {
  Books k;
  auto alice = k.b.User(1001).Balance(5'000).Build();
  k.Sql(
      "INSERT INTO domain_orders(user_id, domain, years, price, registrar_usd_micros, state, "
      "quote_expires_at, created_at, updated_at) VALUES (" +
      Id(alice.id) + ", 'free-lunch.com', 1, 1028, 10280000, 'registered', 0, 0, 0)");
  auto r = k.Run();
  REQUIRE(r.findings.size() == 1);
  const auto& f = r.findings[0];
  CHECK(f.kind == Finding::Kind::kOrderPurchaseMissing);
  CHECK(f.user_id == alice.id);
  CHECK(f.telegram_id == 1001);
  CHECK(f.domain == "free-lunch.com");
  CHECK(f.balance == 1'028);
  CHECK(f.ledger_sum == 0);
  CHECK(Contains(f.Describe(Usd()), "free-lunch.com"));
  CHECK(Contains(f.Describe(Usd()), "no confirmed purchase of 10.28 USD"));
}

TEST_CASE("a purchase row of another amount, or another user, than its order is found") {
  Books k;
  auto alice = k.b.User(1001).Balance(5'000).Order(State::kCharged, 1'028).Build();
  k.Sql("UPDATE domain_orders SET price = 1200 WHERE id = " + Id(alice.orders[0]));
  auto dearer = k.Run();
  REQUIRE(dearer.findings.size() == 1);
  CHECK(dearer.findings[0].kind == Finding::Kind::kOrderPurchaseMismatch);
  CHECK(dearer.findings[0].balance == 1'200);
  CHECK(dearer.findings[0].ledger_sum == 1'028);
  CHECK(Contains(dearer.findings[0].Describe(Usd()), "costs 12.00 USD"));
  k.Sql("UPDATE domain_orders SET price = 1028 WHERE id = " + Id(alice.orders[0]));
  CHECK(k.Run().clean());

  // Bob's money paid for Alice's order.
  auto carol = k.b.User(1003).Balance(5'000).Order(State::kQuoted, 700).Build();
  auto bob = k.b.User(1002).Balance(5'000).Purchase(700, OrderReference(carol.orders[0])).Build();
  k.Sql("UPDATE domain_orders SET state = 'charged', purchase_transaction_id = " +
        Id(bob.purchases[0]) + " WHERE id = " + Id(carol.orders[0]));
  auto r = k.Run();
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].kind == Finding::Kind::kOrderPurchaseMismatch);
  CHECK(r.findings[0].user_id == carol.id);
  CHECK(Contains(r.findings[0].Describe(Usd()), "belongs to user " + Id(bob.id)));
}

TEST_CASE("an order that is not refunded but whose purchase was refunded is found") {
  Books k;
  auto alice = k.b.User(1001).Balance(5'000).Order(State::kRefunded, 1'028, "both.com").Build();
  k.Sql("UPDATE domain_orders SET state = 'registered' WHERE id = " + Id(alice.orders[0]));
  auto r = k.Run();
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].kind == Finding::Kind::kOrderRefundUnexpected);
  CHECK(r.findings[0].ledger_sum == 1'028);
  CHECK(Contains(r.findings[0].Describe(Usd()), "both.com"));
  CHECK(Contains(r.findings[0].Describe(Usd()), "money back"));
}

TEST_CASE("a refunded order whose refund is missing or points elsewhere is found") {
  Books k;
  auto alice = k.b.User(1001).Balance(5'000).Order(State::kRegistered, 1'028, "kept.com").Build();
  k.Sql("UPDATE domain_orders SET state = 'refunded' WHERE id = " + Id(alice.orders[0]));
  auto missing = k.Run();
  REQUIRE(missing.findings.size() == 1);
  CHECK(missing.findings[0].kind == Finding::Kind::kOrderRefundMissing);
  CHECK(Contains(missing.findings[0].Describe(Usd()), "no confirmed refund of 10.28 USD"));

  auto bob = k.b.User(1002).Balance(5'000).Order(State::kRefunded, 998, "back.com").Build();
  k.Sql("UPDATE domain_orders SET refund_transaction_id = NULL WHERE id = " + Id(bob.orders[0]));
  auto r = k.Run();
  auto wrong = OfKind(r.findings, Finding::Kind::kOrderRefundMismatch);
  REQUIRE(wrong.size() == 1);
  CHECK(wrong[0].order_id == bob.orders[0]);
  CHECK(Contains(wrong[0].Describe(Usd()), "points at refund row #0"));
}

TEST_CASE("a quote that was never confirmed but has a purchase row is found") {
  Books k;
  auto alice = k.b.User(1001).Balance(5'000).Order(State::kCancelled, 700, "declined.com").Build();
  k.b.User(1001).Purchase(700, OrderReference(alice.orders[0]));
  auto r = k.Run();
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].kind == Finding::Kind::kUnconfirmedOrderCharged);
  CHECK(r.findings[0].ledger_sum == 700);
  CHECK(Contains(r.findings[0].Describe(Usd()), "never confirmed"));
}

TEST_CASE("a purchase row for an order that does not exist is found") {
  Books k;
  auto alice = k.b.User(1001).Balance(5'000).Purchase(300, "order:999").Build();
  k.b.User(1002).Balance(5'000).Order(State::kRegistered, 1'028);  // order 1: "order:001" != it
  k.b.User(1003).Balance(5'000).Purchase(400, "order:001");
  auto r = k.Run();
  auto orphans = OfKind(r.findings, Finding::Kind::kPurchaseWithoutOrder);
  REQUIRE(orphans.size() == 2);
  CHECK(orphans[0].transaction_id == alice.purchases[0]);
  CHECK(orphans[0].user_id == alice.id);
  CHECK(orphans[0].order_id == 999);
  CHECK(Contains(orphans[0].Describe(Usd()), "order #999, which does not exist"));
  CHECK(orphans[1].order_id == 1);
  CHECK(r.findings.size() == 2);
}

TEST_CASE("a refunded order whose name the registrar holds is found: a name given for free") {
  Books k;
  k.b.User(1001).Balance(5'000).Order(State::kRefunded, 1'028, "coolname.com");
  // A name refunded once and bought again later is explained by the later order.
  k.b.User(1002).Balance(5'000).Order(State::kRefunded, 998, "second-try.com");
  k.b.User(1003).Balance(5'000).Order(State::kRegistered, 998, "second-try.com");
  CHECK(k.Run().clean());  // without the registrar's list nothing shows
  auto r = k.RunWith({std::vector<std::string>{"CoolName.com", "second-try.com"}, ""});
  REQUIRE(r.findings.size() == 1);
  const auto& f = r.findings[0];
  CHECK(f.kind == Finding::Kind::kRefundedButRegistered);
  CHECK(f.domain == "coolname.com");
  CHECK(Contains(f.Describe(Usd()), "coolname.com"));
  CHECK(Contains(f.Describe(Usd()), "for free"));
  CHECK(Contains(FormatReport(r, Usd()), "coolname.com"));
}

TEST_CASE("a registered order the registrar does not list is found once the lag has passed") {
  Books k;
  k.b.User(1001).Balance(5'000).Order(State::kRegistered, 1'028, "vanished.com");
  RegistrarDomains empty{std::vector<std::string>{}, ""};
  CHECK(k.RunWith(empty).clean());  // just registered: the list may lag behind
  k.t.clock().Advance((Reconciler::kRegistrarLagSeconds + 1) * 1000);
  auto r = k.RunWith(empty);
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].kind == Finding::Kind::kRegisteredNotAtRegistrar);
  CHECK(Contains(r.findings[0].Describe(Usd()), "does not list vanished.com"));
  // After its term the name may rightly have left the account.
  k.t.clock().Advance(int64_t{400} * 86400 * 1000);
  CHECK(k.RunWith(empty).clean());
}

TEST_CASE("without the registrar's list the run still checks the ledger and says why") {
  Books k;
  k.b.User(1001).Balance(5'000).Order(State::kRefunded, 1'028, "coolname.com");
  auto r = k.RunWith({std::nullopt, "the namecheap domain list failed (timed out)"});
  CHECK(r.clean());
  CHECK_FALSE(r.registrar_compared);
  CHECK(r.registrar_not_compared == "the namecheap domain list failed (timed out)");
  CHECK(Contains(FormatReport(r, Usd()),
                 "not compared with the registrar: the namecheap domain list failed"));
  auto j = nlohmann::json::parse(ReportToJson(r, Usd()).dump());
  CHECK(j["registrar"]["compared"] == false);
}

TEST_CASE("an order finding is alerted once, again when it changes, and reported resolved") {
  Books k;
  auto alice = k.b.User(1001).Balance(5'000).Order(State::kCharged, 1'028, "alerted.com").Build();
  const std::string order = Id(alice.orders[0]);
  k.Sql("UPDATE domain_orders SET price = 1100 WHERE id = " + order);
  auto first = k.Run();
  REQUIRE(first.new_or_changed.size() == 1);
  auto delta = k.reconciler.PendingAlerts(first);
  REQUIRE(delta);
  REQUIRE(delta->new_or_changed.size() == 1);
  std::string alert = FormatAlert(*delta, Usd());
  CHECK(Contains(alert, "alerted.com"));
  CHECK(Contains(alert, "costs 11.00 USD"));
  REQUIRE(k.reconciler.MarkAlerted(*delta, Usd()));

  auto again = k.Run();
  CHECK(again.new_or_changed.empty());
  CHECK(k.reconciler.PendingAlerts(again)->empty());

  k.Sql("UPDATE domain_orders SET price = 1200 WHERE id = " + order);
  auto changed = k.Run();
  CHECK(changed.new_or_changed.size() == 1);
  auto changed_delta = k.reconciler.PendingAlerts(changed);
  REQUIRE(changed_delta->new_or_changed.size() == 1);
  REQUIRE(k.reconciler.MarkAlerted(*changed_delta, Usd()));

  k.Sql("UPDATE domain_orders SET price = 1028 WHERE id = " + order);
  auto fixed = k.Run();
  CHECK(fixed.clean());
  REQUIRE(fixed.resolved.size() == 1);
  CHECK(fixed.resolved[0].order_id == alice.orders[0]);
  CHECK(Contains(FormatReport(fixed, Usd()), "alerted.com"));
  auto resolved = k.reconciler.PendingAlerts(fixed);
  REQUIRE(resolved->resolved.size() == 1);
  CHECK(Contains(FormatAlert(*resolved, Usd()), "alerted.com"));
}

TEST_CASE("order findings carry the order and its name in the JSON report") {
  Books k;
  auto alice = k.b.User(1001).Balance(5'000).Order(State::kRegistered, 1'028, "json.com").Build();
  k.Sql("UPDATE domain_orders SET state = 'refunded' WHERE id = " + Id(alice.orders[0]));
  auto j = nlohmann::json::parse(ReportToJson(k.Run(), Usd()).dump());
  REQUIRE(j["findings"].size() == 1);
  CHECK(j["findings"][0]["kind"] == "order_refund_missing");
  CHECK(j["findings"][0]["order_id"] == alice.orders[0]);
  CHECK(j["findings"][0]["domain"] == "json.com");
  CHECK(j["orders_checked"] == 1);
}

TEST_CASE("the order finding kinds have stable names") {
  CHECK(ToString(Finding::Kind::kOrderPurchaseMissing) == "order_purchase_missing");
  CHECK(ToString(Finding::Kind::kOrderPurchaseMismatch) == "order_purchase_mismatch");
  CHECK(ToString(Finding::Kind::kOrderRefundUnexpected) == "order_refund_unexpected");
  CHECK(ToString(Finding::Kind::kOrderRefundMissing) == "order_refund_missing");
  CHECK(ToString(Finding::Kind::kOrderRefundMismatch) == "order_refund_mismatch");
  CHECK(ToString(Finding::Kind::kUnconfirmedOrderCharged) == "unconfirmed_order_charged");
  CHECK(ToString(Finding::Kind::kPurchaseWithoutOrder) == "purchase_without_order");
  CHECK(ToString(Finding::Kind::kRefundedButRegistered) == "refunded_but_registered");
  CHECK(ToString(Finding::Kind::kRegisteredNotAtRegistrar) == "registered_not_at_registrar");
}

#ifdef DEPOSITBOT_RECONCILE_E2E
// `depositbot reconcile` as a real process, asking the fake Namecheap for the account's list.
TEST_CASE("reconcile exits 1 naming a refunded order whose domain the registrar lists") {
  TestDb t(TestDb::kFile);
  {
    LedgerBuilder b(t.db(), t.clock());
    b.User(1001, "Alice").Balance(5'000).Order(State::kRefunded, 1'028, "coolname.com");
    b.User(1002, "Bob").Balance(5'000).Order(State::kRegistered, 998, "kept.com");
  }
  t.Close();
  testing::FakeNamecheapServer namecheap;
  namecheap.AddOwnedDomain("kept.com");
  auto env = namecheap.ProcessEnv();
  env["DEPOSITBOT_DB"] = t.path();

  auto clean = testing::RunProcess(testing::DepositbotBinary(), {"reconcile"}, env, t.dir());
  CAPTURE(clean.out);
  CAPTURE(clean.err);
  CHECK(clean.exit_code == 0);
  CHECK(Contains(clean.out, "compared with the registrar's list of 1 domains"));
  CHECK(namecheap.RequestCount("namecheap.domains.getList") == 1);

  // The refunded name shows up in the account: registered and refunded.
  namecheap.AddOwnedDomain("coolname.com");
  auto dirty = testing::RunProcess(testing::DepositbotBinary(), {"reconcile"}, env, t.dir());
  CAPTURE(dirty.out);
  CHECK(dirty.exit_code == 1);
  CHECK(Contains(dirty.out, "coolname.com"));
  CHECK(Contains(dirty.out, "was refunded 10.28 USD, yet the registrar's account holds"));
  CHECK_FALSE(Contains(dirty.out, "kept.com"));

  auto json =
      testing::RunProcess(testing::DepositbotBinary(), {"reconcile", "--json"}, env, t.dir());
  CHECK(json.exit_code == 1);
  auto j = nlohmann::json::parse(json.out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  REQUIRE(j["findings"].size() == 1);
  CHECK(j["findings"][0]["kind"] == "refunded_but_registered");
  CHECK(j["findings"][0]["domain"] == "coolname.com");
}

TEST_CASE("reconcile says it could not compare orders when the registrar's list fails") {
  TestDb t(TestDb::kFile);
  {
    LedgerBuilder b(t.db(), t.clock());
    b.User(1001, "Alice").Balance(5'000).Order(State::kRefunded, 1'028, "coolname.com");
  }
  t.Close();
  testing::FakeNamecheapServer namecheap;
  namecheap.AddOwnedDomain("coolname.com");
  for (int i = 0; i < 3; ++i) {
    namecheap.InjectFault("namecheap.domains.getList",
                          testing::FakeNamecheapServer::Fault::HttpStatus(503));
  }
  auto env = namecheap.ProcessEnv();
  env["DEPOSITBOT_DB"] = t.path();
  auto r = testing::RunProcess(testing::DepositbotBinary(), {"reconcile"}, env, t.dir());
  CAPTURE(r.out);
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "not compared with the registrar: the namecheap domain list failed"));

  // The demo registrar (no Namecheap settings) holds nothing real: no comparison, said so.
  std::map<std::string, std::string> demo_env{{"DEPOSITBOT_DB", t.path()}};
  auto demo = testing::RunProcess(testing::DepositbotBinary(), {"reconcile"}, demo_env, t.dir());
  CHECK(demo.exit_code == 0);
  CHECK(Contains(demo.out, "demo registrar"));
}
#endif
