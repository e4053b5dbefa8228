#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "db/model_usage_store.h"

namespace depositbot {

// One stored message of a chat, in the OpenAI shape but as plain strings:
// db knows nothing of the agent's types.
struct StoredMessage {
  std::string role;  // "user", "assistant", "tool"
  std::string content;
  std::optional<std::string> tool_calls_json;  // assistant: JSON array text
  std::optional<std::string> tool_call_id;     // tool: the call it answers
};

// The agent's per-chat memory. Implementations are thread-safe: any thread may call, and
// several processes may share one store. A failure of the store itself comes back as
// kUnavailable (busy; may succeed later) or kInternal, with nothing half-written.
class ConversationStore {
 public:
  virtual ~ConversationStore() = default;

  // Appends one turn (a user message and everything that followed) and adds the model tokens
  // it spent to `usage`'s day, atomically: one transaction, one commit. With no messages only
  // the tokens are added (a turn that is not remembered still costs what it cost); with no
  // messages and zero tokens nothing is written.
  virtual Status AppendTurn(int64_t chat_id, const std::vector<StoredMessage>& messages,
                            const ModelUsage& usage) = 0;
  // The newest messages of a chat, oldest first: at most `max_messages`, and
  // at most `max_chars` of content in total. The window always starts at a
  // user message so that no tool result is separated from its call.
  virtual Result<std::vector<StoredMessage>> Recent(int64_t chat_id, int max_messages,
                                                    size_t max_chars) = 0;
  // Forgets a chat's history (/reset).
  virtual Status Clear(int64_t chat_id) = 0;
};

}  // namespace depositbot
