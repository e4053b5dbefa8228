// The PostgreSQL backend: a bounded pool of libpq connections. Statements are prepared once
// per connection (named after their SQL) and run with text parameters and text results.

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "db/connection.h"

namespace depositbot {
namespace {

// "?" placeholders (the SQL the stores share with SQLite) to PostgreSQL's "$1", "$2"...; a "?"
// inside a quoted literal or identifier stays.
std::string NumberPlaceholders(std::string_view sql, int* count) {
  std::string out;
  out.reserve(sql.size() + 16);
  char quote = 0;
  int n = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '?') {
      out += '$';
      // SQLite's "?NNN" keeps its number; a bare "?" takes the next one.
      if (i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
        int number = 0;
        while (i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
          number = number * 10 + (sql[++i] - '0');
          out += sql[i];
        }
        n = std::max(n, number);
      } else {
        out += std::to_string(++n);
      }
    } else {
      out += c;
    }
  }
  *count = n;
  return out;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

class PgConnection;

// An int64 parameter is declared int8, so PostgreSQL never has to guess it (a bare "VALUES (?)"
// would be text); a text or NULL parameter is left for PostgreSQL to infer from its use.
constexpr Oid kInt8Oid = 20;

class PgStatement final : public StatementImpl {
 public:
  PgStatement(PgConnection* conn, std::string sql, int params)
      : conn_(conn),
        sql_(std::move(sql)),
        values_(static_cast<size_t>(params)),
        types_(static_cast<size_t>(params), 0) {}

  void BindInt(int index, int64_t value) override { Set(index, std::to_string(value), kInt8Oid); }
  void BindText(int index, std::string_view value) override { Set(index, std::string(value), 0); }
  void BindNull(int index) override { Set(index, std::nullopt, 0); }
  Result<bool> Step() override;
  int64_t ColumnInt(int column) const override {
    const char* v = PQgetvalue(result_.get(), row_, column);
    if (v[0] == 't' && v[1] == '\0') return 1;  // a boolean column
    if (v[0] == 'f' && v[1] == '\0') return 0;
    return std::strtoll(v, nullptr, 10);
  }
  std::string ColumnText(int column) const override {
    return std::string(PQgetvalue(result_.get(), row_, column),
                       static_cast<size_t>(PQgetlength(result_.get(), row_, column)));
  }
  bool ColumnIsNull(int column) const override {
    return PQgetisnull(result_.get(), row_, column) == 1;
  }

 private:
  void Set(int index, std::optional<std::string> value, Oid type) {
    if (index >= 1 && static_cast<size_t>(index) <= values_.size()) {
      values_[static_cast<size_t>(index - 1)] = std::move(value);
      types_[static_cast<size_t>(index - 1)] = type;
    }
  }
  PgConnection* conn_;
  std::string sql_;  // with $n placeholders
  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  PgResult result_;
  int row_ = -1;
  bool ran_ = false;
};

class PgConnection final : public Connection {
 public:
  PgConnection(std::string uri, std::string shown, int busy_timeout_ms)
      : uri_(std::move(uri)), shown_(std::move(shown)), busy_timeout_ms_(busy_timeout_ms) {}
  ~PgConnection() override {
    if (conn_ != nullptr) PQfinish(conn_);
  }

  // Connects when not connected (or the connection broke); idempotent.
  Status Connect() {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
    if (conn_ != nullptr) PQfinish(conn_);
    prepared_.clear();
    // The URI comes last, so what it says overrides these defaults.
    // Keepalives find a dead server (or network) in about 11 s instead of hours.
    const char* keys[] = {"connect_timeout",
                          "application_name",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "dbname",
                          nullptr};
    const char* values[] = {"5", "depositbot", "5", "2", "3", uri_.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      std::string why = conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory";
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      if (conn_ != nullptr) PQfinish(conn_);
      conn_ = nullptr;
      return Error::Unavailable("cannot connect to PostgreSQL at " + shown_ + ": " + why);
    }
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    // A lock wait is bounded like SQLite's busy timeout (a statement is not: a reconciliation
    // of a large ledger may take long, and must not fail only once the books are big). The
    // server's keepalives (for TCP) end the session of a client whose machine died within about
    // 11 s, so its leader locks pass on instead of waiting hours for the kernel's default.
    std::string settings = "SET lock_timeout = " + std::to_string(busy_timeout_ms_) +
                           "; SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2"
                           "; SET tcp_keepalives_count = 3; SET client_min_messages = warning";
    return Run(settings.c_str(), "connect");
  }

  Status Exec(std::string_view sql) override {
    if (auto st = Connect(); !st) return st;
    std::string s(sql);
    PgResult r(PQexec(conn_, s.c_str()));
    if (auto st = Check(r.get(), "exec"); !st) return st;
    std::string_view tag = PQcmdStatus(r.get());
    if (s == "COMMIT") {
      // COMMIT of a transaction that had failed answers ROLLBACK, not an error.
      if (tag != "COMMIT") return Error::Unavailable("the transaction was rolled back");
      Database::CountCommit();
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<StatementImpl>> Prepare(std::string_view sql) override {
    if (auto st = Connect(); !st) return st.error();
    // Compiled at the first Step, once the parameters' types are known (see kInt8Oid).
    int params = 0;
    std::string text = NumberPlaceholders(sql, &params);
    return std::unique_ptr<StatementImpl>(new PgStatement(this, std::move(text), params));
  }

  int64_t LastInsertRowId() override {
    if (conn_ == nullptr) return 0;
    PgResult r(PQexec(conn_, "SELECT lastval()"));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) return 0;
    return std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
  }
  int Changes() override { return changes_; }
  std::string_view BeginSql(Transaction::Kind kind) const override {
    return kind == Transaction::Kind::kImmediate ? "BEGIN ISOLATION LEVEL READ COMMITTED"
                                                 : "BEGIN ISOLATION LEVEL REPEATABLE READ";
  }

  Result<PgResult> Execute(const std::string& sql, const std::vector<Oid>& types,
                           const std::vector<std::optional<std::string>>& values) {
    if (auto st = Connect(); !st) return st.error();
    // One server-side prepared statement per (SQL, parameter types) and connection.
    std::string key = sql;
    key += '\0';
    for (Oid t : types) key += t == kInt8Oid ? 'i' : '-';
    auto it = prepared_.find(key);
    if (it == prepared_.end()) {
      if (prepared_.size() >= kMaxPrepared) {  // SQL built per call (IN lists) must not pile up
        if (auto st = Run("DEALLOCATE ALL", "deallocate"); !st) return st.error();
        prepared_.clear();
      }
      std::string name = "s" + std::to_string(++prepared_count_);
      PgResult r(PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(types.size()),
                           types.data()));
      if (auto st = Check(r.get(), "prepare"); !st) return st.error();
      it = prepared_.emplace(std::move(key), std::move(name)).first;
    }
    const std::string& name = it->second;
    std::vector<const char*> params;
    params.reserve(values.size());
    for (const auto& v : values) params.push_back(v ? v->c_str() : nullptr);
    PgResult r(PQexecPrepared(conn_, name.c_str(), static_cast<int>(params.size()), params.data(),
                              nullptr, nullptr, 0));
    if (auto st = Check(r.get(), "step"); !st) return st.error();
    const char* tuples = PQcmdTuples(r.get());
    changes_ = tuples[0] != '\0' ? std::atoi(tuples) : 0;
    if (PQresultStatus(r.get()) == PGRES_COMMAND_OK && changes_ > 0 &&
        PQtransactionStatus(conn_) == PQTRANS_IDLE) {
      Database::CountCommit();  // a write outside a transaction commits on its own
    }
    return r;
  }

  // Leaves the connection fit for the next Session: a transaction left open is rolled back.
  void Tidy() {
    if (conn_ == nullptr) return;
    if (PQstatus(conn_) != CONNECTION_OK) {
      PQfinish(conn_);
      conn_ = nullptr;
      return;
    }
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) PgResult(PQexec(conn_, "ROLLBACK"));
  }

  // The server's limit on connections for depositbot's role (max_connections less those kept
  // for superusers).
  Result<int> ServerConnectionLimit() {
    auto q = Prepare(
        "SELECT current_setting('max_connections')::int - "
        "current_setting('superuser_reserved_connections')::int");
    if (!q) return q.error();
    auto row = (*q)->Step();
    if (!row) return row.error();
    return static_cast<int>((*q)->ColumnInt(0));
  }

 private:
  Status Run(const char* sql, std::string_view context) {
    PgResult r(PQexec(conn_, sql));
    return Check(r.get(), context);
  }

  // Maps PostgreSQL's answer to an Error like SQLite's: a constraint -> kInvalid, lock waits,
  // serialization failures and a lost connection -> kUnavailable (the caller may try again).
  Status Check(PGresult* r, std::string_view context) {
    ExecStatusType status = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
    std::string msg = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    msg = std::string(context) + ": " + msg;
    const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string_view code = state != nullptr ? state : "";
    if (PQstatus(conn_) != CONNECTION_OK || code.rfind("08", 0) == 0 || code.empty()) {
      return Error::Unavailable("the connection to PostgreSQL at " + shown_ +
                                " failed, try again (" + msg + ")");
    }
    if (code.rfind("23", 0) == 0) return Error::Invalid(msg);
    if (code == "40001" || code == "40P01" || code == "55P03" || code == "57014") {
      return Error::Unavailable("the database is busy, try again (" + msg + ")");
    }
    return Error::Internal(msg);
  }

  std::string uri_;
  std::string shown_;
  int busy_timeout_ms_;
  PGconn* conn_ = nullptr;
  static constexpr size_t kMaxPrepared = 512;
  std::unordered_map<std::string, std::string> prepared_;  // (SQL, types) -> name
  int64_t prepared_count_ = 0;
  int changes_ = 0;
};

Result<bool> PgStatement::Step() {
  if (!ran_) {
    auto r = conn_->Execute(sql_, types_, values_);
    if (!r) return r.error();
    result_ = std::move(*r);
    ran_ = true;
  }
  ++row_;
  return row_ < PQntuples(result_.get());
}

// A session advisory lock on a connection of its own (never one of the pool's: a Session must
// not carry it away). The server releases it when this connection ends, however it ends.
class PgLeaderLock final : public LeaderLock {
 public:
  PgLeaderLock(const std::string& uri, const std::string& shown, int busy_timeout_ms,
               std::string name)
      : conn_(uri, shown, busy_timeout_ms), name_("depositbot." + std::move(name)) {}
  ~PgLeaderLock() override { Release(); }

  bool Hold() override {
    if (held_) {
      // Still connected means still held; a lost connection lost the lock with it.
      if (conn_.Exec("SELECT 1")) return true;
      held_ = false;
      Log(LogLevel::kWarn, "db.leader_lost", {{"lock", name_}});
    }
    auto q = conn_.Prepare("SELECT pg_try_advisory_lock(hashtext(?))");
    if (!q) return false;
    (*q)->BindText(1, name_);
    auto row = (*q)->Step();
    held_ = row && *row && (*q)->ColumnInt(0) == 1;
    return held_;
  }
  void Release() override {
    if (!held_) return;
    held_ = false;
    auto q = conn_.Prepare("SELECT pg_advisory_unlock(hashtext(?))");
    if (!q) return;
    (*q)->BindText(1, name_);
    (void)(*q)->Step();
  }

 private:
  PgConnection conn_;
  std::string name_;
  bool held_ = false;
};

class PgPool final : public ConnectionPool {
 public:
  PgPool(const std::string& uri, const std::string& shown, const Database::Options& options)
      : uri_(uri),
        shown_(shown),
        busy_timeout_ms_(options.busy_timeout_ms),
        timeout_(std::chrono::milliseconds(options.busy_timeout_ms)) {
    for (int i = 0; i < options.pool_size; ++i) {
      all_.push_back(std::make_unique<PgConnection>(uri, shown, options.busy_timeout_ms));
      free_.push_back(all_.back().get());
    }
    stats_.size = options.pool_size;
  }

  Connection* Acquire() override {
    std::unique_lock<std::mutex> lock(mu_);
    if (free_.empty()) {
      ++stats_.waits;
      auto start = std::chrono::steady_clock::now();
      bool got = cv_.wait_for(lock, timeout_, [&] { return !free_.empty(); });
      stats_.wait_micros += std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count();
      if (!got) {
        ++stats_.timeouts;
        return nullptr;
      }
    }
    PgConnection* conn = free_.back();
    free_.pop_back();
    ++stats_.in_use;
    return conn;
  }

  void Give(Connection* conn) override {
    auto* pg = static_cast<PgConnection*>(conn);
    pg->Tidy();
    {
      std::lock_guard<std::mutex> lock(mu_);
      free_.push_back(pg);
      --stats_.in_use;
    }
    cv_.notify_one();
  }

  Connection* Unsessioned() override { return nullptr; }

  std::unique_ptr<LeaderLock> NewLeaderLock(const std::string& name) override {
    return std::make_unique<PgLeaderLock>(uri_, shown_, busy_timeout_ms_, name);
  }

  Database::PoolStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  PgConnection& first() { return *all_.front(); }

 private:
  std::string uri_;
  std::string shown_;
  int busy_timeout_ms_;
  std::chrono::milliseconds timeout_;
  std::vector<std::unique_ptr<PgConnection>> all_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<PgConnection*> free_;
  Database::PoolStats stats_;
};

}  // namespace

Result<std::unique_ptr<ConnectionPool>> OpenPostgres(const std::string& uri,
                                                     const std::string& shown,
                                                     const Database::Options& options) {
  if (options.pool_size < 1 || options.pool_size > 1000) {
    return Error::Invalid("the PostgreSQL pool size must be 1..1000, not " +
                          std::to_string(options.pool_size));
  }
  auto pool = std::make_unique<PgPool>(uri, shown, options);
  // Connect now, so a wrong URI or a server that is down stops start-up, not a user's payment.
  PgConnection& first = pool->first();
  if (auto st = first.Connect(); !st) return st.error();
  auto limit = first.ServerConnectionLimit();
  if (!limit) return limit.error();
  if (options.pool_size > *limit) {
    return Error::Invalid("DB_POOL_SIZE " + std::to_string(options.pool_size) +
                          " is more than the " + std::to_string(*limit) +
                          " connections PostgreSQL at " + shown +
                          " accepts (max_connections less superuser_reserved_connections)");
  }
  return std::unique_ptr<ConnectionPool>(std::move(pool));
}

}  // namespace depositbot
