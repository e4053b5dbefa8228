#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace depositbot {

// Model tokens one user spent on one UTC day, as the model server reported them
// (usage.total_tokens summed over a turn's model calls).
struct ModelUsage {
  int64_t user_id = 0;  // users.id
  std::string day;      // the UTC date "YYYY-MM-DD"
  int64_t tokens = 0;   // >= 0; 0 adds nothing
};

// What the daily model-token budget reads. Tokens are added with the turn that spent them, in
// its transaction (ConversationStore::AppendTurn), so a turn is never stored without its cost
// nor counted without being stored. Implementations are thread-safe, also across processes
// sharing the store: every process on one database reads the same sums. Failures come back as
// kUnavailable (busy) or kInternal.
class ModelUsageStore {
 public:
  virtual ~ModelUsageStore() = default;

  // The tokens `user_id` spent on `day` ("YYYY-MM-DD"); 0 when nothing was recorded.
  virtual Result<int64_t> TokensOn(int64_t user_id, std::string_view day) = 0;
};

}  // namespace depositbot
