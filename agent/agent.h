#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agent/chat_model.h"
#include "agent/reply_limit.h"
#include "common/task.h"
#include "tools/tool.h"
#include "tools/tool_context.h"

namespace depositbot {

class AdminCommands;
class ConversationStore;
class FairUse;
class ToolRegistry;

// One tool call the agent executed during a turn.
// What one user message led to.
struct TurnResult {
  std::string reply;        // what the user sees
  std::vector<UiEvent> ui;  // side effects for the transport, in call order
  std::vector<ExecutedCall> calls;
  int model_calls = 0;
  int64_t model_tokens = 0;  // usage.total_tokens the model reported, summed over the turn
  bool ok = true;            // false: the user got an apology
  bool limited = false;      // refused by fair use: no model, no tool, nothing stored
  std::string model_name;    // which model answered
};

// The tool-calling loop. For each user message: load the chat's recent
// history, render the system prompt, offer the tools this user may use, call
// the model, run its tool calls in order (every call id answered), repeat
// until it answers in text — at most max_model_calls times — and store the
// turn. Slash commands go to `commands` (the rule-based model) in every mode.
// Failures (model errors, the call limit) give the user a short reply that
// says what the turn's tool calls changed (their `effect` sentences), or that
// nothing was changed, and what to do next. A turn in which no tool ran is not
// stored; one in which tools ran is stored closed by that reply, so the next
// message's model knows what was done. A text reply longer than
// max_reply_units UTF-16 units, or cut at the model's token cap, reaches the
// user (and the history) shortened by LimitReply. Stored history is kept
// valid for picky servers: unparsable call arguments are stored as {} and
// missing ids get generated 9-char ids. Thread-safe if the models, registry
// and repository are; turns of one chat must not run concurrently (the
// transport orders them).
// With Options::fair_use, every message first takes one from the sender's rate-limit bucket,
// and a message for the model (not a slash command) is refused once the sender's daily token
// budget is spent; a refused message gets FairUse's sentence and changes nothing (no model
// call, no tool, no history). The turn's tokens are stored with its messages in one
// transaction (ConversationStore::AppendTurn), also for a turn that is not remembered.
// With Options::admin_commands, the admin commands (AdminCommands::IsAdminCommand) are handled
// there, after the rate limit and before any model: no model call, nothing stored in the
// history (the model never learns of them); the turn reports the one call they made.
class Agent {
 public:
  struct Options {
    int max_model_calls = 6;
    int history_messages = 30;
    size_t history_chars = 12000;
    std::string currency_code = "USD";
    size_t max_reply_units = kMaxReplyUnits;  // see LimitReply
    // Not owned, must outlive the agent; null: no limits, and tokens are not recorded.
    FairUse* fair_use = nullptr;
    // Not owned, must outlive the agent; null: /user, /adjust, /export and /stats go to the
    // rule-based model like any other command (which does not know them).
    const AdminCommands* admin_commands = nullptr;
  };

  // `env` draws the ids generated for calls that came without one; it must outlive the agent.
  Agent(ChatModel& model, ChatModel& commands, const ToolRegistry& tools,
        ConversationStore& conversations, Options options, Environment& env = SystemEnvironment());

  TurnResult Handle(const ToolContext& ctx, int64_t chat_id, std::string_view text);
  // The same turn as a coroutine: under a Resumer (the Dispatcher) it waits on the model
  // without holding a thread. `ctx` and `text` must outlive the awaited task.
  Task<TurnResult> HandleAsync(const ToolContext& ctx, int64_t chat_id, std::string_view text);

  // The request the model would get for `text` right now (for --dry-run).
  ChatRequest BuildRequest(const ToolContext& ctx, int64_t chat_id, std::string_view text);

  // Which model a message goes to.
  ChatModel& ModelFor(std::string_view text) const;

 private:
  ChatModel& model_;
  ChatModel& commands_;
  const ToolRegistry& tools_;
  ConversationStore& conversations_;
  Options options_;
  Environment& env_;
};

}  // namespace depositbot
