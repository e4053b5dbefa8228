#pragma once

#include <cstdint>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "db/conversation_store.h"

namespace depositbot {

class Database;

// The ConversationStore on SQLite. Thread-safe like the other repositories.
class ConversationRepository final : public ConversationStore {
 public:
  ConversationRepository(Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  Status AppendTurn(int64_t chat_id, const std::vector<StoredMessage>& messages,
                    const ModelUsage& usage) override;
  Result<std::vector<StoredMessage>> Recent(int64_t chat_id, int max_messages,
                                            size_t max_chars) override;
  Status Clear(int64_t chat_id) override;

 private:
  Database& db_;
  const Clock& clock_;
};

}  // namespace depositbot
