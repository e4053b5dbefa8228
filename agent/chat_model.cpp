#include "agent/chat_model.h"

#include <memory>

namespace depositbot {
namespace {

using nlohmann::json;

constexpr std::string_view kIdAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// Content arrives as a string, null, or (newer servers, tool messages) an array of parts
// such as {"type":"text","text":"..."}. Non-text parts (images) carry no text for us.
Result<std::string> ContentText(const json& content) {
  if (content.is_null()) return std::string();
  if (content.is_string()) return content.get<std::string>();
  if (content.is_array()) {
    std::string out;
    for (const json& part : content) {
      if (part.is_string()) {
        out += part.get<std::string>();
      } else if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        out += part["text"].get<std::string>();
      }
    }
    return out;
  }
  return Error::Invalid("message content is neither a string, null nor an array of parts");
}

Result<ToolCall> ParseToolCall(const json& j) {
  if (!j.is_object()) return Error::Invalid("a tool call is not a JSON object");
  ToolCall call;
  if (j.contains("id") && j["id"].is_string()) call.id = j["id"].get<std::string>();
  // The OpenAI shape nests name/arguments under "function"; Ollama's native API and
  // hand-written scripts put them at the top.
  const json& fn = j.contains("function") && j["function"].is_object() ? j["function"] : j;
  if (fn.contains("name") && fn["name"].is_string()) call.name = fn["name"].get<std::string>();
  if (call.name.empty()) return Error::Invalid("a tool call has no function name");
  const json* args = nullptr;
  if (fn.contains("arguments")) {
    args = &fn["arguments"];
  } else if (fn.contains("parameters")) {
    args = &fn["parameters"];
  }
  if (args == nullptr || args->is_null()) {
    call.arguments = "{}";
  } else if (args->is_string()) {
    call.arguments = args->get<std::string>();
  } else {
    call.arguments = args->dump();
  }
  return call;
}

}  // namespace

ChatMessage ChatMessage::System(std::string content) {
  return {Role::kSystem, std::move(content), {}, {}};
}
ChatMessage ChatMessage::User(std::string content) {
  return {Role::kUser, std::move(content), {}, {}};
}
ChatMessage ChatMessage::Assistant(std::string content, std::vector<ToolCall> tool_calls) {
  return {Role::kAssistant, std::move(content), std::move(tool_calls), {}};
}
ChatMessage ChatMessage::Tool(std::string tool_call_id, std::string content) {
  return {Role::kTool, std::move(content), {}, std::move(tool_call_id)};
}

std::string_view RoleName(ChatMessage::Role role) {
  switch (role) {
    case ChatMessage::Role::kSystem:
      return "system";
    case ChatMessage::Role::kUser:
      return "user";
    case ChatMessage::Role::kAssistant:
      return "assistant";
    case ChatMessage::Role::kTool:
      return "tool";
  }
  return "user";
}

json ChatMessage::ToJson() const {
  json j = json::object();
  j["role"] = RoleName(role);
  if (role == Role::kAssistant && !tool_calls.empty()) {
    // "content can be null only when tool_calls is present", and that is what OpenAI sends.
    j["content"] = content.empty() ? json(nullptr) : json(content);
    json calls = json::array();
    for (const ToolCall& c : tool_calls) {
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    }
    j["tool_calls"] = std::move(calls);
  } else {
    j["content"] = content;
  }
  if (role == Role::kTool) j["tool_call_id"] = tool_call_id;
  return j;
}

Result<ChatMessage> ChatMessage::FromJson(const json& j) {
  if (!j.is_object()) return Error::Invalid("a chat message is not a JSON object");
  if (!j.contains("role") || !j["role"].is_string()) {
    return Error::Invalid("a chat message has no role");
  }
  ChatMessage m;
  std::string role = j["role"].get<std::string>();
  if (role == "system" || role == "developer") {
    m.role = Role::kSystem;
  } else if (role == "user") {
    m.role = Role::kUser;
  } else if (role == "assistant") {
    m.role = Role::kAssistant;
  } else if (role == "tool") {
    m.role = Role::kTool;
  } else {
    return Error::Invalid("unknown chat message role \"" + role + "\"");
  }
  if (j.contains("content")) {
    auto text = ContentText(j["content"]);
    if (!text) return text.error();
    m.content = std::move(*text);
  }
  // A refusal is what the user should read when the model declines.
  if (m.content.empty() && j.contains("refusal") && j["refusal"].is_string()) {
    m.content = j["refusal"].get<std::string>();
  }
  if (j.contains("tool_calls") && !j["tool_calls"].is_null()) {
    if (!j["tool_calls"].is_array()) return Error::Invalid("tool_calls is not an array");
    for (const json& c : j["tool_calls"]) {
      auto call = ParseToolCall(c);
      if (!call) return call.error();
      m.tool_calls.push_back(std::move(*call));
    }
  }
  if (j.contains("tool_call_id") && j["tool_call_id"].is_string()) {
    m.tool_call_id = j["tool_call_id"].get<std::string>();
  }
  return m;
}

std::string GenerateToolCallId(Environment& env) {
  std::string id(9, 'A');
  for (char& c : id) c = kIdAlphabet[env.UniformBelow(static_cast<int64_t>(kIdAlphabet.size()))];
  return id;
}

bool IsPortableToolCallId(std::string_view id) {
  if (id.size() != 9) return false;
  for (char c : id) {
    if (kIdAlphabet.find(c) == std::string_view::npos) return false;
  }
  return true;
}

const nlohmann::json& ChatRequest::Tools() const {
  static const nlohmann::json* const kNone = new nlohmann::json(nlohmann::json::array());
  return tools ? *tools : *kNone;
}

void ChatRequest::SetTools(nlohmann::json schemas) {
  tools = std::make_shared<const nlohmann::json>(std::move(schemas));
}

Task<Result<ChatResponse>> ChatModel::CompleteAsync(const ChatRequest& request) {
  co_return Complete(request);
}

}  // namespace depositbot
