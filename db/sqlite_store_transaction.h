#pragma once

#include <stdexcept>

#include "db/store_transaction.h"

namespace depositbot {

class Database;

// The SQLite form of a StoreTransaction: the Database whose write transaction is open (its mutex
// held by the store that opened it). Private to db/'s SQLite stores.
class SqliteStoreTransaction final : public StoreTransaction {
 public:
  explicit SqliteStoreTransaction(Database& db) : db_(db) {}

  // The Database of `tx`; throws std::logic_error for a transaction of another backend (a bug).
  static Database& Of(StoreTransaction& tx) {
    if (auto* sqlite = dynamic_cast<SqliteStoreTransaction*>(&tx)) return sqlite->db_;
    throw std::logic_error("a store transaction of another backend was given to a SQLite store");
  }

 private:
  Database& db_;
};

}  // namespace depositbot
