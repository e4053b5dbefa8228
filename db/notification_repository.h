#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "common/result.h"

namespace depositbot {

class Database;

// Which chat message told which admin about a pending deposit, so that every
// copy can be edited once the deposit is decided. Thread-safe.
class NotificationRepository {
 public:
  explicit NotificationRepository(Database& db) : db_(db) {}

  Status Save(int64_t transaction_id, int64_t chat_id, int64_t message_id);
  // (chat_id, message_id) pairs for a transaction.
  Result<std::vector<std::pair<int64_t, int64_t>>> ForTransaction(int64_t transaction_id);

 private:
  Database& db_;
};

}  // namespace depositbot
