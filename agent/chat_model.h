#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/environment.h"
#include "common/result.h"
#include "common/task.h"

namespace depositbot {

// One function call the model asked for. `arguments` is the JSON text exactly as the model
// gave it (it may be invalid JSON or not fit the tool's schema: the tool parser decides).
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;

  bool operator==(const ToolCall&) const = default;
};

// One entry of a conversation in the OpenAI Chat Completions shape.
//   kSystem/kUser: `content`.
//   kAssistant:    `content` (may be empty) and/or `tool_calls`.
//   kTool:         `content` is the tool's result (JSON text), `tool_call_id` the call it answers.
struct ChatMessage {
  enum class Role { kSystem, kUser, kAssistant, kTool };

  Role role = Role::kUser;
  std::string content;
  std::vector<ToolCall> tool_calls;
  std::string tool_call_id;

  static ChatMessage System(std::string content);
  static ChatMessage User(std::string content);
  static ChatMessage Assistant(std::string content, std::vector<ToolCall> tool_calls = {});
  static ChatMessage Tool(std::string tool_call_id, std::string content);

  // The wire shape: an assistant message with tool calls and no text has `"content": null`;
  // tool calls carry `"type": "function"`; a tool message carries `tool_call_id`. Arguments are
  // sent exactly as held (callers that replay history to picky servers sanitise them first).
  nlohmann::json ToJson() const;
  // Parses the wire shape tolerantly: content as a string, null or an array of text parts
  // (joined); `refusal` used as content when there is no content; tool calls either
  // `{"id","type","function":{"name","arguments"}}` or flat `{"id","name","arguments"}`, with
  // arguments as a string or a JSON object (re-serialised to text; missing -> "{}"). A missing
  // id stays empty (the caller decides how to fill it). `developer` reads as kSystem.
  // Fails with kInvalid when `role` is missing or unknown or the shape is not an object.
  static Result<ChatMessage> FromJson(const nlohmann::json& j);

  bool operator==(const ChatMessage&) const = default;
};

std::string_view RoleName(ChatMessage::Role role);

// One call to the model: the whole conversation so far plus the tools on offer.
struct ChatRequest {
  std::vector<ChatMessage> messages;
  // Array of {"type":"function","function":{"name","description","parameters"}}; null or an
  // empty array means no tools. Shared and never changed once set: every request of a process
  // offers one of a few tool sets (ToolRegistry::SharedSchemas), so a thousand conversations
  // waiting on the model hold one copy of it, not a thousand.
  std::shared_ptr<const nlohmann::json> tools;
  // "auto", "none", "required", or the name of one function the model must call.
  std::string tool_choice = "auto";

  // The tools array (an empty array when none).
  const nlohmann::json& Tools() const;
  void SetTools(nlohmann::json schemas);
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
};

// The model's answer. `message.role` is kAssistant; every tool call has a non-empty id.
// `finish_reason` is "tool_calls" whenever `message.tool_calls` is non-empty (except "length",
// which is kept so the caller knows arguments may be cut off), else "stop", "length",
// "content_filter", ... as the server said. Usage is zero when the server gave none.
struct ChatResponse {
  ChatMessage message;
  std::string finish_reason;
  Usage usage;
  std::string model;
};

// A chat model that may call tools. Implementations are thread-safe: Complete may be called
// from several threads at once (one conversation per call). Failures are values:
//   kUnavailable  the model could not be reached or answered garbage, after any retries;
//   kInvalid      the server rejected the request itself (bad request, unknown model);
//   kForbidden    the server rejected the credentials;
//   kInternal     a scripted model ran out of replies.
class ChatModel {
 public:
  virtual ~ChatModel() = default;
  virtual Result<ChatResponse> Complete(const ChatRequest& request) = 0;
  // The same call as a coroutine. A model that talks to a server over the network
  // (OpenAiChatModel) waits for the answer without holding a thread when awaited under a
  // Resumer; the default runs Complete on the calling thread (a model whose Complete waits long
  // marks that wait with BlockingScope). `request` must outlive the task.
  virtual Task<Result<ChatResponse>> CompleteAsync(const ChatRequest& request);
  // Short name for logs and metrics, e.g. "openai:gpt-4o-mini" or "scripted".
  virtual std::string Name() const = 0;
};

// A tool call id of exactly 9 characters from [A-Za-z0-9], drawn from `env` (one draw per
// character): the one shape every backend accepts (Mistral templates reject anything else).
std::string GenerateToolCallId(Environment& env);

// True when `id` is 9 characters from [A-Za-z0-9].
bool IsPortableToolCallId(std::string_view id);

}  // namespace depositbot
