#pragma once

// Test helpers for the money core: a migrated database per test, builders that
// state a test's starting books in a few lines, an invariant checker that is
// independent of the Reconciler, and the random workload the concurrency
// tests and the ledger_worker process share.
//
//   TestDb t(TestDb::kFile);
//   LedgerBuilder b(t.db(), t.clock());
//   auto alice = b.User(1001, "Alice").Balance(50'000).Pending(30'000, "KIM MINJI").Build();
//   CHECK(CheckBooks(t.db()).ok());
//
// Helpers throw std::runtime_error on a failed set-up step (a test bug), so
// doctest reports the step and its message.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "db/database.h"
#include "db/deposit_repository.h"
#include "db/ledger_types.h"
#include "db/order_repository.h"

namespace depositbot::testing {

// 2026-01-01T00:00:00Z: the fixed "now" of every TestDb clock.
inline constexpr int64_t kTestEpochMillis = 1767225600000;

// A database for one test: ":memory:" or a file in a fresh temporary
// directory that is removed (with its -wal/-shm) at destruction. Migrated to
// the latest version unless `migrate` is false.
// Under DEPOSITBOT_TEST_BACKEND=postgresql (the suites' `_pg` runs), either kind is instead a
// fresh database on the PostgreSQL cluster DEPOSITBOT_TEST_POSTGRES names, dropped at
// destruction; path() is its URI. kPostgres is such a database whatever the backend of the run
// (for a suite that needs both, e.g. copy-db's).
class TestDb {
 public:
  enum Kind { kMemory, kFile, kPostgres };
  explicit TestDb(Kind kind = kMemory, bool migrate = true);
  ~TestDb();
  TestDb(const TestDb&) = delete;
  TestDb& operator=(const TestDb&) = delete;

  Database& db() { return *db_; }
  FixedClock& clock() { return clock_; }
  // The database file (":memory:" for kMemory).
  const std::string& path() const { return path_; }
  // The temporary directory (empty for kMemory); free for a test's other files.
  const std::string& dir() const { return dir_; }
  // A second, independent connection to the same file (kFile, or PostgreSQL).
  std::unique_ptr<Database> OpenAnother();
  // Closes the main connection (e.g. before another process uses the file).
  void Close() { db_.reset(); }
  // Leaves the database (and dir()) in place at destruction, for a failing run's post-mortem.
  void Keep() { keep_ = true; }

 private:
  std::string dir_;
  std::string path_;
  FixedClock clock_{kTestEpochMillis};
  std::string pg_name_;  // the PostgreSQL database, when on PostgreSQL
  bool keep_ = false;
  std::unique_ptr<Database> db_;
};

// The text column `x` of every row `select` gives, sorted and joined with ';' (string_agg on
// PostgreSQL, group_concat on SQLite): a snapshot a refusal must leave unchanged.
std::string JoinedRows(Database& db, const std::string& select);

// Runs `sql` past the schema's guards (foreign keys, balance >= 0), the way a hand edit or a bug
// in another tool would, so a test can show what the Reconciler makes of the result. Throws when
// the SQL fails.
void CorruptBooks(Database& db, const std::string& sql);

// True when the suite runs on PostgreSQL (DEPOSITBOT_TEST_BACKEND=postgresql).
bool TestOnPostgres();
// The test cluster's superuser URI: DEPOSITBOT_TEST_POSTGRES, or the file ctest's postgres
// fixture wrote (DEPOSITBOT_TEST_POSTGRES_FILE). Throws when neither is there.
std::string TestPostgresUri();

// A fresh temporary directory (mkdtemp under $TMPDIR or /tmp).
std::string MakeTempDir();

// A user as the builder left them.
struct BuiltUser {
  User user;
  int64_t id = 0;                  // == user.id
  std::vector<int64_t> deposits;   // confirmed deposit ids, oldest first
  std::vector<int64_t> pending;    // pending deposit ids
  std::vector<int64_t> rejected;   // rejected deposit ids
  std::vector<int64_t> purchases;  // purchase ids
  std::vector<int64_t> orders;     // domain order ids, oldest first
};

class LedgerBuilder;

// Chained set-up of one user; every step goes through the repositories so the
// books start reconciled.
class UserBuilder {
 public:
  // Tops the balance up to `minor` with one confirmed deposit (no-op when equal;
  // throws when the balance is already higher).
  UserBuilder& Balance(int64_t minor);
  // A confirmed deposit of `minor`.
  UserBuilder& Deposit(int64_t minor, std::string depositor_name = "TEST DEPOSITOR");
  // A pending deposit announced as `depositor_name`.
  UserBuilder& Pending(int64_t minor, std::string depositor_name);
  // A deposit that an admin rejected.
  UserBuilder& Rejected(int64_t minor, std::string depositor_name);
  // A confirmed purchase. Without `reference`, it is a registered domain order's (an order row
  // and its purchase "order:<id>", as PurchaseService leaves them); with one, a bare ledger row.
  UserBuilder& Purchase(int64_t minor, std::string reference = "");
  // A domain order of `price` taken to `state` through the repositories, as PurchaseService
  // would: charged, unknown and registered orders carry their purchase row, refunded ones its
  // refund too. `domain` defaults to a fresh "order-<n>.com".
  UserBuilder& Order(DomainOrder::State state, int64_t price, std::string domain = "");
  BuiltUser Build() const { return built_; }

 private:
  friend class LedgerBuilder;
  UserBuilder(LedgerBuilder& owner, BuiltUser built) : owner_(owner), built_(std::move(built)) {}
  LedgerBuilder& owner_;
  BuiltUser built_;
};

class LedgerBuilder {
 public:
  static constexpr int64_t kAdminTelegramId = 9'000'001;
  LedgerBuilder(Database& db, const Clock& clock);
  UserBuilder User(int64_t telegram_id, std::string display_name = "");
  DepositRepository& repository() { return repo_; }
  OrderRepository& orders() { return orders_; }

 private:
  friend class UserBuilder;
  Database& db_;
  const Clock& clock_;
  DepositRepository repo_;
  OrderRepository orders_;
  int next_order_ = 1;
};

// The books as plain SQL sees them, without the Reconciler or the direction
// column's trust: a ledger row's sign is derived from its type.
struct UserBooks {
  int64_t user_id = 0;
  int64_t balance = 0;
  int64_t ledger_sum = 0;
  bool has_account = true;
  bool balanced() const { return has_account && balance == ledger_sum; }
};
struct BooksCheck {
  std::vector<UserBooks> users;     // every user with an account or a ledger row
  std::vector<int64_t> unbalanced;  // user ids whose balance != ledger sum
  std::vector<int64_t> negative;    // user ids with balance < 0
  bool ok() const { return unbalanced.empty() && negative.empty(); }
  std::string Describe() const;
};
BooksCheck CheckBooks(Database& db);

// One integer from `sql` (first column of the first row); throws on error.
int64_t QueryInt(Database& db, const std::string& sql);
// "ok" when PRAGMA integrity_check finds nothing.
std::string IntegrityCheck(Database& db);

// The random workload of the concurrency tests. Each operation is logged as
// one line "worker seq op user target amount outcome result_id code".
struct WorkloadOp {
  int worker = 0;
  int seq = 0;
  std::string op;  // request | confirm | reject | cancel | purchase | refund | adjust
  int64_t user_id = 0;
  int64_t target = 0;     // the transaction acted on (confirm, reject, cancel, refund)
  int64_t amount = 0;     // signed for adjust
  std::string outcome;    // applied | conflict | refused | error
  int64_t result_id = 0;  // the ledger row written or changed (0 unless applied)
  std::string code;       // ErrorCodeName when not applied
  std::string reference;  // purchase reference
  std::string ToLine() const;
  static WorkloadOp FromLine(const std::string& line);
};
struct WorkloadOptions {
  int worker = 0;
  uint64_t seed = 1;
  int ops = 100;
  std::vector<int64_t> user_ids;
};
// Runs `options.ops` random operations through `repo` and returns their log.
std::vector<WorkloadOp> RunWorkload(DepositRepository& repo, const WorkloadOptions& options);

// Checks the logs of every worker against the database: balances equal ledger
// sums, none negative, every applied op is exactly the ledger row it produced
// (no duplicates, none missing), refused and conflicted ops left no row, each
// user's balance equals the sum of its applied changes. Returns the problems.
std::vector<std::string> VerifyWorkload(Database& db, const std::vector<WorkloadOp>& ops);

}  // namespace depositbot::testing
