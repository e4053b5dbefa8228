// libFuzzer target: what a model server sends back. The body goes through
// ParseChatCompletion (the OpenAI-compatible client's parser) and, when it is JSON, each
// message-like object through ChatMessage::FromJson (also how stored history is read back).
// Properties from the contracts in agent/: a parsed response is an assistant message whose
// tool calls all have distinct non-empty ids, finish_reason says "tool_calls" when there are
// calls (unless the answer was cut off or filtered), usage is never negative; a message that
// FromJson accepts survives ToJson -> FromJson unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "agent/chat_model.h"
#include "agent/openai_chat_model.h"

#ifndef DEPOSITBOT_FUZZ_ENTRY
#define DEPOSITBOT_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

using namespace depositbot;
using nlohmann::json;

namespace {

void CheckRoundTrip(const json& j) {
  auto m = ChatMessage::FromJson(j);
  if (!m) return;
  auto again = ChatMessage::FromJson(m->ToJson());
  if (!again) std::abort();
  if (again->role != m->role || again->content != m->content) std::abort();
  // Only a tool message carries tool_call_id and only an assistant message tool_calls on the
  // wire; elsewhere FromJson keeps what it was given and ToJson rightly drops it.
  if (m->role == ChatMessage::Role::kTool && again->tool_call_id != m->tool_call_id) {
    std::abort();
  }
  if (m->role == ChatMessage::Role::kAssistant && again->tool_calls != m->tool_calls) {
    std::abort();
  }
}

// Draws that repeat: every fourth is 7, so generated tool call ids collide now and then.
// Single-threaded, like the fuzz target.
class RepeatingDraws final : public TestEnvironment {
 public:
  uint64_t Random() override {
    return (++counter_ % 4 == 0) ? 7 : counter_ * 0x9E3779B97F4A7C15ULL;
  }

 private:
  uint64_t counter_ = 0;
};

}  // namespace

extern "C" int DEPOSITBOT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  // Deterministic ids; every fourth one repeats, to exercise the duplicate-id repair.
  RepeatingDraws random;

  if (auto r = ParseChatCompletion(body, random)) {
    if (r->message.role != ChatMessage::Role::kAssistant) std::abort();
    std::set<std::string> ids;
    for (const auto& call : r->message.tool_calls) {
      if (call.id.empty() || !ids.insert(call.id).second) std::abort();
    }
    if (!r->message.tool_calls.empty() && r->finish_reason != "tool_calls" &&
        r->finish_reason != "length" && r->finish_reason != "content_filter") {
      std::abort();
    }
    if (r->usage.prompt_tokens < 0 || r->usage.completion_tokens < 0 || r->usage.total_tokens < 0) {
      std::abort();
    }
    CheckRoundTrip(r->message.ToJson());
  } else if (r.error().message.empty()) {
    std::abort();
  }

  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  CheckRoundTrip(j);
  if (j.is_object() && j.contains("choices") && j["choices"].is_array()) {
    for (const auto& choice : j["choices"]) {
      if (choice.is_object() && choice.contains("message")) CheckRoundTrip(choice["message"]);
    }
  }
  if (j.is_object() && j.contains("messages") && j["messages"].is_array()) {
    for (const auto& message : j["messages"]) CheckRoundTrip(message);
  }
  return 0;
}
