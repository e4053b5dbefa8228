// The agent on a ConversationStore that is not SQLite. This suite links depositbot_agent
// without depositbot_db (tests/agent.cmake), so it also proves at link time that agent/ needs
// no SQLite store; cmake/Layering.cmake checks the same on the CMake targets.
#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "agent/agent.h"
#include "agent/rule_based_model.h"
#include "agent/scripted_chat_model.h"
#include "db/conversation_store.h"
#include "tests/fakes/memory_conversation_store.h"
#include "tests/fakes/ping_tool.h"
#include "tools/tool_registry.h"

using namespace depositbot;
using namespace depositbot::testing;
using nlohmann::json;

namespace {

struct MemoryAgent {
  explicit MemoryAgent(json script) : model(std::move(*ScriptedChatModel::FromJson(script))) {
    tools.Register(PingTool());
  }

  std::unique_ptr<ScriptedChatModel> model;
  RuleBasedModel commands;
  ToolRegistry tools;
  MemoryConversationStore store;
  Agent agent{*model, commands, tools, store, Agent::Options{}};
  ToolContext alice{.user_id = 1, .telegram_id = 1001, .display_name = "Alice"};
};

}  // namespace

TEST_CASE("the agent sends the model the history its conversation store holds for the chat") {
  MemoryAgent m(json::array({"Yes, it was 30,000 KRW."}));
  m.store.turns[42].push_back({{"user", "I sent 30,000 KRW", std::nullopt, std::nullopt},
                               {"assistant", "Noted.", std::nullopt, std::nullopt}});
  auto turn = m.agent.Handle(m.alice, 42, "how much did I send?");
  CHECK(turn.ok);
  REQUIRE(m.model->RequestCount() == 1);
  ChatRequest request = m.model->Requests()[0];
  std::vector<std::string> contents;
  for (const auto& msg : request.messages) contents.push_back(msg.content);
  // system prompt, the two stored messages, the new question
  REQUIRE(contents.size() == 4);
  CHECK(contents[1] == "I sent 30,000 KRW");
  CHECK(contents[2] == "Noted.");
  CHECK(contents[3] == "how much did I send?");
}

TEST_CASE("a turn in which a tool ran is appended to the conversation store as one turn") {
  MemoryAgent m(json::array(
      {json{{"tool_calls", {{{"name", "ping"}, {"arguments", json::object()}}}}}, "pong"}));
  auto turn = m.agent.Handle(m.alice, 42, "ping please");
  CHECK(turn.ok);
  REQUIRE(m.store.turns[42].size() == 1);
  const auto& stored = m.store.turns[42][0];
  REQUIRE(stored.size() == 4);  // user, assistant call, tool result, assistant text
  CHECK(stored[0].role == "user");
  CHECK(stored[0].content == "ping please");
  REQUIRE(stored[1].tool_calls_json.has_value());
  std::string call_id = json::parse(*stored[1].tool_calls_json).at(0).at("id");
  CHECK(stored[2].role == "tool");
  CHECK(stored[2].tool_call_id == call_id);
  CHECK(stored[3].content == "pong");
}

TEST_CASE("/reset forgets the chat in the conversation store and no other chat") {
  MemoryAgent m(json::array());
  m.store.turns[42].push_back({{"user", "hello", std::nullopt, std::nullopt}});
  m.store.turns[43].push_back({{"user", "hi", std::nullopt, std::nullopt}});
  auto turn = m.agent.Handle(m.alice, 42, "/reset");
  CHECK(turn.ok);
  CHECK(m.store.turns.count(42) == 0);
  CHECK(m.store.turns.count(43) == 1);
}
