#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace depositbot {

class Connection;
class ConnectionPool;
class LeaderLock;
class StatementImpl;
class Statement;

// The store's database: a SQLite file or a PostgreSQL database, chosen by the target given to
// Open() (DEPOSITBOT_DB). SQL runs on the connection of the caller's Session: take one with
// Lock() for each unit of work and keep it while its statements and transaction run.
//  - SQLite: one connection with the settings money needs (WAL, foreign keys on,
//    synchronous=FULL: a committed deposit survives power loss, tests/power_loss_test shows
//    NORMAL losing told deposits) and a busy timeout. A Session holds its mutex, so one thread
//    at a time uses it; open one per thread (or process) for real concurrency.
//  - PostgreSQL: a pool of `pool_size` connections, each Session holding one; a Session waits
//    up to the busy timeout for a free connection, then its statements fail kUnavailable.
// The version check keeps concurrent connections (and processes, and machines) correct.
// Thread-safe: any thread may call Lock(); statements run on the calling thread's Session.
class Database {
 public:
  enum class Backend { kSqlite, kPostgres };

  struct Options {
    int busy_timeout_ms = 5000;
    bool create = true;  // SQLite: create a missing file
    int pool_size = 16;  // PostgreSQL: connections at most (1..1000)
    // SQLite: open the file only to read it (a backup being checked): nothing is written to it
    // or beside it, and it does not count as in use (InUseLockPath).
    bool read_only = false;
  };

  // Opens `target`: a "postgresql://" (or "postgres://") URI, else a SQLite path (":memory:" for
  // tests). Fails with a sentence naming the target (a password in it is never shown) when it is
  // not a database depositbot can use: not SQLite, read-only, unreachable, the pool larger than
  // the server accepts.
  static Result<std::unique_ptr<Database>> Open(const std::string& target, Options options);
  static Result<std::unique_ptr<Database>> Open(const std::string& target) {
    return Open(target, Options{});
  }
  static bool IsPostgresTarget(std::string_view target);
  // The target with any password replaced by "***", for logs and messages.
  static std::string Redacted(std::string_view target);
  // SQLite: the file beside the database on which every process that opened it holds a shared
  // flock() while it runs; `depositbot restore` takes it exclusively. "<path>.in-use.lock".
  static std::string InUseLockPath(std::string_view sqlite_path) {
    return std::string(sqlite_path) + ".in-use.lock";
  }
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Backend backend() const { return backend_; }
  // "sqlite" or "postgresql", for /healthz and logs.
  std::string_view backend_name() const;
  // The target as given, password redacted.
  const std::string& path() const { return path_; }

  // A unit of work's hold on one connection (RAII, move-only). A Session taken while the same
  // thread already holds one on this Database shares it, so a store called inside another's
  // transaction (DepositStore::Purchase's `also`) runs in that transaction.
  class Session {
   public:
    Session(Session&& other) noexcept;
    Session& operator=(Session&&) = delete;
    Session(const Session&) = delete;
    ~Session();

   private:
    friend class Database;
    Session(Database* db, Connection* conn, bool outer) : db_(db), conn_(conn), outer_(outer) {}
    Database* db_;
    Connection* conn_;  // null: the pool had no free connection in time
    bool outer_;        // this Session took the connection (and gives it back)
  };
  [[nodiscard]] Session Lock();

  // Runs one or more statements without results (in a Session of its own when the caller
  // holds none).
  Status Exec(std::string_view sql);
  // Compiles one statement with `?` placeholders (or takes the idle one a previous Prepare of the
  // same text left); errors carry the database's message.
  Result<Statement> Prepare(std::string_view sql);
  int64_t LastInsertRowId();
  // Rows changed by the last INSERT/UPDATE/DELETE on this thread's connection.
  int Changes();

  // Write transactions committed by every Database of this process so far (each one a durable
  // commit): what serve reports as depositbot_db_commits_total.
  static int64_t CommitsInProcess();
  static void CountCommit();

  // A lock named `name` that one process at a time holds among all sharing this database (see
  // db/leader_lock.h).
  std::unique_ptr<LeaderLock> NewLeaderLock(const std::string& name);

  // The pool's state for /metrics (SQLite: one connection).
  struct PoolStats {
    int size = 1;
    int in_use = 0;
    int64_t waits = 0;        // Lock() calls that found no free connection
    int64_t wait_micros = 0;  // time spent waiting for one
    int64_t timeouts = 0;     // waits given up after the busy timeout
  };
  PoolStats pool_stats() const;

 private:
  Database(Backend backend, std::string path, std::unique_ptr<ConnectionPool> pool);
  // The calling thread's connection on this Database: its Session's, or for SQLite the one
  // connection; null when it holds none (PostgreSQL) or the pool timed out.
  Connection* Current();
  friend class Transaction;

  Backend backend_;
  std::string path_;
  std::unique_ptr<ConnectionPool> pool_;
};

// A prepared statement (RAII). Bind indexes start at 1, columns at 0. Belongs to the Session it
// was prepared in and must end before it.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);
  Statement& Bind(int index, const std::optional<int64_t>& value);
  Statement& Bind(int index, const std::optional<std::string>& value);
  Statement& BindNull(int index);

  // Advances: true when a row is available, false when done.
  Result<bool> Step();
  // Steps until done (for INSERT/UPDATE/DELETE).
  Status Run();

  int64_t ColumnInt(int column) const;
  std::string ColumnText(int column) const;
  bool ColumnIsNull(int column) const;
  std::optional<int64_t> ColumnOptionalInt(int column) const;
  std::optional<std::string> ColumnOptionalText(int column) const;

 private:
  friend class Database;
  explicit Statement(std::unique_ptr<StatementImpl> impl);
  std::unique_ptr<StatementImpl> impl_;
};

// A transaction that rolls back in its destructor unless committed.
// kImmediate is for writes. On SQLite it takes the write lock at BEGIN: in WAL a deferred
// transaction that reads and then writes fails with SQLITE_BUSY_SNAPSHOT regardless of the busy
// timeout. On PostgreSQL it is READ COMMITTED, where a conditional UPDATE re-checks its WHERE
// on the row a concurrent commit left (the version check). kDeferred reads one consistent
// snapshot (PostgreSQL: REPEATABLE READ), so a report's statements agree with each other.
class Transaction {
 public:
  enum class Kind { kDeferred, kImmediate };
  static Result<Transaction> Begin(Database& db, Kind kind);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  Status Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
};

}  // namespace depositbot
