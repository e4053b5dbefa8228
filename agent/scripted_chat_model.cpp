#include "agent/scripted_chat_model.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace depositbot {
namespace {

using nlohmann::json;

Result<ScriptedChatModel::Reply> ParseReply(const json& j, size_t index) {
  std::string where = "script reply #" + std::to_string(index + 1);
  ChatResponse out;
  out.model = "scripted";
  if (j.is_string()) {
    out.message = ChatMessage::Assistant(j.get<std::string>());
    out.finish_reason = "stop";
    return ScriptedChatModel::Reply(std::move(out));
  }
  if (!j.is_object()) return Error::Invalid(where + " is neither an object nor a string");
  if (j.contains("error")) {
    if (!j["error"].is_string()) return Error::Invalid(where + ": \"error\" must be a string");
    return ScriptedChatModel::Reply(Error::Unavailable(j["error"].get<std::string>()));
  }
  json message = j;
  message.erase("finish_reason");
  message.erase("usage");
  if (!message.contains("role")) message["role"] = "assistant";
  auto parsed = ChatMessage::FromJson(message);
  if (!parsed) return Error::Invalid(where + ": " + parsed.error().message);
  if (parsed->role != ChatMessage::Role::kAssistant) {
    return Error::Invalid(where + ": a model reply must have the assistant role");
  }
  out.message = std::move(*parsed);
  if (j.contains("finish_reason")) {
    if (!j["finish_reason"].is_string()) {
      return Error::Invalid(where + ": \"finish_reason\" must be a string");
    }
    out.finish_reason = j["finish_reason"].get<std::string>();
  } else {
    out.finish_reason = out.message.tool_calls.empty() ? "stop" : "tool_calls";
  }
  if (j.contains("usage")) {
    const json& u = j["usage"];
    if (!u.is_object()) return Error::Invalid(where + ": \"usage\" must be an object");
    for (const char* key : {"prompt_tokens", "completion_tokens", "total_tokens"}) {
      if (u.contains(key) && !u[key].is_number_integer()) {
        return Error::Invalid(where + ": usage." + key + " must be an integer");
      }
    }
    out.usage.prompt_tokens = u.value("prompt_tokens", int64_t{0});
    out.usage.completion_tokens = u.value("completion_tokens", int64_t{0});
    out.usage.total_tokens =
        u.value("total_tokens", out.usage.prompt_tokens + out.usage.completion_tokens);
  }
  return ScriptedChatModel::Reply(std::move(out));
}

}  // namespace

ScriptedChatModel::ScriptedChatModel(std::vector<ChatResponse> replies) {
  for (ChatResponse& r : replies) Enqueue(std::move(r));
}

Result<std::vector<ScriptedChatModel::Reply>> ScriptedChatModel::ParseScript(const json& script) {
  if (!script.is_array()) return Error::Invalid("a model script must be a JSON array of replies");
  std::vector<Reply> out;
  for (size_t i = 0; i < script.size(); ++i) {
    auto reply = ParseReply(script[i], i);
    if (!reply) return reply.error();
    out.push_back(std::move(*reply));
  }
  return out;
}

Result<std::unique_ptr<ScriptedChatModel>> ScriptedChatModel::FromJson(const json& script) {
  auto replies = ParseScript(script);
  if (!replies) return replies.error();
  auto model = std::make_unique<ScriptedChatModel>();
  for (Reply& r : *replies) model->Enqueue(std::move(r));
  return model;
}

void ScriptedChatModel::FillIds(Reply& reply) {
  if (!reply) return;
  for (ToolCall& call : reply->message.tool_calls) {
    if (!call.id.empty()) continue;
    char id[16];
    std::snprintf(id, sizeof id, "call%05d", next_id_++);
    call.id = id;
  }
}

void ScriptedChatModel::Enqueue(Reply reply) {
  std::lock_guard<std::mutex> lock(mu_);
  FillIds(reply);
  replies_.push_back(std::move(reply));
}

Result<ChatResponse> ScriptedChatModel::Complete(const ChatRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.push_back(request);
  if (replies_.empty()) {
    return Error::Internal("scripted model has no reply for request #" +
                           std::to_string(requests_.size()));
  }
  Reply reply = std::move(replies_.front());
  replies_.pop_front();
  return reply;
}

std::vector<ChatRequest> ScriptedChatModel::Requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t ScriptedChatModel::RequestCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

size_t ScriptedChatModel::RemainingReplies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return replies_.size();
}

}  // namespace depositbot
