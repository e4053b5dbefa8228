#include "tests/fakes/ledger_builder.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "db/migrator.h"
#include "db/user_repository.h"

namespace depositbot::testing {
namespace {

template <typename T>
T Must(Result<T> r, const std::string& step) {
  if (!r) throw std::runtime_error(step + ": " + r.error().message);
  return std::move(*r);
}

// The test cluster's superuser connection, opened once per process.
Database& PostgresAdmin() {
  static std::unique_ptr<Database> admin = [] {
    Database::Options options;
    options.pool_size = 1;
    return Must(Database::Open(TestPostgresUri(), options), "connect to the test PostgreSQL");
  }();
  return *admin;
}

// A new, empty PostgreSQL database on the test cluster; returns its URI.
std::string CreatePostgresDatabase(std::string* name) {
  static std::atomic<int> counter{0};
  *name = "t" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  Database& admin = PostgresAdmin();
  auto lock = admin.Lock();
  Must(Result<bool>([&]() -> Result<bool> {
         if (auto st = admin.Exec("CREATE DATABASE " + *name); !st) return st.error();
         return true;
       }()),
       "create database " + *name);
  std::string uri = TestPostgresUri();
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + "dbname=" + *name;
}

}  // namespace

std::string TestPostgresUri() {
  if (const char* uri = std::getenv("DEPOSITBOT_TEST_POSTGRES"); uri != nullptr && *uri) return uri;
  if (const char* file = std::getenv("DEPOSITBOT_TEST_POSTGRES_FILE"); file != nullptr && *file) {
    std::ifstream in(file);
    std::string uri;
    if (std::getline(in, uri) && !uri.empty()) return uri;
  }
  throw std::runtime_error(
      "the suite runs on PostgreSQL but none was given: set DEPOSITBOT_TEST_POSTGRES to a "
      "superuser URI (scripts/postgres.sh start DIR prints one), or run it under ctest");
}

std::string JoinedRows(Database& db, const std::string& select) {
  auto lock = db.Lock();
  bool pg = db.backend() == Database::Backend::kPostgres;
  auto q = Must(db.Prepare(std::string(pg ? "SELECT COALESCE(string_agg(x, ';' ORDER BY x), '')"
                                          : "SELECT COALESCE(group_concat(x, ';'), '')") +
                           " FROM (SELECT x FROM (" + select + ") AS r ORDER BY x) AS sorted"),
                "prepare snapshot");
  Must(q.Step(), "snapshot");
  return q.ColumnText(0);
}

void CorruptBooks(Database& db, const std::string& sql) {
  auto lock = db.Lock();
  auto run = [&](const std::string& statement) {
    if (auto st = db.Exec(statement); !st) {
      throw std::runtime_error(statement + ": " + st.error().message);
    }
  };
  if (db.backend() == Database::Backend::kPostgres) {
    // Foreign keys are triggers a replica session skips; the balance check has to go.
    run("ALTER TABLE user_deposits DROP CONSTRAINT IF EXISTS user_deposits_balance_check");
    run("SET session_replication_role = replica");
    run(sql);
    run("SET session_replication_role = DEFAULT");
  } else {
    run("PRAGMA foreign_keys = OFF; PRAGMA ignore_check_constraints = 1");
    run(sql);
    run("PRAGMA foreign_keys = ON; PRAGMA ignore_check_constraints = 0");
  }
}

bool TestOnPostgres() {
  const char* backend = std::getenv("DEPOSITBOT_TEST_BACKEND");
  return backend != nullptr && std::string_view(backend) == "postgresql";
}

std::string MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/depositbot-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  return tmpl;
}

TestDb::TestDb(Kind kind, bool migrate) {
  if (TestOnPostgres() || kind == kPostgres) {
    dir_ = MakeTempDir();
    path_ = CreatePostgresDatabase(&pg_name_);
  } else if (kind == kFile) {
    dir_ = MakeTempDir();
    path_ = dir_ + "/books.db";
  } else {
    path_ = ":memory:";
  }
  db_ = Must(Database::Open(path_), "open " + path_);
  if (migrate) {
    auto migrator = Must(Migrator::ForEmbedded(*db_), "load migrations");
    Must(migrator.Apply(), "migrate " + path_);
  }
}

TestDb::~TestDb() {
  db_.reset();
  if (keep_) return;
  if (!pg_name_.empty()) {
    Database& admin = PostgresAdmin();
    auto lock = admin.Lock();
    (void)admin.Exec("DROP DATABASE IF EXISTS " + pg_name_ + " WITH (FORCE)");
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::unique_ptr<Database> TestDb::OpenAnother() {
  if (dir_.empty()) throw std::runtime_error("OpenAnother needs a file database");
  return Must(Database::Open(path_), "open second connection to " + path_);
}

LedgerBuilder::LedgerBuilder(Database& db, const Clock& clock)
    : db_(db), clock_(clock), repo_(db, clock), orders_(db, clock) {}

UserBuilder LedgerBuilder::User(int64_t telegram_id, std::string display_name) {
  UserRepository users(db_, clock_);
  BuiltUser b;
  b.user = Must(users.FindOrCreate(telegram_id, display_name),
                "create user " + std::to_string(telegram_id));
  b.id = b.user.id;
  return UserBuilder(*this, std::move(b));
}

UserBuilder& UserBuilder::Balance(int64_t minor) {
  auto account = Must(owner_.repo_.GetAccount(built_.id), "read balance");
  if (account.balance > minor) {
    throw std::runtime_error("Balance(" + std::to_string(minor) + "): the balance is already " +
                             std::to_string(account.balance));
  }
  if (account.balance < minor) Deposit(minor - account.balance);
  return *this;
}

UserBuilder& UserBuilder::Deposit(int64_t minor, std::string depositor_name) {
  auto& repo = owner_.repo_;
  auto t = Must(repo.RequestDeposit(built_.id, minor, depositor_name), "request deposit");
  Must(repo.Confirm(t.id, LedgerBuilder::kAdminTelegramId), "confirm deposit");
  built_.deposits.push_back(t.id);
  return *this;
}

UserBuilder& UserBuilder::Pending(int64_t minor, std::string depositor_name) {
  auto t = Must(owner_.repo_.RequestDeposit(built_.id, minor, depositor_name), "request deposit");
  built_.pending.push_back(t.id);
  return *this;
}

UserBuilder& UserBuilder::Rejected(int64_t minor, std::string depositor_name) {
  auto& repo = owner_.repo_;
  auto t = Must(repo.RequestDeposit(built_.id, minor, depositor_name), "request deposit");
  Must(repo.Reject(t.id, LedgerBuilder::kAdminTelegramId, "not received"), "reject deposit");
  built_.rejected.push_back(t.id);
  return *this;
}

UserBuilder& UserBuilder::Purchase(int64_t minor, std::string reference) {
  if (reference.empty()) return Order(DomainOrder::State::kRegistered, minor);
  auto t = Must(owner_.repo_.Purchase(built_.id, minor, reference, "test purchase"), "purchase");
  built_.purchases.push_back(t.id);
  return *this;
}

UserBuilder& UserBuilder::Order(DomainOrder::State state, int64_t price, std::string domain) {
  using State = DomainOrder::State;
  OrderRepository& orders = owner_.orders_;
  if (domain.empty()) {
    // Unique across builders on one database: live orders may not share a name.
    domain = "order-" +
             std::to_string(QueryInt(owner_.db_,
                                     "SELECT COALESCE(MAX(id), 0) + 1 FROM "
                                     "domain_orders")) +
             "-" + std::to_string(owner_.next_order_++) + ".com";
  }
  const int64_t now = owner_.clock_.NowSeconds();
  auto order = Must(orders.CreateQuote(built_.id, domain, 1, price, 10'280'000, 0, now + 600),
                    "quote " + domain);
  built_.orders.push_back(order.id);
  switch (state) {
    case State::kQuoted:
      return *this;
    case State::kExpired:
      Must(orders.MarkExpired(order.id), "expire " + domain);
      return *this;
    case State::kCancelled:
      Must(orders.MarkCancelled(order.id), "cancel " + domain);
      return *this;
    default:
      break;
  }
  // Built as a finished execution would leave it: charged under a lease that the outcome
  // (unknown, registered, refunded) releases; a charged order keeps an expired one.
  const std::string lease = "ledger-builder:0:" + std::to_string(order.id);
  auto purchase = Must(
      owner_.repo_.Purchase(
          built_.id, price, OrderReference(order.id), domain,
          [&](StoreTransaction& tx) { return orders.MarkChargedIn(tx, order.id, lease, now); }),
      "charge " + domain);
  built_.purchases.push_back(purchase.id);
  switch (state) {
    case State::kUnknown:
      Must(orders.MarkUnknown(order.id, lease, "timed out"), "mark unknown " + domain);
      break;
    case State::kRegistered:
      Must(orders.MarkRegistered(order.id, lease, "987654", "1234567"), "register " + domain);
      break;
    case State::kRefunded:
      Must(owner_.repo_.Refund(purchase.id, "the registrar refused",
                               [&](StoreTransaction& tx) {
                                 return orders.MarkRefundedIn(tx, order.id, lease, "refused");
                               }),
           "refund " + domain);
      break;
    default:
      break;
  }
  return *this;
}

std::string BooksCheck::Describe() const {
  std::ostringstream out;
  for (const auto& u : users) {
    out << "user " << u.user_id << ": balance " << u.balance << ", ledger " << u.ledger_sum
        << (u.has_account ? "" : " (no account)") << (u.balanced() ? "" : "  <-- unbalanced")
        << (u.balance < 0 ? "  <-- negative" : "") << "\n";
  }
  return out.str();
}

BooksCheck CheckBooks(Database& db) {
  // Deliberately not the Reconciler's query: the sign comes from the type, and
  // both sides of the join are enumerated.
  const std::string sql =
      "WITH sums AS ("
      "  SELECT user_id, SUM(CASE type WHEN 'purchase' THEN -amount"
      "                                WHEN 'adjustment' THEN amount * direction"
      "                                ELSE amount END) AS s"
      "  FROM deposit_transactions WHERE status = 'confirmed' GROUP BY user_id),"
      " ids AS (SELECT user_id FROM user_deposits UNION SELECT user_id FROM sums) "
      "SELECT ids.user_id, d.balance, COALESCE(sums.s, 0), d.user_id IS NOT NULL FROM ids"
      " LEFT JOIN user_deposits d ON d.user_id = ids.user_id"
      " LEFT JOIN sums ON sums.user_id = ids.user_id ORDER BY ids.user_id";
  auto lock = db.Lock();
  auto q = Must(db.Prepare(sql), "prepare CheckBooks");
  BooksCheck out;
  while (Must(q.Step(), "CheckBooks")) {
    UserBooks u{q.ColumnInt(0), q.ColumnInt(1), q.ColumnInt(2), q.ColumnInt(3) != 0};
    if (!u.balanced()) out.unbalanced.push_back(u.user_id);
    if (u.balance < 0) out.negative.push_back(u.user_id);
    out.users.push_back(u);
  }
  return out;
}

int64_t QueryInt(Database& db, const std::string& sql) {
  auto lock = db.Lock();
  auto q = Must(db.Prepare(sql), "prepare " + sql);
  if (!Must(q.Step(), sql)) throw std::runtime_error("no row from " + sql);
  return q.ColumnInt(0);
}

std::string IntegrityCheck(Database& db) {
  // SQLite's check of its file; PostgreSQL keeps its own pages and has no such statement.
  if (db.backend() == Database::Backend::kPostgres) return "ok";
  auto lock = db.Lock();
  auto q = Must(db.Prepare("PRAGMA integrity_check"), "prepare integrity_check");
  std::string out;
  while (Must(q.Step(), "integrity_check")) out += (out.empty() ? "" : "\n") + q.ColumnText(0);
  return out;
}

std::string WorkloadOp::ToLine() const {
  std::ostringstream out;
  out << worker << ' ' << seq << ' ' << op << ' ' << user_id << ' ' << target << ' ' << amount
      << ' ' << outcome << ' ' << result_id << ' ' << (code.empty() ? "-" : code) << ' '
      << (reference.empty() ? "-" : reference);
  return out.str();
}

WorkloadOp WorkloadOp::FromLine(const std::string& line) {
  std::istringstream in(line);
  WorkloadOp o;
  in >> o.worker >> o.seq >> o.op >> o.user_id >> o.target >> o.amount >> o.outcome >>
      o.result_id >> o.code >> o.reference;
  if (!in) throw std::runtime_error("bad workload line: " + line);
  if (o.code == "-") o.code.clear();
  if (o.reference == "-") o.reference.clear();
  return o;
}

namespace {

void Record(WorkloadOp& op, const Result<DepositTransaction>& r) {
  if (r) {
    op.outcome = "applied";
    op.result_id = r->id;
    return;
  }
  op.code = std::string(ErrorCodeName(r.code()));
  switch (r.code()) {
    case ErrorCode::kConflict:
      op.outcome = "conflict";
      break;
    case ErrorCode::kInvalid:
    case ErrorCode::kNotFound:
    case ErrorCode::kForbidden:
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kInsufficientFunds:
      op.outcome = "refused";
      break;
    default:
      op.outcome = "error";
      op.code += ":" + r.error().message;
      break;
  }
  for (auto& ch : op.code) {
    if (ch == ' ') ch = '_';
  }
}

}  // namespace

std::vector<WorkloadOp> RunWorkload(DepositRepository& repo, const WorkloadOptions& options) {
  std::mt19937_64 rng(options.seed);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::set<int64_t> ours(options.user_ids.begin(), options.user_ids.end());
  std::vector<WorkloadOp> log;
  for (int seq = 0; seq < options.ops; ++seq) {
    WorkloadOp op;
    op.worker = options.worker;
    op.seq = seq;
    op.user_id = options.user_ids[static_cast<size_t>(
        pick(0, static_cast<int64_t>(options.user_ids.size()) - 1))];
    int64_t dice = pick(0, 99);
    if (dice < 20) {
      op.op = "request";
      op.amount = pick(500, 8'000);
      Record(op, repo.RequestDeposit(op.user_id, op.amount,
                                     "WORKER " + std::to_string(options.worker)));
    } else if (dice < 46) {
      // Decide a pending deposit that other workers may be deciding too.
      std::vector<DepositTransaction> pending;
      if (auto p = repo.Pending(100)) {
        for (auto& t : *p) {
          if (ours.count(t.user_id)) pending.push_back(t);
        }
      }
      if (pending.empty()) {
        op.op = "confirm";
        op.outcome = "skipped";
      } else {
        const auto& t =
            pending[static_cast<size_t>(pick(0, static_cast<int64_t>(pending.size()) - 1))];
        op.user_id = t.user_id;
        op.target = t.id;
        op.amount = t.amount;
        int64_t how = pick(0, 9);
        if (how < 8) {
          op.op = "confirm";
          Record(op, repo.Confirm(t.id, 9'000'000 + options.worker));
        } else if (how < 9) {
          op.op = "reject";
          Record(op, repo.Reject(t.id, 9'000'000 + options.worker, "not received"));
        } else {
          op.op = "cancel";
          Record(op, repo.Cancel(t.id, t.user_id));
        }
      }
    } else if (dice < 72) {
      op.op = "purchase";
      op.amount = pick(1, 6'000);
      op.reference = "w" + std::to_string(options.worker) + "-" + std::to_string(seq) + "-s" +
                     std::to_string(options.seed % 100000);
      Record(op, repo.Purchase(op.user_id, op.amount, op.reference, "workload"));
    } else if (dice < 86) {
      op.op = "refund";
      std::vector<DepositTransaction> purchases;
      if (auto h = repo.History(op.user_id, 100)) {
        for (auto& t : *h) {
          if (t.type == TransactionType::kPurchase) purchases.push_back(t);
        }
      }
      if (purchases.empty()) {
        op.outcome = "skipped";
      } else {
        const auto& p =
            purchases[static_cast<size_t>(pick(0, static_cast<int64_t>(purchases.size()) - 1))];
        op.target = p.id;
        op.amount = p.amount;
        Record(op, repo.Refund(p.id, "workload refund"));
      }
    } else {
      op.op = "adjust";
      op.amount = pick(1, 3'000) * (pick(0, 1) ? 1 : -1);
      Record(op, repo.Adjust(op.user_id, op.amount, "workload adjustment", 9'000'000));
    }
    log.push_back(op);
  }
  return log;
}

std::vector<std::string> VerifyWorkload(Database& db, const std::vector<WorkloadOp>& ops) {
  std::vector<std::string> problems;
  auto problem = [&](const std::string& p) {
    if (problems.size() < 50) problems.push_back(p);
  };
  auto books = CheckBooks(db);
  if (!books.ok()) problem("books do not balance:\n" + books.Describe());

  struct Row {
    int64_t user_id, amount, direction;
    std::string type, status, reference;
  };
  std::map<int64_t, Row> rows;
  {
    auto lock = db.Lock();
    auto q = Must(db.Prepare("SELECT id, user_id, type, amount, direction, status, "
                             "COALESCE(reference, '') FROM deposit_transactions"),
                  "read ledger");
    while (Must(q.Step(), "read ledger")) {
      rows[q.ColumnInt(0)] = Row{q.ColumnInt(1),  q.ColumnInt(3),  q.ColumnInt(4),
                                 q.ColumnText(2), q.ColumnText(5), q.ColumnText(6)};
    }
  }

  std::map<int64_t, int> requested, decided, produced;  // row id -> applied ops
  std::map<int64_t, int64_t> expected_balance;
  std::set<std::string> refused_refs;
  for (const auto& op : ops) {
    std::string who = "op " + op.ToLine();
    if (op.outcome == "error") problem(who + ": unexpected error");
    if (op.op == "purchase" && op.outcome != "applied") {
      refused_refs.insert(op.reference);
    }
    if (op.outcome != "applied") continue;
    auto it = rows.find(op.result_id);
    if (it == rows.end()) {
      problem(who + ": its ledger row is missing");
      continue;
    }
    const Row& r = it->second;
    if (r.user_id != op.user_id)
      problem(who + ": ledger row belongs to user " + std::to_string(r.user_id));
    if (op.op == "request") {
      ++requested[op.result_id];
      if (r.type != "deposit" || r.amount != op.amount) problem(who + ": wrong deposit row");
    } else if (op.op == "confirm" || op.op == "reject" || op.op == "cancel") {
      ++decided[op.result_id];
      std::string want = op.op == "confirm"  ? "confirmed"
                         : op.op == "reject" ? "rejected"
                                             : "cancelled";
      if (op.result_id != op.target || r.status != want) {
        problem(who + ": row status is " + r.status);
      }
      if (op.op == "confirm") expected_balance[op.user_id] += r.amount;
    } else {
      ++produced[op.result_id];
      if (r.status != "confirmed") problem(who + ": row is " + r.status);
      if (op.op == "purchase") {
        if (r.type != "purchase" || r.amount != op.amount || r.reference != op.reference) {
          problem(who + ": wrong purchase row");
        }
        expected_balance[op.user_id] -= op.amount;
      } else if (op.op == "refund") {
        if (r.type != "refund" || r.amount != op.amount ||
            r.reference != "purchase:" + std::to_string(op.target)) {
          problem(who + ": wrong refund row");
        }
        expected_balance[op.user_id] += op.amount;
      } else if (op.op == "adjust") {
        if (r.type != "adjustment" || r.amount * r.direction != op.amount) {
          problem(who + ": wrong adjustment row");
        }
        expected_balance[op.user_id] += op.amount;
      }
    }
  }
  for (const auto& [id, r] : rows) {
    if (r.type == "deposit") {
      if (requested[id] != 1)
        problem("deposit #" + std::to_string(id) + " was requested by " +
                std::to_string(requested[id]) + " applied ops");
      int want = r.status == "pending" ? 0 : 1;
      if (decided[id] != want) {
        problem("deposit #" + std::to_string(id) + " (" + r.status + ") was decided by " +
                std::to_string(decided[id]) + " applied ops");
      }
    } else if (produced[id] != 1) {
      problem(r.type + " #" + std::to_string(id) + " was produced by " +
              std::to_string(produced[id]) + " applied ops");
    }
    if (r.type == "purchase" && refused_refs.count(r.reference)) {
      problem("purchase " + r.reference + " was reported not applied but has row #" +
              std::to_string(id));
    }
  }
  for (const auto& u : books.users) {
    if (u.balance != expected_balance[u.user_id]) {
      problem("user " + std::to_string(u.user_id) + ": balance " + std::to_string(u.balance) +
              " but the applied operations add up to " +
              std::to_string(expected_balance[u.user_id]));
    }
  }
  return problems;
}

}  // namespace depositbot::testing
