#pragma once

// Private to db/: what a backend implements behind Database, Statement and Transaction.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "db/database.h"
#include "db/leader_lock.h"

namespace depositbot {

class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void BindInt(int index, int64_t value) = 0;
  virtual void BindText(int index, std::string_view value) = 0;
  virtual void BindNull(int index) = 0;
  virtual Result<bool> Step() = 0;
  virtual int64_t ColumnInt(int column) const = 0;
  virtual std::string ColumnText(int column) const = 0;
  virtual bool ColumnIsNull(int column) const = 0;
};

// One connection of a backend. Used by one thread at a time (its Session's).
class Connection {
 public:
  virtual ~Connection() = default;
  virtual Status Exec(std::string_view sql) = 0;
  virtual Result<std::unique_ptr<StatementImpl>> Prepare(std::string_view sql) = 0;
  virtual int64_t LastInsertRowId() = 0;
  virtual int Changes() = 0;
  // The BEGIN statement of a transaction of `kind` in this backend's dialect.
  virtual std::string_view BeginSql(Transaction::Kind kind) const = 0;
};

// Hands out connections. SQLite: one connection behind a mutex. PostgreSQL: a bounded pool.
class ConnectionPool {
 public:
  virtual ~ConnectionPool() = default;
  // Blocks until a connection is free; null after the busy timeout (counted in stats()).
  virtual Connection* Acquire() = 0;
  virtual void Give(Connection* conn) = 0;
  // The connection a caller without a Session may use (SQLite's one connection), else null.
  virtual Connection* Unsessioned() = 0;
  virtual Database::PoolStats stats() const = 0;
  virtual std::unique_ptr<LeaderLock> NewLeaderLock(const std::string& name) = 0;
};

// The backends' factories (db/sqlite_connection.cpp, db/postgres_connection.cpp).
Result<std::unique_ptr<ConnectionPool>> OpenSqlite(const std::string& path,
                                                   const Database::Options& options);
Result<std::unique_ptr<ConnectionPool>> OpenPostgres(const std::string& uri,
                                                     const std::string& shown,
                                                     const Database::Options& options);

}  // namespace depositbot
