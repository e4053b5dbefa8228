#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "agent/chat_model.h"

namespace depositbot {

// The offline model: turns slash commands and a few plain English (and
// Korean) phrases into the same tool calls an LLM would make, and turns the
// tool results into short replies. Used for every message when no LLM is
// configured, and for slash commands always (instant, free, deterministic).
// It reads only the newest user message and the tool results that follow it.
// Tool call ids are deterministic ("rb" + a counter, 9 characters).
// Thread-safe.
class RuleBasedModel final : public ChatModel {
 public:
  Result<ChatResponse> Complete(const ChatRequest& request) override;
  std::string Name() const override { return "offline"; }

  // True for text that starts with '/': the agent sends these here in every mode.
  static bool IsCommand(std::string_view text);
  // The help text listing what the offline model understands.
  static std::string HelpText(bool for_admin);
  // The same in Korean, for a user who writes Korean.
  static std::string HelpTextKorean(bool for_admin);

 private:
  ChatResponse Interpret(const ChatRequest& request, const std::string& text);
  ChatResponse Render(const ChatRequest& request);
  ChatResponse Call(std::string name, nlohmann::json args);

  std::atomic<int64_t> next_id_{1};
};

}  // namespace depositbot
