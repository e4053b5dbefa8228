// The SQLite backend: one connection per Database, shared by the threads that take turns on
// its mutex (Database::Lock).

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "db/connection.h"

namespace depositbot {
namespace {

class SqliteConnection;

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(SqliteConnection* conn, sqlite3_stmt* stmt) : conn_(conn), stmt_(stmt) {}
  ~SqliteStatement() override;

  void BindInt(int index, int64_t value) override { sqlite3_bind_int64(stmt_, index, value); }
  void BindText(int index, std::string_view value) override {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }
  void BindNull(int index) override { sqlite3_bind_null(stmt_, index); }
  Result<bool> Step() override;
  int64_t ColumnInt(int column) const override { return sqlite3_column_int64(stmt_, column); }
  std::string ColumnText(int column) const override {
    const unsigned char* t = sqlite3_column_text(stmt_, column);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
             : std::string();
  }
  bool ColumnIsNull(int column) const override {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
  }

 private:
  SqliteConnection* conn_;
  sqlite3_stmt* stmt_;
};

// flock() on "<database>.<name>.lock": the kernel releases it when the holder dies.
class FileLeaderLock final : public LeaderLock {
 public:
  explicit FileLeaderLock(std::string path) : path_(std::move(path)) {}
  ~FileLeaderLock() override { Release(); }
  bool Hold() override {
    if (fd_ >= 0) return true;
    int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      return false;
    }
    fd_ = fd;
    return true;
  }
  void Release() override {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// An in-memory database belongs to one process: it always leads.
class SoleLeaderLock final : public LeaderLock {
 public:
  bool Hold() override { return true; }
  void Release() override {}
};

class SqliteConnection final : public Connection, public ConnectionPool {
 public:
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
    if (in_use_fd_ >= 0) close(in_use_fd_);
  }

  // Marks the file in use by this process until the connection closes: a shared flock() on
  // InUseLockPath(path), which `depositbot restore` takes exclusively. Refused while a restore
  // holds it, so no process starts on a database being overwritten.
  Status MarkInUse() {
    std::string lock_path = Database::InUseLockPath(path_);
    int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Error::Internal("cannot create \"" + lock_path +
                             "\" beside the database: " + std::strerror(errno));
    }
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
      close(fd);
      return Error::Unavailable("database \"" + path_ +
                                "\" is being restored (`depositbot restore` holds it); start "
                                "again when the restore has finished");
    }
    in_use_fd_ = fd;
    return Status::Ok();
  }

  // Connection
  Status Exec(std::string_view sql) override {
    std::string s(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) return ErrorFor(rc, "exec");
    return Status::Ok();
  }
  Result<std::unique_ptr<StatementImpl>> Prepare(std::string_view sql) override {
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = cache_.find(std::string(sql));
      if (it != cache_.end()) {
        sqlite3_stmt* cached = it->second;
        cache_.erase(it);
        return std::unique_ptr<StatementImpl>(new SqliteStatement(this, cached));
      }
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return ErrorFor(rc, "prepare");
    return std::unique_ptr<StatementImpl>(new SqliteStatement(this, stmt));
  }
  int64_t LastInsertRowId() override { return sqlite3_last_insert_rowid(db_); }
  int Changes() override { return sqlite3_changes(db_); }
  std::string_view BeginSql(Transaction::Kind kind) const override {
    return kind == Transaction::Kind::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED";
  }

  // ConnectionPool: the one connection, one Session at a time.
  Connection* Acquire() override {
    if (!mu_.try_lock()) {
      auto start = std::chrono::steady_clock::now();
      mu_.lock();
      std::lock_guard<std::mutex> lock(stats_mu_);
      ++stats_.waits;
      stats_.wait_micros += std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count();
    }
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.in_use = 1;
    return this;
  }
  void Give(Connection*) override {
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.in_use = 0;
    }
    mu_.unlock();
  }
  Connection* Unsessioned() override { return this; }
  std::unique_ptr<LeaderLock> NewLeaderLock(const std::string& name) override {
    if (path_ == ":memory:" || path_.empty()) return std::make_unique<SoleLeaderLock>();
    return std::make_unique<FileLeaderLock>(path_ + "." + name + ".lock");
  }
  Database::PoolStats stats() const override {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

  // Turns a SQLite result code into an Error (busy -> kUnavailable, constraint -> kInvalid...).
  Error ErrorFor(int rc, std::string_view context) const {
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

  // A statement whose Statement ended: reset and kept for the next Prepare of the same SQL
  // (compiling SQL was a quarter of serve's CPU per message), or finalized past the bound.
  void Release(sqlite3_stmt* stmt) {
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

  sqlite3* raw() { return db_; }

 private:
  static constexpr size_t kMaxCachedStatements = 256;
  sqlite3* db_;
  std::string path_;
  std::mutex mu_;  // held by the Session using the connection
  mutable std::mutex stats_mu_;
  Database::PoolStats stats_;
  std::mutex cache_mu_;  // the cache only: Statements may end on any thread
  std::unordered_multimap<std::string, sqlite3_stmt*> cache_;  // idle prepared statements
  int in_use_fd_ = -1;                                         // MarkInUse's shared lock
};

SqliteStatement::~SqliteStatement() { conn_->Release(stmt_); }

Result<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return conn_->ErrorFor(rc, "step");
}

}  // namespace

Result<std::unique_ptr<ConnectionPool>> OpenSqlite(const std::string& path,
                                                   const Database::Options& options) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create) flags |= SQLITE_OPEN_CREATE;
  }
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return Error::Internal("cannot open database \"" + path + "\": " + msg);
  }
  auto db = std::make_unique<SqliteConnection>(raw, path);
  sqlite3_extended_result_codes(raw, 1);
  // Runs for write transactions only: each is one durable commit (an fsync at synchronous=FULL).
  sqlite3_commit_hook(
      raw,
      [](void*) {
        Database::CountCommit();
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
  if (options.read_only) {
    if (auto st = db->Exec("SELECT COUNT(*) FROM sqlite_master"); !st) {
      return Error::Internal("\"" + path +
                             "\" is not a usable SQLite database: " + st.error().message);
    }
    return std::unique_ptr<ConnectionPool>(std::move(db));
  }
  if (path != ":memory:") {
    auto mode = db->Prepare("PRAGMA journal_mode = WAL");
    if (!mode) return Error::Internal("\"" + path + "\": " + mode.error().message);
    auto row = (*mode)->Step();
    if (!row) return unusable(row.error());
    if (*row && (*mode)->ColumnText(0) != "wal") {
      return Error::Internal("\"" + path + "\" could not be switched to WAL mode (got " +
                             (*mode)->ColumnText(0) + ")");
    }
  }
  // A read-only file opens fine and fails only at the first write; find out now.
  if (sqlite3_db_readonly(raw, "main") == 1) {
    return Error::Internal("database \"" + path + "\" is read-only; depositbot needs to write it");
  }
  if (path != ":memory:" && !path.empty()) {
    if (auto st = db->MarkInUse(); !st) return st.error();
  }
  return std::unique_ptr<ConnectionPool>(std::move(db));
}

}  // namespace depositbot
