#include "db/database.h"

#include <sqlite3.h>

#include <atomic>

#include "common/log.h"

namespace depositbot {
namespace {
std::atomic<int64_t> g_commits{0};
}  // namespace

int64_t Database::CommitsInProcess() { return g_commits.load(std::memory_order_relaxed); }

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, Options options) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return Error::Internal("cannot open database \"" + path + "\": " + msg);
  }
  std::unique_ptr<Database> db(new Database(raw, path));
  sqlite3_extended_result_codes(raw, 1);
  // Runs for write transactions only: each is one durable commit (an fsync at synchronous=FULL).
  sqlite3_commit_hook(
      raw,
      [](void*) {
        g_commits.fetch_add(1, std::memory_order_relaxed);
        return 0;  // go on with the commit
      },
      nullptr);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  // A failure of the first statements is either a file we may not write (a
  // read-only file or directory: WAL needs the -wal/-shm files beside it) or a
  // file that is not SQLite; say which, so the operator fixes the right thing.
  auto unusable = [&](const Error& e) {
    int code = sqlite3_errcode(raw) & 0xff;
    std::string sqlite_says = sqlite3_errmsg(raw);
    if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN ||
        sqlite3_db_readonly(raw, "main") == 1) {
      return Error::Internal("database \"" + path +
                             "\" is read-only (or its directory is); "
                             "depositbot needs to write it and its -wal/-shm files (" +
                             sqlite_says + ")");
    }
    return Error::Internal("\"" + path + "\" is not a usable SQLite database: " + e.message);
  };
  // The first statements read the header: a file that is not SQLite fails here.
  if (auto st = db->Exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"); !st) {
    return unusable(st.error());
  }
  if (path != ":memory:") {
    auto mode = db->Prepare("PRAGMA journal_mode = WAL");
    if (!mode) return Error::Internal("\"" + path + "\": " + mode.error().message);
    auto row = mode->Step();
    if (!row) return unusable(row.error());
    if (*row && mode->ColumnText(0) != "wal") {
      return Error::Internal("\"" + path + "\" could not be switched to WAL mode (got " +
                             mode->ColumnText(0) + ")");
    }
  }
  // A read-only file opens fine and fails only at the first write; find out now.
  if (sqlite3_db_readonly(raw, "main") == 1) {
    return Error::Internal("database \"" + path + "\" is read-only; depositbot needs to write it");
  }
  return db;
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

void Database::Release(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  const char* sql = sqlite3_sql(stmt);
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (sql != nullptr && cache_.size() < kMaxCachedStatements) {
    cache_.emplace(sql, stmt);
  } else {
    sqlite3_finalize(stmt);
  }
}

Error Database::ErrorFor(int rc, std::string_view context) const {
  std::string msg = std::string(context) + ": " + sqlite3_errmsg(db_);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Error::Unavailable("the database is busy, try again (" + msg + ")");
    case SQLITE_CONSTRAINT:
      return Error::Invalid(msg);
    case SQLITE_NOTADB:
      return Error::Internal("\"" + path_ + "\" is not a SQLite database (" + msg + ")");
    case SQLITE_READONLY:
      return Error::Internal("database \"" + path_ + "\" is read-only (" + msg + ")");
    default:
      return Error::Internal(msg);
  }
}

Status Database::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return ErrorFor(rc, "exec");
  return Status::Ok();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(std::string(sql));
    if (it != cache_.end()) {
      sqlite3_stmt* cached = it->second;
      cache_.erase(it);
      return Statement(this, cached);
    }
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return ErrorFor(rc, "prepare");
  return Statement(this, stmt);
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Database::Changes() const { return sqlite3_changes(db_); }

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) db_->Release(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ != nullptr) db_->Release(stmt_);
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::Bind(int index, const std::optional<int64_t>& value) {
  return value ? Bind(index, *value) : BindNull(index);
}

Statement& Statement::Bind(int index, const std::optional<std::string>& value) {
  return value ? Bind(index, std::string_view(*value)) : BindNull(index);
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->ErrorFor(rc, "step");
}

Status Statement::Run() {
  while (true) {
    auto r = Step();
    if (!r) return r.error();
    if (!*r) return Status::Ok();
  }
}

int64_t Statement::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::ColumnText(int column) const {
  const unsigned char* t = sqlite3_column_text(stmt_, column);
  return t ? std::string(reinterpret_cast<const char*>(t),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
           : std::string();
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::optional<int64_t> Statement::ColumnOptionalInt(int column) const {
  if (ColumnIsNull(column)) return std::nullopt;
  return ColumnInt(column);
}

std::optional<std::string> Statement::ColumnOptionalText(int column) const {
  if (ColumnIsNull(column)) return std::nullopt;
  return ColumnText(column);
}

Result<Transaction> Transaction::Begin(Database& db, Kind kind) {
  auto st = db.Exec(kind == Kind::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
  if (!st) return st.error();
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
