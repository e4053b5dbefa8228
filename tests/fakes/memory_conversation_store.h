// The agent's memory and the token usage in process memory, as one database holds both: what
// any backend must look like to the agent (agent_store_test, fair_use_test).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "db/conversation_store.h"
#include "db/model_usage_store.h"

namespace depositbot::testing {

class MemoryConversationStore final : public ConversationStore, public ModelUsageStore {
 public:
  Status AppendTurn(int64_t chat_id, const std::vector<StoredMessage>& messages,
                    const ModelUsage& usage) override {
    ++append_calls;
    if (!messages.empty()) turns[chat_id].push_back(messages);
    if (usage.tokens > 0) tokens[{usage.user_id, usage.day}] += usage.tokens;
    return Status::Ok();
  }
  Result<std::vector<StoredMessage>> Recent(int64_t chat_id, int, size_t) override {
    std::vector<StoredMessage> all;
    for (const auto& turn : turns[chat_id]) all.insert(all.end(), turn.begin(), turn.end());
    return all;
  }
  Status Clear(int64_t chat_id) override {
    turns.erase(chat_id);
    return Status::Ok();
  }
  Result<int64_t> TokensOn(int64_t user_id, std::string_view day) override {
    auto it = tokens.find({user_id, std::string(day)});
    return it == tokens.end() ? int64_t{0} : it->second;
  }

  int append_calls = 0;
  std::map<int64_t, std::vector<std::vector<StoredMessage>>> turns;
  std::map<std::pair<int64_t, std::string>, int64_t> tokens;  // (user, day) -> tokens
};

}  // namespace depositbot::testing
