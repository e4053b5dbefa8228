#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace depositbot {

class Statement;

// One SQLite connection with the settings money needs: WAL, foreign keys on,
// synchronous=FULL (a committed deposit survives power loss: tests/power_loss_test shows
// NORMAL losing told deposits), a busy timeout.
// A Database is used by one thread at a time; callers that share one across
// threads hold mutex() for the duration of a unit of work. Open one per thread
// (or process) for real concurrency; the version check keeps them correct.
class Database {
 public:
  struct Options {
    int busy_timeout_ms = 5000;
    bool create = true;
  };

  // Opens (and creates) `path`; ":memory:" for tests. Fails with a sentence
  // naming the path when it is not a SQLite database, cannot be created, or
  // is read-only.
  static Result<std::unique_ptr<Database>> Open(const std::string& path, Options options);
  static Result<std::unique_ptr<Database>> Open(const std::string& path) {
    return Open(path, Options{});
  }
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  // Compiles one statement, or takes the idle one a previous Prepare of the same text left
  // (reset, no bindings); errors carry SQLite's message.
  Result<Statement> Prepare(std::string_view sql);

  // Write transactions committed by every Database of this process so far (each one a durable
  // commit): what serve reports as depositbot_db_commits_total.
  static int64_t CommitsInProcess();

  int64_t LastInsertRowId() const;
  int Changes() const;
  const std::string& path() const { return path_; }
  std::mutex& mutex() { return mu_; }

  // Turns a SQLite result code into an Error (busy -> kUnavailable, constraint -> kInvalid...).
  Error ErrorFor(int rc, std::string_view context) const;

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  // A statement whose Statement ended: reset and kept for the next Prepare of the same SQL
  // (compiling SQL was a quarter of serve's CPU per message), or finalized past the bound.
  void Release(sqlite3_stmt* stmt);

  static constexpr size_t kMaxCachedStatements = 256;
  sqlite3* db_;
  std::string path_;
  std::mutex mu_;
  std::mutex cache_mu_;  // the cache only: Statements may end on any thread
  std::unordered_multimap<std::string, sqlite3_stmt*> cache_;  // idle prepared statements
  friend class Statement;
};

// A prepared statement (RAII). Bind indexes start at 1, columns at 0.
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
  Statement(Database* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Database* db_;
  sqlite3_stmt* stmt_;
};

// A transaction that rolls back in its destructor unless committed.
// kImmediate takes the write lock at BEGIN: in WAL a deferred transaction
// that reads and then writes fails with SQLITE_BUSY_SNAPSHOT regardless of
// the busy timeout, so every write transaction is immediate.
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
