// Fair use per user (agent/fair_use.h): the message rate limit, the daily model-token budget,
// and the agent applying both. Links depositbot_agent without depositbot_db: the stores here
// live in memory (tests/model_usage_test.cpp runs the SQLite ones), and the clock is a
// FixedClock that moves only when a test moves it.
#include "agent/fair_use.h"

#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "agent/agent.h"
#include "agent/rule_based_model.h"
#include "agent/scripted_chat_model.h"
#include "db/conversation_store.h"
#include "db/model_usage_store.h"
#include "tests/fakes/memory_conversation_store.h"
#include "tests/fakes/ping_tool.h"
#include "tools/tool_registry.h"

using namespace depositbot;
using namespace depositbot::testing;
using nlohmann::json;

namespace {

// 2026-03-01T18:48:00Z: 5 h 12 min before the next UTC midnight.
constexpr int64_t kEvening = 1772390880000;
constexpr int64_t kDayMillis = 86'400'000;

FairUse::Options Limits(int64_t per_minute, int64_t burst, int64_t daily_tokens,
                        bool admins_exempt = true) {
  FairUse::Options o;
  o.messages_per_minute = per_minute;
  o.message_burst = burst;
  o.daily_model_tokens = daily_tokens;
  o.admins_exempt = admins_exempt;
  return o;
}

const ToolContext kAlice{.user_id = 1, .telegram_id = 1001, .display_name = "Alice"};
const ToolContext kBob{.user_id = 2, .telegram_id = 1002, .display_name = "Bob"};
const ToolContext kAdmin{
    .user_id = 3, .telegram_id = 900, .display_name = "Admin", .is_admin = true};

// An agent with a scripted model, a `ping` tool, and fair use over one MemoryConversationStore.
struct LimitedAgent {
  explicit LimitedAgent(FairUse::Options limits, int64_t now = kEvening)
      : clock(now), fair_use(store, clock, limits) {
    tools.Register(PingTool());
    Agent::Options o;
    o.fair_use = &fair_use;
    agent = std::make_unique<Agent>(model, commands, tools, store, o);
  }

  void Script(const json& replies) {
    auto parsed = ScriptedChatModel::ParseScript(replies);
    REQUIRE(parsed);
    for (auto& r : *parsed) model.Enqueue(std::move(r));
  }
  TurnResult Say(const ToolContext& who, const std::string& text) {
    return agent->Handle(who, who.telegram_id, text);
  }

  FixedClock clock;
  MemoryConversationStore store;
  FairUse fair_use;
  ScriptedChatModel model;
  RuleBasedModel commands;
  ToolRegistry tools;
  std::unique_ptr<Agent> agent;
};

json TextWithUsage(const std::string& text, int64_t prompt, int64_t completion) {
  return json{{"content", text},
              {"usage", {{"prompt_tokens", prompt}, {"completion_tokens", completion}}}};
}

}  // namespace

TEST_CASE("a user past the burst is told to wait the seconds until one message has refilled") {
  FixedClock clock(kEvening);
  MemoryConversationStore store;
  FairUse fair(store, clock, Limits(20, 2, 0));  // one message every 3 s, two at once
  CHECK_FALSE(fair.TakeMessage(kAlice).has_value());
  CHECK_FALSE(fair.TakeMessage(kAlice).has_value());
  auto refused = fair.TakeMessage(kAlice);
  REQUIRE(refused.has_value());
  CHECK(*refused ==
        "You are sending messages faster than I can answer. Please wait 3 seconds and send it "
        "again.");
  clock.Advance(2999);
  auto almost = fair.TakeMessage(kAlice);
  REQUIRE(almost.has_value());
  CHECK(*almost ==
        "You are sending messages faster than I can answer. Please wait 1 second and send it "
        "again.");
  clock.Advance(1);
  CHECK_FALSE(fair.TakeMessage(kAlice).has_value());
  CHECK(fair.TakeMessage(kAlice).has_value());
  CHECK(fair.stats().rate_limited == 3);
}

TEST_CASE("refused messages do not drain the bucket: the wait does not grow while refused") {
  FixedClock clock(kEvening);
  MemoryConversationStore store;
  FairUse fair(store, clock, Limits(60, 1, 0));  // one a second
  CHECK_FALSE(fair.TakeMessage(kAlice).has_value());
  for (int i = 0; i < 50; ++i) CHECK(fair.TakeMessage(kAlice).has_value());
  clock.Advance(1000);
  CHECK_FALSE(fair.TakeMessage(kAlice).has_value());
}

TEST_CASE("one user's bucket does not limit another user") {
  FixedClock clock(kEvening);
  MemoryConversationStore store;
  FairUse fair(store, clock, Limits(1, 1, 0));
  CHECK_FALSE(fair.TakeMessage(kAlice).has_value());
  CHECK(fair.TakeMessage(kAlice).has_value());
  CHECK_FALSE(fair.TakeMessage(kBob).has_value());
}

TEST_CASE("an admin is not rate limited while admins are exempt, and is when they are not") {
  FixedClock clock(kEvening);
  MemoryConversationStore store;
  FairUse exempt(store, clock, Limits(1, 1, 0, true));
  for (int i = 0; i < 20; ++i) CHECK_FALSE(exempt.TakeMessage(kAdmin).has_value());
  FairUse strict(store, clock, Limits(1, 1, 0, false));
  CHECK_FALSE(strict.TakeMessage(kAdmin).has_value());
  CHECK(strict.TakeMessage(kAdmin).has_value());
}

TEST_CASE("a rate of 0 messages a minute turns the rate limit off and keeps no buckets") {
  FixedClock clock(kEvening);
  MemoryConversationStore store;
  FairUse fair(store, clock, Limits(0, 1, 0));
  for (int i = 0; i < 100; ++i) CHECK_FALSE(fair.TakeMessage(kAlice).has_value());
  CHECK(fair.TrackedBuckets() == 0);
}

TEST_CASE("buckets that refilled are forgotten: a flood of distinct users keeps memory bounded") {
  FixedClock clock(kEvening);
  MemoryConversationStore store;
  // One message refills in 3 s; a user every 10 ms leaves ~300 buckets refilling at any time.
  FairUse fair(store, clock, Limits(20, 10, 0));
  size_t most = 0;
  for (int64_t id = 1; id <= 100'000; ++id) {
    ToolContext who{.user_id = id, .telegram_id = id};
    REQUIRE_FALSE(fair.TakeMessage(who).has_value());
    most = std::max(most, fair.TrackedBuckets());
    clock.Advance(10);
  }
  CHECK(most <= 2048);
  // A forgotten user starts again with a full bucket.
  ToolContext first{.user_id = 1, .telegram_id = 1};
  for (int i = 0; i < 10; ++i) CHECK_FALSE(fair.TakeMessage(first).has_value());
  CHECK(fair.TakeMessage(first).has_value());
}

TEST_CASE(
    "a user who spent the day's tokens is told when the budget resets, and served the next "
    "UTC day") {
  FixedClock clock(kEvening);
  MemoryConversationStore store;
  FairUse fair(store, clock, Limits(0, 1, 1000));
  CHECK(fair.Today() == "2026-03-01");
  store.tokens[{kAlice.user_id, "2026-03-01"}] = 999;
  CHECK_FALSE(fair.CheckBudget(kAlice).has_value());
  store.tokens[{kAlice.user_id, "2026-03-01"}] = 1000;
  auto refused = fair.CheckBudget(kAlice);
  REQUIRE(refused.has_value());
  CHECK(*refused ==
        "You have used today's model allowance; it resets at 00:00 UTC, in 5 h 12 min. /balance "
        "and other commands still work.");
  CHECK(fair.stats().budget_refusals == 1);
  CHECK_FALSE(fair.CheckBudget(kBob).has_value());
  clock.Advance(5 * 3600'000 + 12 * 60'000);  // 00:00 UTC
  CHECK(fair.Today() == "2026-03-02");
  CHECK_FALSE(fair.CheckBudget(kAlice).has_value());
}

TEST_CASE("an admin over the budget is served while admins are exempt, and refused when not") {
  FixedClock clock(kEvening);
  MemoryConversationStore store;
  store.tokens[{kAdmin.user_id, "2026-03-01"}] = 5000;
  FairUse exempt(store, clock, Limits(0, 1, 1000, true));
  CHECK_FALSE(exempt.CheckBudget(kAdmin).has_value());
  FairUse strict(store, clock, Limits(0, 1, 1000, false));
  CHECK(strict.CheckBudget(kAdmin).has_value());
}

TEST_CASE("a budget of 0 tokens means unlimited") {
  FixedClock clock(kEvening);
  MemoryConversationStore store;
  store.tokens[{kAlice.user_id, "2026-03-01"}] = 1'000'000'000;
  FairUse fair(store, clock, Limits(0, 1, 0));
  CHECK_FALSE(fair.CheckBudget(kAlice).has_value());
}

TEST_CASE("the wait until the reset reads in hours and minutes, rounded up to the minute") {
  CHECK(HoursMinutes(1) == "1 min");
  CHECK(HoursMinutes(60) == "1 min");
  CHECK(HoursMinutes(61) == "2 min");
  CHECK(HoursMinutes(3600) == "1 h");
  CHECK(HoursMinutes(5 * 3600 + 11 * 60 + 1) == "5 h 12 min");
  CHECK(HoursMinutes(86400) == "24 h");
}

TEST_CASE("the dry-run description names the rate, the burst, today's tokens and the budget") {
  FixedClock clock(kEvening);
  MemoryConversationStore store;
  store.tokens[{kAlice.user_id, "2026-03-01"}] = 1234;
  FairUse fair(store, clock, Limits(20, 10, 200000));
  CHECK(fair.Describe(kAlice) ==
        "rate limit:    20 messages a minute, bursts of 10 (per process)\n"
        "model budget:  1234 of 200000 tokens used today (2026-03-01 UTC); resets at 00:00 UTC, "
        "in 5 h 12 min\n");
  CHECK(fair.Describe(kAdmin) ==
        "rate limit:    none: admins are exempt (ADMINS_EXEMPT_FROM_LIMITS)\n"
        "model budget:  none: admins are exempt (ADMINS_EXEMPT_FROM_LIMITS); 0 tokens used "
        "today (2026-03-01 UTC)\n");
}

TEST_CASE("a rate-limited message reaches no model and no tool and is not stored") {
  LimitedAgent a(Limits(1, 1, 0));
  a.Script(json::array(
      {json{{"tool_calls", {{{"name", "ping"}, {"arguments", json::object()}}}}}, "pong"}));
  auto first = a.Say(kAlice, "ping please");
  CHECK(first.reply == "pong");
  auto second = a.Say(kAlice, "ping again");
  CHECK(second.reply ==
        "You are sending messages faster than I can answer. Please wait 60 seconds and send it "
        "again.");
  CHECK(second.model_calls == 0);
  CHECK(second.calls.empty());
  CHECK(a.model.RequestCount() == 2);  // both from the first message
  REQUIRE(a.store.turns[kAlice.telegram_id].size() == 1);
  CHECK(a.store.turns[kAlice.telegram_id][0][0].content == "ping please");
}

TEST_CASE("a turn's tokens are stored with its messages in one store call, on its UTC day") {
  LimitedAgent a(Limits(0, 1, 0));
  a.Script(json::array({json{{"tool_calls", {{{"name", "ping"}, {"arguments", json::object()}}}},
                             {"usage", {{"prompt_tokens", 100}, {"completion_tokens", 20}}}},
                        TextWithUsage("pong", 150, 10)}));
  auto turn = a.Say(kAlice, "ping please");
  CHECK(turn.reply == "pong");
  CHECK(turn.model_tokens == 280);
  CHECK(a.store.append_calls == 1);
  CHECK(a.store.turns[kAlice.telegram_id].size() == 1);
  CHECK(a.store.tokens[{kAlice.user_id, "2026-03-01"}] == 280);
  CHECK(a.fair_use.stats().model_tokens == 280);
}

TEST_CASE(
    "a turn begun under the budget finishes and counts; the next message for the model is "
    "refused while /help still works") {
  LimitedAgent a(Limits(0, 1, 100));
  a.Script(json::array({json{{"tool_calls", {{{"name", "ping"}, {"arguments", json::object()}}}},
                             {"usage", {{"prompt_tokens", 90}, {"completion_tokens", 5}}}},
                        TextWithUsage("pong", 95, 5)}));
  auto turn = a.Say(kAlice, "ping please");
  CHECK(turn.reply == "pong");  // 95 tokens after the first call: under 100, the turn goes on
  CHECK(turn.model_calls == 2);
  CHECK(a.store.tokens[{kAlice.user_id, "2026-03-01"}] == 195);

  auto refused = a.Say(kAlice, "ping once more");
  CHECK(refused.reply ==
        "You have used today's model allowance; it resets at 00:00 UTC, in 5 h 12 min. /balance "
        "and other commands still work.");
  CHECK(refused.model_calls == 0);
  CHECK(a.model.RequestCount() == 2);
  CHECK(a.store.turns[kAlice.telegram_id].size() == 1);

  auto help = a.Say(kAlice, "/help");
  CHECK(help.model_name == a.commands.Name());
  CHECK(help.reply.find("allowance") == std::string::npos);
  CHECK_FALSE(help.reply.empty());

  CHECK(a.fair_use.stats().budget_refusals == 1);
}

TEST_CASE("without fair use the agent records no tokens and stores turns as before") {
  MemoryConversationStore store;
  ScriptedChatModel model;
  for (auto& r : *ScriptedChatModel::ParseScript(json::array({TextWithUsage("hello", 10, 2)}))) {
    model.Enqueue(std::move(r));
  }
  RuleBasedModel commands;
  ToolRegistry tools;
  Agent agent(model, commands, tools, store, Agent::Options{});
  auto turn = agent.Handle(kAlice, kAlice.telegram_id, "hi");
  CHECK(turn.reply == "hello");
  CHECK(turn.model_tokens == 12);
  CHECK(store.append_calls == 1);
  for (const auto& [user_day, tokens] : store.tokens) CHECK(tokens == 0);
}

TEST_CASE(
    "a server's negative or absurd token counts are clamped, never subtracted or overflowed") {
  LimitedAgent a(Limits(0, 1, 0));
  a.Script(json::array(
      {json{{"tool_calls", {{{"name", "ping"}, {"arguments", json::object()}}}},
            {"usage", {{"total_tokens", -500}}}},
       json{{"content", "pong"}, {"usage", {{"total_tokens", 9'000'000'000'000'000'000}}}}}));
  auto turn = a.Say(kAlice, "ping please");
  CHECK(turn.reply == "pong");
  CHECK(turn.model_tokens == 1'000'000'000'000);
  CHECK(a.store.tokens[{kAlice.user_id, "2026-03-01"}] == 1'000'000'000'000);
}
