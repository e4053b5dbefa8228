#include "db/reconciler.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "db/database.h"
#include "tests/fakes/ledger_builder.h"

using namespace depositbot;
using depositbot::testing::CheckBooks;
using depositbot::testing::LedgerBuilder;
using depositbot::testing::QueryInt;
using depositbot::testing::TestDb;

namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

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
  void Sql(const std::string& sql) { REQUIRE(t.db().Exec(sql)); }
  std::string Snapshot() {
    auto q = t.db().Prepare(
        "SELECT group_concat(x, ';') FROM (SELECT user_id || ':' || balance || ':' || version AS x "
        "FROM user_deposits UNION ALL SELECT id || ':' || status || ':' || amount "
        "FROM deposit_transactions UNION ALL SELECT id || ':' || telegram_id FROM users)");
    REQUIRE(q);
    REQUIRE(*q->Step());
    return q->ColumnText(0);
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
  REQUIRE(r.findings.size() == 1);
  CHECK(r.findings[0].balance == 7'000);
  CHECK(r.findings[0].ledger_sum == 8'000);
}

TEST_CASE("a negative balance is reported as such (and as a mismatch)") {
  Books k;
  auto alice = k.b.User(1001).Balance(100).Build();
  k.Sql("PRAGMA ignore_check_constraints = 1");
  k.Sql("UPDATE user_deposits SET balance = -50 WHERE user_id = " + std::to_string(alice.id));
  k.Sql("PRAGMA ignore_check_constraints = 0");
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
  k.Sql("PRAGMA foreign_keys = OFF");
  k.Sql("INSERT INTO deposit_transactions(user_id, type, amount, direction, status, created_at) "
        "VALUES (999, 'purchase', 40, -1, 'confirmed', 0)");
  k.Sql("PRAGMA foreign_keys = ON");
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
  k.Sql("PRAGMA foreign_keys = OFF");
  k.Sql("INSERT INTO user_deposits(user_id, balance, updated_at) VALUES (777, 2500, 0)");
  k.Sql("PRAGMA foreign_keys = ON");
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
