#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "common/result.h"

namespace depositbot {

// Which chat message told which admin about a pending deposit, so that every
// copy can be edited once the deposit is decided. Implementations are thread-safe.
class NotificationStore {
 public:
  virtual ~NotificationStore() = default;

  virtual Status Save(int64_t transaction_id, int64_t chat_id, int64_t message_id) = 0;
  // (chat_id, message_id) pairs for a transaction.
  virtual Result<std::vector<std::pair<int64_t, int64_t>>> ForTransaction(
      int64_t transaction_id) = 0;
};

}  // namespace depositbot
