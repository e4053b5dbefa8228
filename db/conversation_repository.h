#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace depositbot {

class Database;

// One stored message of a chat, in the OpenAI shape but as plain strings:
// db knows nothing of the agent's types.
struct StoredMessage {
  std::string role;  // "user", "assistant", "tool"
  std::string content;
  std::optional<std::string> tool_calls_json;  // assistant: JSON array text
  std::optional<std::string> tool_call_id;     // tool: the call it answers
};

// The agent's per-chat memory. Thread-safe like the other repositories.
class ConversationRepository {
 public:
  ConversationRepository(Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Appends one turn (a user message and everything that followed) atomically.
  Status AppendTurn(int64_t chat_id, const std::vector<StoredMessage>& messages);
  // The newest messages of a chat, oldest first: at most `max_messages`, and
  // at most `max_chars` of content in total. The window always starts at a
  // user message so that no tool result is separated from its call.
  Result<std::vector<StoredMessage>> Recent(int64_t chat_id, int max_messages, size_t max_chars);
  // Forgets a chat's history (/reset).
  Status Clear(int64_t chat_id);

 private:
  Database& db_;
  const Clock& clock_;
};

}  // namespace depositbot
