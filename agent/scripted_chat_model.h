#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "agent/chat_model.h"
#include "common/result.h"

namespace depositbot {

// A ChatModel that plays back recorded replies in order and records every request, for tests
// and offline fixture replay. Each Complete takes the next reply; when none is left it fails
// with kInternal "scripted model has no reply for request #N" (N counts from 1). Thread-safe.
class ScriptedChatModel final : public ChatModel {
 public:
  // A reply is a response or an error the model should fail with.
  using Reply = Result<ChatResponse>;

  ScriptedChatModel() = default;
  explicit ScriptedChatModel(std::vector<ChatResponse> replies);

  // Parses a script: a JSON array whose elements are
  //   - an OpenAI-shaped assistant message, e.g. {"content":"Your balance is ..."} or
  //     {"tool_calls":[{"name":"manage_deposit","arguments":{"action":"balance"}}]}
  //     (tolerant as ChatMessage::FromJson; role defaults to assistant), with optional
  //     "finish_reason" (default "tool_calls" when there are calls, else "stop") and
  //     "usage" {"prompt_tokens","completion_tokens"};
  //   - a plain string: a text reply;
  //   - {"error": "text"}: Complete fails with kUnavailable and that text.
  // Tool call ids may be left out (Enqueue fills them). Fails with kInvalid naming the
  // element that does not fit.
  static Result<std::vector<Reply>> ParseScript(const nlohmann::json& script);
  static Result<std::unique_ptr<ScriptedChatModel>> FromJson(const nlohmann::json& script);

  // Appends a reply to the end of the queue. Missing tool call ids become "call00001",
  // "call00002", ... in enqueue order (9 alphanumerics, the same on every run).
  void Enqueue(Reply reply);

  Result<ChatResponse> Complete(const ChatRequest& request) override;
  std::string Name() const override { return "scripted"; }

  // Every request given to Complete so far, in order (including ones that got no reply).
  std::vector<ChatRequest> Requests() const;
  size_t RequestCount() const;
  // How many replies were never asked for.
  size_t RemainingReplies() const;

 private:
  void FillIds(Reply& reply);

  mutable std::mutex mu_;
  std::deque<Reply> replies_;
  std::vector<ChatRequest> requests_;
  int next_id_ = 1;
};

}  // namespace depositbot
