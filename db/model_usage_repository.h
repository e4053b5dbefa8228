#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "db/model_usage_store.h"

namespace depositbot {

class Database;

// The ModelUsageStore on SQLite (table model_usage, migration 007). Thread-safe like the other
// repositories.
class ModelUsageRepository final : public ModelUsageStore {
 public:
  explicit ModelUsageRepository(Database& db) : db_(db) {}

  Result<int64_t> TokensOn(int64_t user_id, std::string_view day) override;

  // Adds `usage` (one turn) to its row inside the caller's open write transaction on `db`,
  // whose mutex the caller holds; `now` (unix seconds) stamps the row. Does nothing for zero
  // tokens. Fails with kInvalid for negative tokens or a user that does not exist, leaving the
  // caller to roll back.
  static Status AddInTransaction(Database& db, const ModelUsage& usage, int64_t now);

 private:
  Database& db_;
};

}  // namespace depositbot
