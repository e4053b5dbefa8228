#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "common/result.h"
#include "db/notification_store.h"

namespace depositbot {

class Database;

// The NotificationStore on SQLite. Thread-safe.
class NotificationRepository final : public NotificationStore {
 public:
  explicit NotificationRepository(Database& db) : db_(db) {}

  Status Save(int64_t transaction_id, int64_t chat_id, int64_t message_id) override;
  Result<std::vector<std::pair<int64_t, int64_t>>> ForTransaction(int64_t transaction_id) override;

 private:
  Database& db_;
};

}  // namespace depositbot
