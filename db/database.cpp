#include "db/database.h"

#include <atomic>
#include <vector>

#include "common/database_target.h"
#include "common/log.h"
#include "db/connection.h"

namespace depositbot {
namespace {

std::atomic<int64_t> g_commits{0};

// The Sessions this thread holds, one per Database (a handful at most).
struct Held {
  const Database* db;
  Connection* conn;
};
thread_local std::vector<Held> t_held;

Connection* HeldBy(const Database* db) {
  for (const Held& h : t_held) {
    if (h.db == db) return h.conn;
  }
  return nullptr;
}

bool HoldsAny(const Database* db) {
  for (const Held& h : t_held) {
    if (h.db == db) return true;
  }
  return false;
}

void Forget(const Database* db) {
  for (auto it = t_held.begin(); it != t_held.end(); ++it) {
    if (it->db == db) {
      t_held.erase(it);
      return;
    }
  }
}

Error NoConnection(const Database& db) {
  return Error::Unavailable("the database is busy, try again (no free connection to " + db.path() +
                            " within the busy timeout; DB_POOL_SIZE bounds them)");
}

}  // namespace

int64_t Database::CommitsInProcess() { return g_commits.load(std::memory_order_relaxed); }
void Database::CountCommit() { g_commits.fetch_add(1, std::memory_order_relaxed); }

bool Database::IsPostgresTarget(std::string_view target) { return IsPostgresUri(target); }

std::string Database::Redacted(std::string_view target) { return RedactedDatabaseTarget(target); }

Result<std::unique_ptr<Database>> Database::Open(const std::string& target, Options options) {
  if (IsPostgresTarget(target)) {
    std::string shown = Redacted(target);
    auto pool = OpenPostgres(target, shown, options);
    if (!pool) return pool.error();
    return std::unique_ptr<Database>(
        new Database(Backend::kPostgres, std::move(shown), std::move(*pool)));
  }
  auto pool = OpenSqlite(target, options);
  if (!pool) return pool.error();
  return std::unique_ptr<Database>(new Database(Backend::kSqlite, target, std::move(*pool)));
}

Database::Database(Backend backend, std::string path, std::unique_ptr<ConnectionPool> pool)
    : backend_(backend), path_(std::move(path)), pool_(std::move(pool)) {}

Database::~Database() = default;

std::string_view Database::backend_name() const {
  return backend_ == Backend::kPostgres ? "postgresql" : "sqlite";
}

Database::PoolStats Database::pool_stats() const { return pool_->stats(); }

std::unique_ptr<LeaderLock> Database::NewLeaderLock(const std::string& name) {
  return pool_->NewLeaderLock(name);
}

Database::Session Database::Lock() {
  if (HoldsAny(this)) return Session(this, HeldBy(this), false);
  Connection* conn = pool_->Acquire();
  t_held.push_back({this, conn});
  return Session(this, conn, true);
}

Database::Session::Session(Session&& other) noexcept
    : db_(other.db_), conn_(other.conn_), outer_(other.outer_) {
  other.db_ = nullptr;
}

Database::Session::~Session() {
  if (db_ == nullptr || !outer_) return;
  Forget(db_);
  if (conn_ != nullptr) db_->pool_->Give(conn_);
}

Connection* Database::Current() {
  if (HoldsAny(this)) return HeldBy(this);
  return pool_->Unsessioned();
}

Status Database::Exec(std::string_view sql) {
  if (!HoldsAny(this) && pool_->Unsessioned() == nullptr) {
    Session session = Lock();  // a statement on its own: a Session just for it
    return Exec(sql);
  }
  Connection* conn = Current();
  if (conn == nullptr) return NoConnection(*this);
  return conn->Exec(sql);
}

Result<Statement> Database::Prepare(std::string_view sql) {
  Connection* conn = Current();
  if (conn == nullptr) return NoConnection(*this);
  auto impl = conn->Prepare(sql);
  if (!impl) return impl.error();
  return Statement(std::move(*impl));
}

int64_t Database::LastInsertRowId() {
  Connection* conn = Current();
  return conn == nullptr ? 0 : conn->LastInsertRowId();
}

int Database::Changes() {
  Connection* conn = Current();
  return conn == nullptr ? 0 : conn->Changes();
}

Statement::Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}
Statement::Statement(Statement&& other) noexcept = default;
Statement& Statement::operator=(Statement&& other) noexcept = default;
Statement::~Statement() = default;

Statement& Statement::Bind(int index, int64_t value) {
  impl_->BindInt(index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view value) {
  impl_->BindText(index, value);
  return *this;
}

Statement& Statement::Bind(int index, const std::optional<int64_t>& value) {
  return value ? Bind(index, *value) : BindNull(index);
}

Statement& Statement::Bind(int index, const std::optional<std::string>& value) {
  return value ? Bind(index, std::string_view(*value)) : BindNull(index);
}

Statement& Statement::BindNull(int index) {
  impl_->BindNull(index);
  return *this;
}

Result<bool> Statement::Step() { return impl_->Step(); }

Status Statement::Run() {
  while (true) {
    auto r = Step();
    if (!r) return r.error();
    if (!*r) return Status::Ok();
  }
}

int64_t Statement::ColumnInt(int column) const { return impl_->ColumnInt(column); }
std::string Statement::ColumnText(int column) const { return impl_->ColumnText(column); }
bool Statement::ColumnIsNull(int column) const { return impl_->ColumnIsNull(column); }

std::optional<int64_t> Statement::ColumnOptionalInt(int column) const {
  if (ColumnIsNull(column)) return std::nullopt;
  return ColumnInt(column);
}

std::optional<std::string> Statement::ColumnOptionalText(int column) const {
  if (ColumnIsNull(column)) return std::nullopt;
  return ColumnText(column);
}

Result<Transaction> Transaction::Begin(Database& db, Kind kind) {
  Connection* conn = db.Current();
  if (conn == nullptr) return NoConnection(db);
  if (auto st = conn->Exec(conn->BeginSql(kind)); !st) return st.error();
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_) {
    if (auto st = db_->Exec("ROLLBACK"); !st) {
      Log(LogLevel::kError, "db.rollback_failed", {{"error", st.error().message}});
    }
  }
}

Status Transaction::Commit() {
  auto st = db_->Exec("COMMIT");
  if (!st) return st;  // the destructor rolls back
  db_ = nullptr;
  return Status::Ok();
}

}  // namespace depositbot
