#include "db/deposit_repository.h"

#include <doctest/doctest.h>

#include <climits>

#include "db/database.h"
#include "db/sqlite_store_transaction.h"
#include "db/user_repository.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using depositbot::testing::BuiltUser;
using depositbot::testing::CheckBooks;
using depositbot::testing::JoinedRows;
using depositbot::testing::LedgerBuilder;
using depositbot::testing::QueryInt;
using depositbot::testing::TestDb;

namespace {

constexpr int64_t kAdmin = 777;

using depositbot::testing::Contains;

// Retries without waiting: the environment records the sleeps.
struct RecordedRetry {
  TestEnvironment env;
  RetryPolicy Policy(int max_attempts = 3) {
    RetryPolicy p;
    p.max_attempts = max_attempts;
    p.base_backoff = std::chrono::microseconds(1000);
    return p;
  }
  std::vector<std::chrono::microseconds> Sleeps() const { return env.Sleeps(); }
};

// A migrated database, a builder, and the repository under test.
struct Books {
  explicit Books(TestDb::Kind kind = TestDb::kMemory, int max_attempts = 3)
      : t(kind),
        b(t.db(), t.clock()),
        repo(t.db(), t.clock(), retry.Policy(max_attempts), retry.env) {}
  TestDb t;
  LedgerBuilder b;
  RecordedRetry retry;
  DepositRepository repo;

  int64_t Balance(int64_t user) { return repo.GetAccount(user)->balance; }
  int64_t Version(int64_t user) { return repo.GetAccount(user)->version; }
  int64_t LedgerRows() { return QueryInt(t.db(), "SELECT COUNT(*) FROM deposit_transactions"); }
  // Everything a refused operation must leave alone.
  std::string Snapshot() {
    return JoinedRows(t.db(),
                      "SELECT user_id || ':' || balance || ':' || version AS x FROM user_deposits "
                      "UNION ALL SELECT id || ':' || status || ':' || amount || ':' || "
                      "COALESCE(CAST(decided_by AS TEXT), '') FROM deposit_transactions");
  }
};

// Changes `user`'s balance row from another connection inside the
// repository's before_write seam, on the attempts listed.
struct ConflictInjector {
  ConflictInjector(TestDb& t, int64_t user, int on_attempts_up_to)
      : other(t.OpenAnother()), repo(*other, t.clock()), user_id(user), upto(on_attempts_up_to) {}
  std::unique_ptr<Database> other;
  DepositRepository repo;
  int64_t user_id;
  int upto;
  int injected = 0;
  void operator()(int attempt) {
    if (attempt > upto) return;
    auto r = repo.Adjust(user_id, 1, "concurrent change", kAdmin);
    CHECK_MESSAGE(r.ok(), "the injected change failed");
    ++injected;
  }
};

}  // namespace

// ---- users -----------------------------------------------------------------

TEST_CASE("a new user gets a zero balance at version 1") {
  Books k;
  UserRepository users(k.t.db(), k.t.clock());
  auto u = users.FindOrCreate(1001, "Alice");
  REQUIRE(u);
  CHECK(u->telegram_id == 1001);
  CHECK(u->display_name == "Alice");
  CHECK(u->created_at == testing::kTestEpochMillis / 1000);
  auto a = k.repo.GetAccount(u->id);
  REQUIRE(a);
  CHECK(a->balance == 0);
  CHECK(a->version == 1);
}

TEST_CASE("finding a known user returns the same row and updates a changed name") {
  Books k;
  UserRepository users(k.t.db(), k.t.clock());
  auto first = users.FindOrCreate(1001, "Alice");
  auto again = users.FindOrCreate(1001, "Alice B.");
  REQUIRE(first);
  REQUIRE(again);
  CHECK(again->id == first->id);
  CHECK(users.FindById(first->id)->display_name == "Alice B.");
  CHECK(users.FindByTelegramId(1001)->id == first->id);
  CHECK(QueryInt(k.t.db(), "SELECT COUNT(*) FROM user_deposits") == 1);
}

TEST_CASE("a non-positive Telegram id is refused and no user is created") {
  Books k;
  UserRepository users(k.t.db(), k.t.clock());
  CHECK(users.FindOrCreate(0, "x").code() == ErrorCode::kInvalid);
  CHECK(users.FindOrCreate(-5, "x").code() == ErrorCode::kInvalid);
  CHECK(QueryInt(k.t.db(), "SELECT COUNT(*) FROM users") == 0);
}

TEST_CASE("looking up an unknown user is kNotFound") {
  Books k;
  UserRepository users(k.t.db(), k.t.clock());
  CHECK(users.FindByTelegramId(424242).code() == ErrorCode::kNotFound);
  CHECK(users.FindById(99).code() == ErrorCode::kNotFound);
}

// ---- reads -----------------------------------------------------------------

TEST_CASE("an unknown user or transaction is kNotFound naming the id") {
  Books k;
  auto a = k.repo.GetAccount(404);
  REQUIRE_FALSE(a);
  CHECK(a.code() == ErrorCode::kNotFound);
  CHECK(Contains(a.error().message, "404"));
  auto t = k.repo.GetTransaction(999);
  REQUIRE_FALSE(t);
  CHECK(t.code() == ErrorCode::kNotFound);
  CHECK(Contains(t.error().message, "#999"));
  CHECK(k.repo.History(404, 10).code() == ErrorCode::kNotFound);
}

TEST_CASE("history is newest first and the limit is clamped to 1..100") {
  Books k;
  auto alice = k.b.User(1001, "Alice").Deposit(100).Deposit(200).Purchase(50).Build();
  auto h = k.repo.History(alice.id, 10);
  REQUIRE(h);
  REQUIRE(h->size() == 3);
  CHECK((*h)[0].type == TransactionType::kPurchase);
  CHECK((*h)[2].amount == 100);
  CHECK(k.repo.History(alice.id, 0)->size() == 1);
  CHECK(k.repo.History(alice.id, -3)->size() == 1);
  for (int i = 0; i < 50; ++i) REQUIRE(k.repo.Adjust(alice.id, 1, "x", kAdmin));
  for (int i = 0; i < 60; ++i) REQUIRE(k.repo.Adjust(alice.id, 1, "x", kAdmin));
  CHECK(k.repo.History(alice.id, 1000)->size() == 100);
}

TEST_CASE("the pending list holds only pending deposits of every user, oldest first") {
  Books k;
  auto alice = k.b.User(1001).Pending(10, "A1").Deposit(5).Rejected(7, "A2").Build();
  auto bob = k.b.User(1002).Pending(20, "B1").Build();
  auto p = k.repo.Pending(100);
  REQUIRE(p);
  REQUIRE(p->size() == 2);
  CHECK((*p)[0].id == alice.pending[0]);
  CHECK((*p)[1].id == bob.pending[0]);
  CHECK(k.repo.Pending(0)->size() == 1);
}

// ---- RequestDeposit --------------------------------------------------------

TEST_CASE("announcing a transfer records a pending deposit and leaves the balance alone") {
  Books k;
  auto alice = k.b.User(1001, "Alice").Balance(500).Build();
  auto t = k.repo.RequestDeposit(alice.id, 30'000, "  KIM MINJI ");
  REQUIRE(t);
  CHECK(t->status == TransactionStatus::kPending);
  CHECK(t->type == TransactionType::kDeposit);
  CHECK(t->amount == 30'000);
  CHECK(t->direction == 1);
  CHECK(t->depositor_name == "KIM MINJI");
  CHECK(t->created_at == testing::kTestEpochMillis / 1000);
  CHECK_FALSE(t->decided_at.has_value());
  CHECK(k.Balance(alice.id) == 500);
  CHECK(k.Version(alice.id) == 2);
  CHECK(CheckBooks(k.t.db()).ok());
}

TEST_CASE("a deposit of zero or a negative amount is refused and nothing is written") {
  Books k;
  auto alice = k.b.User(1001).Build();
  for (int64_t amount : {int64_t{0}, int64_t{-1}, int64_t{-30'000}, INT64_MIN}) {
    auto t = k.repo.RequestDeposit(alice.id, amount, "KIM");
    REQUIRE_FALSE(t);
    CHECK(t.code() == ErrorCode::kInvalid);
    CHECK(Contains(t.error().message, "greater than zero"));
  }
  CHECK(k.LedgerRows() == 0);
}

TEST_CASE("a deposit without a usable depositor name is refused") {
  Books k;
  auto alice = k.b.User(1001).Build();
  CHECK(k.repo.RequestDeposit(alice.id, 10, "").code() == ErrorCode::kInvalid);
  CHECK(k.repo.RequestDeposit(alice.id, 10, "   ").code() == ErrorCode::kInvalid);
  CHECK(k.repo.RequestDeposit(alice.id, 10, std::string(65, 'A')).code() == ErrorCode::kInvalid);
  CHECK(k.repo.RequestDeposit(alice.id, 10, std::string(64, 'A')));
  CHECK(k.LedgerRows() == 1);
}

TEST_CASE("a deposit for an unknown user is kNotFound and writes nothing") {
  Books k;
  auto t = k.repo.RequestDeposit(12345, 100, "KIM");
  REQUIRE_FALSE(t);
  CHECK(t.code() == ErrorCode::kNotFound);
  CHECK(k.LedgerRows() == 0);
}

TEST_CASE("a sixth pending deposit is refused until one is decided") {
  Books k;
  auto alice = k.b.User(1001)
                   .Pending(1, "A")
                   .Pending(2, "A")
                   .Pending(3, "A")
                   .Pending(4, "A")
                   .Pending(5, "A")
                   .Build();
  auto sixth = k.repo.RequestDeposit(alice.id, 6, "A");
  REQUIRE_FALSE(sixth);
  CHECK(sixth.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(sixth.error().message, "5 pending"));
  CHECK(k.LedgerRows() == 5);
  REQUIRE(k.repo.Cancel(alice.pending[0], alice.id));
  CHECK(k.repo.RequestDeposit(alice.id, 6, "A"));
  // Another user is not limited by Alice's pending deposits.
  auto bob = k.b.User(1002).Build();
  CHECK(k.repo.RequestDeposit(bob.id, 1, "B"));
}

// ---- Confirm ---------------------------------------------------------------

TEST_CASE("confirming a pending deposit credits it once and records who decided") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Pending(30'000, "KIM MINJI").Build();
  int64_t version = k.Version(alice.id);
  k.t.clock().Advance(60'000);
  auto t = k.repo.Confirm(alice.pending[0], kAdmin);
  REQUIRE(t);
  CHECK(t->status == TransactionStatus::kConfirmed);
  CHECK(t->decided_by == kAdmin);
  CHECK(t->decided_at == testing::kTestEpochMillis / 1000 + 60);
  CHECK(k.Balance(alice.id) == 31'000);
  CHECK(k.Version(alice.id) == version + 1);
  CHECK(k.repo.stats().applied == 1);
  CHECK(CheckBooks(k.t.db()).ok());
}

TEST_CASE("confirming a deposit twice credits it once and says it is already confirmed") {
  Books k;
  auto alice = k.b.User(1001).Deposit(30'000).Build();
  std::string before = k.Snapshot();
  auto again = k.repo.Confirm(alice.deposits[0], kAdmin + 1);
  REQUIRE_FALSE(again);
  CHECK(again.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(again.error().message, "already confirmed"));
  CHECK(k.Snapshot() == before);
  CHECK(k.Balance(alice.id) == 30'000);
}

TEST_CASE("confirming a rejected or cancelled deposit changes nothing") {
  Books k;
  auto alice = k.b.User(1001).Rejected(10, "A").Pending(20, "A").Build();
  REQUIRE(k.repo.Cancel(alice.pending[0], alice.id));
  std::string before = k.Snapshot();
  auto r1 = k.repo.Confirm(alice.rejected[0], kAdmin);
  auto r2 = k.repo.Confirm(alice.pending[0], kAdmin);
  CHECK(r1.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(r1.error().message, "already rejected"));
  CHECK(r2.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(r2.error().message, "already cancelled"));
  CHECK(k.Snapshot() == before);
}

TEST_CASE("only deposits can be confirmed: a purchase or an adjustment is refused") {
  Books k;
  auto alice = k.b.User(1001).Balance(100).Purchase(40).Build();
  auto adj = k.repo.Adjust(alice.id, 5, "goodwill", kAdmin);
  REQUIRE(adj);
  std::string before = k.Snapshot();
  auto r = k.repo.Confirm(alice.purchases[0], kAdmin);
  CHECK(r.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(r.error().message, "purchase"));
  CHECK(k.repo.Confirm(adj->id, kAdmin).code() == ErrorCode::kFailedPrecondition);
  CHECK(k.Snapshot() == before);
}

TEST_CASE("confirming an unknown transaction is kNotFound") {
  Books k;
  k.b.User(1001).Balance(5);
  auto r = k.repo.Confirm(31337, kAdmin);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kNotFound);
  CHECK(Contains(r.error().message, "#31337"));
}

TEST_CASE("a confirm that would overflow int64 is refused and the deposit stays pending") {
  Books k;
  auto alice = k.b.User(1001).Pending(100, "A").Build();
  REQUIRE(k.repo.Adjust(alice.id, INT64_MAX - 50, "huge", kAdmin));
  std::string before = k.Snapshot();
  auto r = k.repo.Confirm(alice.pending[0], kAdmin);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
  CHECK(Contains(r.error().message, "overflow"));
  CHECK(k.Snapshot() == before);
  CHECK(k.repo.GetTransaction(alice.pending[0])->status == TransactionStatus::kPending);
}

// ---- Reject / Cancel -------------------------------------------------------

TEST_CASE("rejecting a pending deposit keeps the reason and never touches the balance") {
  Books k;
  auto alice = k.b.User(1001).Balance(70).Pending(30, "A").Build();
  int64_t version = k.Version(alice.id);
  auto r = k.repo.Reject(alice.pending[0], kAdmin, "  no such transfer  ");
  REQUIRE(r);
  CHECK(r->status == TransactionStatus::kRejected);
  CHECK(r->reason == "no such transfer");
  CHECK(r->decided_by == kAdmin);
  CHECK(k.Balance(alice.id) == 70);
  CHECK(k.Version(alice.id) == version);
  CHECK(k.repo.stats().applied == 0);
}

TEST_CASE("rejecting a decided, non-deposit or unknown transaction changes nothing and says why") {
  Books k;
  auto alice = k.b.User(1001).Deposit(100).Rejected(5, "A").Purchase(10).Build();
  std::string before = k.Snapshot();
  auto confirmed = k.repo.Reject(alice.deposits[0], kAdmin, "oops");
  CHECK(confirmed.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(confirmed.error().message, "already confirmed"));
  CHECK(k.repo.Reject(alice.rejected[0], kAdmin, "again").code() == ErrorCode::kFailedPrecondition);
  CHECK(k.repo.Reject(alice.purchases[0], kAdmin, "x").code() == ErrorCode::kFailedPrecondition);
  CHECK(k.repo.Reject(8888, kAdmin, "x").code() == ErrorCode::kNotFound);
  CHECK(k.repo.Reject(alice.deposits[0], kAdmin, std::string(501, 'r')).code() ==
        ErrorCode::kInvalid);
  CHECK(k.Snapshot() == before);
}

TEST_CASE("the owner cancels their own pending deposit") {
  Books k;
  auto alice = k.b.User(1001).Pending(30, "A").Build();
  auto c = k.repo.Cancel(alice.pending[0], alice.id);
  REQUIRE(c);
  CHECK(c->status == TransactionStatus::kCancelled);
  CHECK(c->decided_by == 1001);  // the owner's Telegram id
  CHECK(k.Balance(alice.id) == 0);
  CHECK(k.repo.Pending(10)->empty());
}

TEST_CASE("someone else cannot cancel a user's deposit") {
  Books k;
  auto alice = k.b.User(1001).Pending(30, "A").Build();
  auto bob = k.b.User(1002).Build();
  std::string before = k.Snapshot();
  auto c = k.repo.Cancel(alice.pending[0], bob.id);
  REQUIRE_FALSE(c);
  CHECK(c.code() == ErrorCode::kForbidden);
  CHECK(Contains(c.error().message, "not yours"));
  CHECK(k.Snapshot() == before);
}

TEST_CASE("cancelling a confirmed, unknown or purchase transaction is refused") {
  Books k;
  auto alice = k.b.User(1001).Deposit(30).Purchase(5).Build();
  std::string before = k.Snapshot();
  auto c = k.repo.Cancel(alice.deposits[0], alice.id);
  CHECK(c.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(c.error().message, "already confirmed"));
  CHECK(k.repo.Cancel(alice.purchases[0], alice.id).code() == ErrorCode::kFailedPrecondition);
  CHECK(k.repo.Cancel(5555, alice.id).code() == ErrorCode::kNotFound);
  CHECK(k.repo.Cancel(alice.deposits[0], 4242).code() == ErrorCode::kNotFound);  // unknown owner
  CHECK(k.Snapshot() == before);
}

// ---- Purchase --------------------------------------------------------------

TEST_CASE("a purchase debits the balance and records a confirmed debit row") {
  Books k;
  auto alice = k.b.User(1001).Balance(50'000).Build();
  auto p = k.repo.Purchase(alice.id, 12'000, "order:17", "example.com for 1 year");
  REQUIRE(p);
  CHECK(p->type == TransactionType::kPurchase);
  CHECK(p->status == TransactionStatus::kConfirmed);
  CHECK(p->direction == -1);
  CHECK(p->SignedAmount() == -12'000);
  CHECK(p->reference == "order:17");
  CHECK(p->reason == "example.com for 1 year");
  CHECK(k.Balance(alice.id) == 38'000);
  CHECK(CheckBooks(k.t.db()).ok());
}

TEST_CASE("a purchase of exactly the balance leaves zero") {
  Books k;
  auto alice = k.b.User(1001).Balance(999).Build();
  auto p = k.repo.Purchase(alice.id, 999, "order:1", "");
  REQUIRE(p);
  CHECK(k.Balance(alice.id) == 0);
  CHECK_FALSE(p->reason.has_value());
}

TEST_CASE("a purchase the balance does not cover is refused and nothing changes") {
  Books k;
  auto alice = k.b.User(1001).Balance(100).Build();
  std::string before = k.Snapshot();
  auto p = k.repo.Purchase(alice.id, 101, "order:1", "too dear");
  REQUIRE_FALSE(p);
  CHECK(p.code() == ErrorCode::kInsufficientFunds);
  CHECK(Contains(p.error().message, "100"));
  CHECK(k.Snapshot() == before);
  CHECK(k.repo.stats().applied == 0);
}

TEST_CASE("the same order is charged once") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Build();
  REQUIRE(k.repo.Purchase(alice.id, 100, "order:5", "a"));
  std::string before = k.Snapshot();
  auto again = k.repo.Purchase(alice.id, 100, "order:5", "a");
  REQUIRE_FALSE(again);
  CHECK(again.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(again.error().message, "already charged"));
  CHECK(k.Snapshot() == before);
  CHECK(k.Balance(alice.id) == 900);
}

TEST_CASE("charging an order again after the balance ran low says it was already charged") {
  // A caller that retries a charge (e.g. after a crash) must learn that it
  // happened, not that the balance is short: the latter reads as "not charged".
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Purchase(800, "order:42").Build();
  std::string before = k.Snapshot();
  auto again = k.repo.Purchase(alice.id, 800, "order:42", "retry");
  REQUIRE_FALSE(again);
  CHECK(again.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(again.error().message, "already charged"));
  CHECK(Contains(again.error().message, "#" + std::to_string(alice.purchases[0])));
  CHECK(k.Snapshot() == before);
}

TEST_CASE("a purchase with a bad amount, no reference or an unknown user is refused") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Build();
  std::string before = k.Snapshot();
  CHECK(k.repo.Purchase(alice.id, 0, "order:1", "").code() == ErrorCode::kInvalid);
  CHECK(k.repo.Purchase(alice.id, -10, "order:1", "").code() == ErrorCode::kInvalid);
  CHECK(k.repo.Purchase(alice.id, INT64_MIN, "order:1", "").code() == ErrorCode::kInvalid);
  CHECK(k.repo.Purchase(alice.id, 10, "", "").code() == ErrorCode::kInvalid);
  CHECK(k.repo.Purchase(4040, 10, "order:1", "").code() == ErrorCode::kNotFound);
  CHECK(k.repo.Purchase(alice.id, INT64_MAX, "order:1", "").code() ==
        ErrorCode::kInsufficientFunds);
  CHECK(k.Snapshot() == before);
}

TEST_CASE("a purchase's also-callback runs inside the transaction and commits with it") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Build();
  REQUIRE(k.t.db().Exec("CREATE TABLE orders(id INTEGER PRIMARY KEY, state TEXT)"));
  REQUIRE(k.t.db().Exec("INSERT INTO orders VALUES (1, 'quoted')"));
  int64_t seen_balance = -1, seen_rows = -1;
  auto p = k.repo.Purchase(alice.id, 300, "order:1", "x", [&](StoreTransaction& tx) -> Status {
    Database& db = SqliteStoreTransaction::Of(tx);
    auto q = db.Prepare(
        "SELECT (SELECT balance FROM user_deposits WHERE user_id = ?),"
        " (SELECT COUNT(*) FROM deposit_transactions WHERE reference = 'order:1')");
    if (!q) return q.error();
    q->Bind(1, alice.id);
    if (auto r = q->Step(); !r) return r.error();
    seen_balance = q->ColumnInt(0);
    seen_rows = q->ColumnInt(1);
    return db.Exec("UPDATE orders SET state = 'charged' WHERE id = 1");
  });
  REQUIRE(p);
  CHECK(seen_balance == 700);
  CHECK(seen_rows == 1);
  CHECK(QueryInt(k.t.db(), "SELECT state = 'charged' FROM orders WHERE id = 1") == 1);
}

TEST_CASE("when the also-callback fails neither the balance nor the ledger row is kept") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Build();
  REQUIRE(k.t.db().Exec("CREATE TABLE orders(id INTEGER PRIMARY KEY, state TEXT)"));
  REQUIRE(k.t.db().Exec("INSERT INTO orders VALUES (1, 'quoted')"));
  std::string before = k.Snapshot();
  auto p = k.repo.Purchase(alice.id, 300, "order:1", "x", [](StoreTransaction& tx) -> Status {
    Database& db = SqliteStoreTransaction::Of(tx);
    if (auto st = db.Exec("UPDATE orders SET state = 'charged' WHERE id = 1"); !st) return st;
    return Error::FailedPrecondition("the order was cancelled meanwhile");
  });
  REQUIRE_FALSE(p);
  CHECK(p.code() == ErrorCode::kFailedPrecondition);
  CHECK(p.error().message == "the order was cancelled meanwhile");
  CHECK(k.Snapshot() == before);
  CHECK(QueryInt(k.t.db(), "SELECT state = 'quoted' FROM orders WHERE id = 1") == 1);
  CHECK(k.repo.stats().applied == 0);
  // The reference is still free: the order can be charged later.
  CHECK(k.repo.Purchase(alice.id, 300, "order:1", "x"));
}

// ---- Refund ----------------------------------------------------------------

TEST_CASE("a refund credits the whole purchase back once") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Purchase(400, "order:9").Build();
  auto r = k.repo.Refund(alice.purchases[0], "registrar said no");
  REQUIRE(r);
  CHECK(r->type == TransactionType::kRefund);
  CHECK(r->amount == 400);
  CHECK(r->direction == 1);
  CHECK(r->status == TransactionStatus::kConfirmed);
  CHECK(r->reference == "purchase:" + std::to_string(alice.purchases[0]));
  CHECK(r->reason == "registrar said no");
  CHECK(k.Balance(alice.id) == 1'000);
  CHECK(CheckBooks(k.t.db()).ok());
}

TEST_CASE("a purchase is refunded at most once") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Purchase(400).Build();
  REQUIRE(k.repo.Refund(alice.purchases[0], "first"));
  std::string before = k.Snapshot();
  auto again = k.repo.Refund(alice.purchases[0], "second");
  REQUIRE_FALSE(again);
  CHECK(again.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(again.error().message, "already refunded"));
  CHECK(k.Snapshot() == before);
  CHECK(k.Balance(alice.id) == 1'000);
}

TEST_CASE("only a confirmed purchase can be refunded") {
  Books k;
  auto alice = k.b.User(1001).Deposit(1'000).Pending(5, "A").Purchase(100).Build();
  auto refund = k.repo.Refund(alice.purchases[0], "r");
  REQUIRE(refund);
  std::string before = k.Snapshot();
  CHECK(k.repo.Refund(alice.deposits[0], "r").code() == ErrorCode::kFailedPrecondition);
  CHECK(k.repo.Refund(alice.pending[0], "r").code() == ErrorCode::kFailedPrecondition);
  CHECK(k.repo.Refund(refund->id, "r").code() == ErrorCode::kFailedPrecondition);
  CHECK(k.repo.Refund(123456, "r").code() == ErrorCode::kNotFound);
  CHECK(k.Snapshot() == before);
}

TEST_CASE("a refund whose also-callback fails is not applied and can be retried") {
  Books k;
  auto alice = k.b.User(1001).Balance(500).Purchase(500).Build();
  std::string before = k.Snapshot();
  auto r = k.repo.Refund(alice.purchases[0], "r", [](StoreTransaction&) -> Status {
    return Error::Internal("disk on fire");
  });
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInternal);
  CHECK(k.Snapshot() == before);
  CHECK(k.Balance(alice.id) == 0);
  CHECK(k.repo.Refund(alice.purchases[0], "r"));
  CHECK(k.Balance(alice.id) == 500);
}

TEST_CASE("a refund is credited even after the balance was spent elsewhere") {
  Books k;
  auto alice = k.b.User(1001).Balance(500).Purchase(200).Purchase(300).Build();
  CHECK(k.Balance(alice.id) == 0);
  REQUIRE(k.repo.Refund(alice.purchases[0], "r"));
  CHECK(k.Balance(alice.id) == 200);
  CHECK(CheckBooks(k.t.db()).ok());
}

// ---- Adjust ----------------------------------------------------------------

TEST_CASE("an adjustment credits or debits with its direction and the admin's id") {
  Books k;
  auto alice = k.b.User(1001).Balance(1'000).Build();
  auto up = k.repo.Adjust(alice.id, 250, "goodwill", kAdmin);
  REQUIRE(up);
  CHECK(up->direction == 1);
  CHECK(up->decided_by == kAdmin);
  auto down = k.repo.Adjust(alice.id, -1'250, "bank reversal", kAdmin);
  REQUIRE(down);
  CHECK(down->direction == -1);
  CHECK(down->amount == 1'250);
  CHECK(down->reason == "bank reversal");
  CHECK(k.Balance(alice.id) == 0);
  CHECK(CheckBooks(k.t.db()).ok());
}

TEST_CASE("a debit adjustment never takes the balance below zero") {
  Books k;
  auto alice = k.b.User(1001).Balance(100).Build();
  std::string before = k.Snapshot();
  auto r = k.repo.Adjust(alice.id, -101, "too much", kAdmin);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInsufficientFunds);
  CHECK(k.Snapshot() == before);
}

TEST_CASE("an adjustment of zero, INT64_MIN, without a reason or for nobody is refused") {
  Books k;
  auto alice = k.b.User(1001).Balance(100).Build();
  std::string before = k.Snapshot();
  CHECK(k.repo.Adjust(alice.id, 0, "x", kAdmin).code() == ErrorCode::kInvalid);
  CHECK(k.repo.Adjust(alice.id, INT64_MIN, "x", kAdmin).code() == ErrorCode::kInvalid);
  CHECK(k.repo.Adjust(alice.id, 5, "  ", kAdmin).code() == ErrorCode::kInvalid);
  CHECK(k.repo.Adjust(alice.id, 5, std::string(501, 'x'), kAdmin).code() == ErrorCode::kInvalid);
  CHECK(k.repo.Adjust(9999, 5, "x", kAdmin).code() == ErrorCode::kNotFound);
  CHECK(k.Snapshot() == before);
}

TEST_CASE("a credit beyond int64 is refused, not wrapped") {
  Books k;
  auto alice = k.b.User(1001).Balance(2).Build();
  std::string before = k.Snapshot();
  auto r = k.repo.Adjust(alice.id, INT64_MAX, "too much", kAdmin);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
  CHECK(k.Snapshot() == before);
  REQUIRE(k.repo.Adjust(alice.id, INT64_MAX - 2, "exactly the max", kAdmin));
  CHECK(k.Balance(alice.id) == INT64_MAX);
  CHECK(k.repo.Adjust(alice.id, 1, "one more", kAdmin).code() == ErrorCode::kInvalid);
}

// ---- version conflicts -----------------------------------------------------

TEST_CASE("one version conflict is retried and then applied once") {
  Books k(TestDb::kFile);
  auto alice = k.b.User(1001).Balance(1'000).Build();
  ConflictInjector inject(k.t, alice.id, 1);
  RecordedRetry retry;
  auto policy = retry.Policy();
  policy.before_write = [&](int attempt) { inject(attempt); };
  DepositRepository repo(k.t.db(), k.t.clock(), policy, retry.env);
  auto p = repo.Purchase(alice.id, 300, "order:1", "x");
  REQUIRE(p);
  CHECK(inject.injected == 1);
  CHECK(k.Balance(alice.id) == 1'000 + 1 - 300);
  auto s = repo.stats();
  CHECK(s.applied == 1);
  CHECK(s.conflicts == 1);
  CHECK(s.retries == 1);
  CHECK(s.conflict_failures == 0);
  CHECK(retry.Sleeps().size() == 1);
  CHECK(QueryInt(k.t.db(), "SELECT COUNT(*) FROM deposit_transactions WHERE type='purchase'") == 1);
  CHECK(CheckBooks(k.t.db()).ok());
}

TEST_CASE("a conflict on every attempt gives kConflict after exactly 3 attempts, nothing applied") {
  Books k(TestDb::kFile);
  auto alice = k.b.User(1001).Balance(1'000).Pending(50, "A").Build();
  ConflictInjector inject(k.t, alice.id, 1'000);
  RecordedRetry retry;
  auto policy = retry.Policy();
  int attempts = 0;
  policy.before_write = [&](int attempt) {
    attempts = attempt;
    inject(attempt);
  };
  DepositRepository repo(k.t.db(), k.t.clock(), policy, retry.env);
  int64_t rows = k.LedgerRows();

  auto p = repo.Purchase(alice.id, 300, "order:1", "x");
  REQUIRE_FALSE(p);
  CHECK(p.code() == ErrorCode::kConflict);
  CHECK(Contains(p.error().message, "try again"));
  CHECK(attempts == 3);
  CHECK(k.LedgerRows() == rows + 3);  // only the three injected adjustments
  CHECK(k.Balance(alice.id) == 1'003);

  auto c = repo.Confirm(alice.pending[0], kAdmin);
  CHECK(c.code() == ErrorCode::kConflict);
  CHECK(repo.GetTransaction(alice.pending[0])->status == TransactionStatus::kPending);

  auto s = repo.stats();
  CHECK(s.applied == 0);
  CHECK(s.conflicts == 6);
  CHECK(s.retries == 4);
  CHECK(s.conflict_failures == 2);
  CHECK(CheckBooks(k.t.db()).ok());
}

TEST_CASE("backoff doubles per attempt and adds a jitter below the step") {
  Books k(TestDb::kFile);
  auto alice = k.b.User(1001).Balance(1'000).Build();
  ConflictInjector inject(k.t, alice.id, 1'000);
  TestEnvironment env;
  env.QueueRandom({1'234'567, 999, 1'234'567});
  RetryPolicy policy;
  policy.max_attempts = 4;
  policy.base_backoff = std::chrono::microseconds(1000);
  policy.before_write = [&](int attempt) { inject(attempt); };
  DepositRepository repo(k.t.db(), k.t.clock(), policy, env);
  CHECK(repo.Adjust(alice.id, 5, "x", kAdmin).code() == ErrorCode::kConflict);
  std::vector<std::chrono::microseconds> sleeps = env.Sleeps();
  REQUIRE(sleeps.size() == 3);  // between 4 attempts
  CHECK(sleeps[0].count() == 1000 + 1'234'567 % 1000);
  CHECK(sleeps[1].count() == 2000 + 999 % 2000);
  CHECK(sleeps[2].count() == 4000 + 1'234'567 % 4000);
  for (size_t i = 0; i < sleeps.size(); ++i) {
    int64_t step = 1000LL << i;
    CHECK(sleeps[i].count() >= step);
    CHECK(sleeps[i].count() < 2 * step);
  }
}

TEST_CASE("with one attempt allowed a conflict is reported at once without sleeping") {
  Books k(TestDb::kFile, 1);
  auto alice = k.b.User(1001).Balance(1'000).Build();
  ConflictInjector inject(k.t, alice.id, 1'000);
  RecordedRetry retry;
  auto policy = retry.Policy(1);
  policy.before_write = [&](int attempt) { inject(attempt); };
  DepositRepository repo(k.t.db(), k.t.clock(), policy, retry.env);
  CHECK(repo.Adjust(alice.id, -5, "x", kAdmin).code() == ErrorCode::kConflict);
  CHECK(retry.Sleeps().empty());
  CHECK(inject.injected == 1);
  CHECK(repo.stats().retries == 0);
}

TEST_CASE("a purchase retried after a conflict re-checks the balance it now sees") {
  Books k(TestDb::kFile);
  auto alice = k.b.User(1001).Balance(1'000).Build();
  auto other = k.t.OpenAnother();
  DepositRepository other_repo(*other, k.t.clock());
  RecordedRetry retry;
  auto policy = retry.Policy();
  policy.before_write = [&](int attempt) {
    if (attempt == 1) CHECK(other_repo.Purchase(alice.id, 800, "order:other", "x"));
  };
  DepositRepository repo(k.t.db(), k.t.clock(), policy, retry.env);
  auto p = repo.Purchase(alice.id, 500, "order:mine", "x");
  REQUIRE_FALSE(p);
  CHECK(p.code() == ErrorCode::kInsufficientFunds);
  CHECK(k.Balance(alice.id) == 200);
  CHECK(CheckBooks(k.t.db()).ok());
}

TEST_CASE("two admins confirming the same deposit at the same moment credit it once") {
  Books k(TestDb::kFile);
  auto alice = k.b.User(1001).Pending(30'000, "KIM").Build();
  auto other = k.t.OpenAnother();
  DepositRepository other_repo(*other, k.t.clock());
  RecordedRetry retry;
  auto policy = retry.Policy();
  policy.before_write = [&](int attempt) {
    if (attempt == 1) CHECK(other_repo.Confirm(alice.pending[0], kAdmin + 1));
  };
  DepositRepository repo(k.t.db(), k.t.clock(), policy, retry.env);
  auto c = repo.Confirm(alice.pending[0], kAdmin);
  REQUIRE_FALSE(c);
  CHECK(c.code() == ErrorCode::kFailedPrecondition);
  CHECK(k.Balance(alice.id) == 30'000);
  CHECK(k.repo.GetTransaction(alice.pending[0])->decided_by == kAdmin + 1);
  CHECK(CheckBooks(k.t.db()).ok());
}

TEST_CASE("two refunds of one purchase at the same moment credit it once") {
  Books k(TestDb::kFile);
  auto alice = k.b.User(1001).Balance(900).Purchase(900).Build();
  auto other = k.t.OpenAnother();
  DepositRepository other_repo(*other, k.t.clock());
  RecordedRetry retry;
  auto policy = retry.Policy();
  policy.before_write = [&](int attempt) {
    if (attempt == 1) CHECK(other_repo.Refund(alice.purchases[0], "theirs"));
  };
  DepositRepository repo(k.t.db(), k.t.clock(), policy, retry.env);
  auto r = repo.Refund(alice.purchases[0], "mine");
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kFailedPrecondition);
  CHECK(k.Balance(alice.id) == 900);
  CHECK(QueryInt(k.t.db(), "SELECT COUNT(*) FROM deposit_transactions WHERE type='refund'") == 1);
}

TEST_CASE("a deposit cancelled while its confirm was in flight is not credited") {
  Books k(TestDb::kFile);
  auto alice = k.b.User(1001).Pending(100, "A").Build();
  auto other = k.t.OpenAnother();
  DepositRepository other_repo(*other, k.t.clock());
  RecordedRetry retry;
  auto policy = retry.Policy();
  policy.before_write = [&](int attempt) {
    if (attempt == 1) CHECK(other_repo.Cancel(alice.pending[0], alice.id));
  };
  DepositRepository repo(k.t.db(), k.t.clock(), policy, retry.env);
  auto c = repo.Confirm(alice.pending[0], kAdmin);
  REQUIRE_FALSE(c);
  CHECK(c.code() == ErrorCode::kFailedPrecondition);
  CHECK(k.Balance(alice.id) == 0);
  CHECK(k.repo.GetTransaction(alice.pending[0])->status == TransactionStatus::kCancelled);
  CHECK(CheckBooks(k.t.db()).ok());
}

TEST_CASE("requests, rejections and refusals are not counted as applied balance changes") {
  Books k;
  auto alice = k.b.User(1001).Build();
  auto t = k.repo.RequestDeposit(alice.id, 10, "A");
  REQUIRE(t);
  REQUIRE(k.repo.Reject(t->id, kAdmin, "no"));
  CHECK_FALSE(k.repo.Purchase(alice.id, 1, "order:1", ""));
  REQUIRE(k.repo.Adjust(alice.id, 3, "x", kAdmin));
  auto s = k.repo.stats();
  CHECK(s.applied == 1);
  CHECK(s.conflicts == 0);
}

TEST_CASE("the builder states starting books in one line and they reconcile") {
  Books k;
  auto alice = k.b.User(1001, "Alice").Balance(50'000).Pending(30'000, "KIM MINJI").Build();
  CHECK(alice.user.display_name == "Alice");
  CHECK(k.Balance(alice.id) == 50'000);
  CHECK(alice.deposits.size() == 1);
  CHECK(alice.pending.size() == 1);
  auto books = CheckBooks(k.t.db());
  CHECK(books.ok());
  REQUIRE(books.users.size() == 1);
  CHECK(books.users[0].ledger_sum == 50'000);
  CHECK_THROWS(k.b.User(1001).Balance(10));  // can only top up
}
