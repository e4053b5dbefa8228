#include "agent/agent.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "agent/fair_use.h"
#include "agent/prompt.h"
#include "agent/reply_limit.h"
#include "agent/rule_based_model.h"
#include "common/log.h"
#include "db/conversation_store.h"
#include "tools/admin_commands.h"
#include "tools/tool_registry.h"

namespace depositbot {
namespace {

using nlohmann::json;

std::string RoleText(ChatMessage::Role r) { return std::string(RoleName(r)); }

StoredMessage ToStored(const ChatMessage& m) {
  StoredMessage s{RoleText(m.role), m.content, std::nullopt, std::nullopt};
  if (!m.tool_calls.empty()) {
    json calls = json::array();
    for (const auto& c : m.tool_calls) {
      calls.push_back({{"id", c.id},
                       {"type", "function"},
                       {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    }
    s.tool_calls_json = calls.dump();
  }
  if (m.role == ChatMessage::Role::kTool) s.tool_call_id = m.tool_call_id;
  return s;
}

std::optional<ChatMessage> FromStored(const StoredMessage& s) {
  json j = {{"role", s.role}, {"content", s.content}};
  if (s.tool_calls_json) {
    json calls = json::parse(*s.tool_calls_json, nullptr, false);
    if (calls.is_array()) j["tool_calls"] = calls;
  }
  if (s.tool_call_id) j["tool_call_id"] = *s.tool_call_id;
  auto m = ChatMessage::FromJson(j);
  if (!m) return std::nullopt;
  return *m;
}

// More tokens than any model spends on one call (and than USER_DAILY_MODEL_TOKENS allows).
constexpr int64_t kMaxCallTokens = 1'000'000'000'000;

const char* kApologyModel =
    "Sorry, I can't reach my assistant right now. Nothing was changed: your balance and requests "
    "are safe. Please try again in a minute, or use a command such as /balance or /help.";
const char* kApologyLoop =
    "Sorry, I got stuck working on that. Nothing more was changed; please rephrase your request "
    "or use a command such as /balance or /help.";
const char* kStoppedModel = "(My assistant stopped answering, so this is all I did.)";
const char* kStoppedCutOff = "(My answer was cut off, so this is all I did.)";
const char* kStoppedSilent = "(My assistant gave no answer, so this is all I did.)";
const char* kStoppedLoop = "(I got stuck working on the rest, so this is all I did.)";
const char* kApologyStore =
    "Your request was handled, but I could not save this conversation; if you ask a follow-up "
    "question, please repeat the details.";

// What the user is told when the model cannot finish a turn: each change the turn's tool calls
// made, in call order, from their typed effects (never the model's words, never raw JSON),
// then why the turn stopped; `nothing_changed` when no call changed anything (reads,
// refusals, or no call at all).
std::string ChangesReply(const std::vector<ExecutedCall>& calls, const char* stopped,
                         const char* nothing_changed) {
  std::string out;
  for (const auto& c : calls) {
    if (!c.result.ok || c.result.effect.empty()) continue;
    out += c.result.effect + "\n";
  }
  if (out.empty()) return nothing_changed;
  return out + stopped;
}

}  // namespace

Agent::Agent(ChatModel& model, ChatModel& commands, const ToolRegistry& tools,
             ConversationStore& conversations, Options options, Environment& env)
    : model_(model),
      commands_(commands),
      tools_(tools),
      conversations_(conversations),
      options_(std::move(options)),
      env_(env) {}

ChatModel& Agent::ModelFor(std::string_view text) const {
  return RuleBasedModel::IsCommand(text) ? commands_ : model_;
}

ChatRequest Agent::BuildRequest(const ToolContext& ctx, int64_t chat_id, std::string_view text) {
  ChatRequest req;
  std::string prompt = RenderSystemPrompt({ctx.display_name, options_.currency_code, ctx.is_admin});
  prompt.shrink_to_fit();  // held while the turn waits on the model: no doubling slack
  req.messages.push_back(ChatMessage::System(std::move(prompt)));
  if (auto history =
          conversations_.Recent(chat_id, options_.history_messages, options_.history_chars)) {
    for (const auto& s : *history) {
      if (auto m = FromStored(s)) req.messages.push_back(std::move(*m));
    }
  } else {
    Log(LogLevel::kWarn, "agent.history_unavailable",
        {{"chat_id", std::to_string(chat_id)}, {"error", history.error().message}});
  }
  req.messages.push_back(ChatMessage::User(std::string(text)));
  req.tools = tools_.SharedSchemas(ctx);
  return req;
}

TurnResult Agent::Handle(const ToolContext& ctx, int64_t chat_id, std::string_view text) {
  return SyncWait(HandleAsync(ctx, chat_id, text));
}

Task<TurnResult> Agent::HandleAsync(const ToolContext& ctx, int64_t chat_id,
                                    std::string_view raw_text) {
  TurnResult out;
  std::string text(raw_text);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  size_t lead = 0;
  while (lead < text.size() && std::isspace(static_cast<unsigned char>(text[lead]))) ++lead;
  text.erase(0, lead);
  if (text.empty()) {
    out.reply = RuleBasedModel::HelpText(ctx.is_admin);
    co_return out;
  }
  FairUse* fair_use = options_.fair_use;
  if (fair_use) {
    if (auto refusal = fair_use->TakeMessage(ctx)) {
      out.reply = std::move(*refusal);
      out.limited = true;
      co_return out;
    }
  }
  if (text == "/reset" || text.rfind("/reset@", 0) == 0) {
    if (auto st = conversations_.Clear(chat_id); !st) {
      out.ok = false;
      out.reply = "Sorry, I could not clear the conversation: " + st.error().message;
      co_return out;
    }
    out.reply = "Done: I forgot our conversation. Your balance and transactions are unchanged.";
    co_return out;
  }

  if (options_.admin_commands) {
    if (auto admin = options_.admin_commands->Handle(ctx, text)) {
      out.model_name = "admin";
      out.reply = std::move(admin->reply);
      out.ui = std::move(admin->ui);
      out.calls.push_back(std::move(admin->call));
      co_return out;
    }
  }

  ChatModel& model = ModelFor(text);
  // Slash commands go to the rule-based model, which costs no tokens: they work over budget.
  if (fair_use && &model != &commands_) {
    if (auto refusal = fair_use->CheckBudget(ctx)) {
      out.reply = std::move(*refusal);
      out.limited = true;
      co_return out;
    }
  }
  out.model_name = model.Name();
  const std::string day = fair_use ? fair_use->Today() : std::string();
  bool remember = true;
  ChatRequest req = BuildRequest(ctx, chat_id, text);
  const size_t turn_start = req.messages.size() - 1;  // the user message

  for (int round = 0; round < options_.max_model_calls; ++round) {
    auto started = std::chrono::steady_clock::now();
    auto resp = co_await model.CompleteAsync(req);
    ++out.model_calls;
    // Clamped: a server's usage is outside input, and the sum over a turn must not overflow.
    if (resp) out.model_tokens += std::clamp<int64_t>(resp->usage.total_tokens, 0, kMaxCallTokens);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
    if (!resp) {
      Log(LogLevel::kError, "agent.model_failed",
          {{"chat_id", std::to_string(chat_id)},
           {"model", model.Name()},
           {"code", std::string(ErrorCodeName(resp.code()))},
           {"error", resp.error().message},
           {"tool_calls_done", std::to_string(out.calls.size())}});
      out.ok = false;
      out.reply = ChangesReply(out.calls, kStoppedModel, kApologyModel);
      // With nothing run there is nothing to remember. Once tools ran, the turn is stored
      // with the reply closing it, so that the next message's model sees what was done (and
      // does not record the same deposit again) and every call id stays answered.
      if (out.calls.empty()) {
        remember = false;
        break;
      }
      req.messages.push_back(ChatMessage::Assistant(out.reply));
      break;
    }
    Log(LogLevel::kDebug, "agent.model_call",
        {{"chat_id", std::to_string(chat_id)},
         {"model", model.Name()},
         {"ms", std::to_string(ms)},
         {"tool_calls", std::to_string(resp->message.tool_calls.size())}});

    ChatMessage assistant = resp->message;
    assistant.role = ChatMessage::Role::kAssistant;
    if (assistant.tool_calls.empty()) {
      std::string reply = assistant.content;
      const bool cut_off = resp->finish_reason == "length";
      if (reply.empty()) {
        reply = cut_off ? ChangesReply(out.calls, kStoppedCutOff,
                                       "Sorry, my answer was cut off. Please ask again, more "
                                       "briefly.")
                        : ChangesReply(out.calls, kStoppedSilent,
                                       "Sorry, I have no answer to that. Try /help.");
      } else if (cut_off || Utf16Length(reply) > options_.max_reply_units) {
        // A model that talks until its token cap (or a server that ignores the cap) must not
        // flood the chat: the user and the stored history get the shortened text.
        Log(LogLevel::kWarn, "agent.reply_cut",
            {{"chat_id", std::to_string(chat_id)},
             {"model", model.Name()},
             {"finish_reason", resp->finish_reason},
             {"chars", std::to_string(reply.size())}});
        reply = LimitReply(reply, options_.max_reply_units, cut_off);
      }
      assistant.content = reply;
      req.messages.push_back(assistant);
      out.reply = reply;
      break;
    }

    // Keep the originals for execution; store a sanitised copy for history.
    std::vector<ToolCall> original = assistant.tool_calls;
    std::set<std::string> seen;
    for (auto& c : assistant.tool_calls) {
      if (!IsPortableToolCallId(c.id) || !seen.insert(c.id).second) {
        c.id = GenerateToolCallId(env_);
        seen.insert(c.id);
      }
      json parsed = json::parse(c.arguments, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object()) c.arguments = "{}";
    }
    req.messages.push_back(assistant);
    for (size_t i = 0; i < original.size(); ++i) {
      const ToolCall& call = original[i];
      ToolResult result = tools_.Invoke(ctx, call.name, call.arguments);
      Log(result.ok ? LogLevel::kInfo : LogLevel::kWarn, "agent.tool_call",
          {{"chat_id", std::to_string(chat_id)},
           {"telegram_id", std::to_string(ctx.telegram_id)},
           {"tool", call.name},
           {"outcome", result.ok ? "ok" : result.error_code()}});
      if (result.ui) out.ui.push_back(*result.ui);
      req.messages.push_back(
          ChatMessage::Tool(assistant.tool_calls[i].id, result.ToModelContent()));
      out.calls.push_back({assistant.tool_calls[i].id, call.name, call.arguments, result});
    }
    if (round + 1 == options_.max_model_calls) {
      Log(LogLevel::kWarn, "agent.call_limit",
          {{"chat_id", std::to_string(chat_id)}, {"model", model.Name()}});
      out.ok = false;
      out.reply = ChangesReply(out.calls, kStoppedLoop, kApologyLoop);
      req.messages.push_back(ChatMessage::Assistant(out.reply));
    }
  }

  // Every reply that involved the demo registrar says so (issue: demo registrar).
  for (const auto& c : out.calls) {
    const auto& p = c.result.payload;
    if (p.is_object() && p.contains("demo_notice") && p["demo_notice"].is_string()) {
      std::string notice = p["demo_notice"].get<std::string>();
      if (out.reply.find(notice) == std::string::npos) out.reply += "\n(" + notice + ")";
      break;
    }
  }

  std::vector<StoredMessage> turn;
  if (remember) {
    for (size_t i = turn_start; i < req.messages.size(); ++i)
      turn.push_back(ToStored(req.messages[i]));
  }
  ModelUsage usage = fair_use ? fair_use->Spent(ctx, day, out.model_tokens) : ModelUsage{};
  if (turn.empty() && usage.tokens == 0) co_return out;
  if (auto st = conversations_.AppendTurn(chat_id, turn, usage); !st) {
    Log(LogLevel::kError, "agent.store_failed",
        {{"chat_id", std::to_string(chat_id)},
         {"tokens", std::to_string(usage.tokens)},
         {"error", st.error().message}});
    if (!turn.empty()) out.reply += "\n(" + std::string(kApologyStore) + ")";
  }
  co_return out;
}

}  // namespace depositbot
