// The agent loop end to end over HTTP: Agent + OpenAiChatModel against the
// fake OpenAI-compatible server on loopback (no mocks of the client).
#include <doctest/doctest.h>

#include <chrono>

#include "agent/openai_chat_model.h"
#include "tests/agent_fixture.h"
#include "tests/fakes/fake_llm_server.h"

using namespace depositbot;
using namespace depositbot::testing;
using nlohmann::json;

namespace {

struct LlmRig {
  FakeLlmServer server;
  std::vector<std::chrono::milliseconds> waits;
  std::unique_ptr<OpenAiChatModel> model;
  std::unique_ptr<AgentFixture> f;

  explicit LlmRig(std::chrono::milliseconds read_timeout = std::chrono::milliseconds(5000)) {
    OpenAiChatModel::Config c;
    c.base_url = server.url();
    c.api_key = "sk-test";
    c.read_timeout = read_timeout;
    OpenAiChatModel::Environment env;
    env.sleep = [this](std::chrono::milliseconds d) { waits.push_back(d); };
    model = std::move(*OpenAiChatModel::Create(c, env));
    f = std::make_unique<AgentFixture>(model.get());
  }

  // The tool messages of the n-th request the server received.
  std::vector<json> ToolMessages(size_t n) {
    std::vector<json> out;
    const json body = server.Requests().at(n).json;
    for (const auto& m : body["messages"]) {
      if (m["role"] == "tool") out.push_back(m);
    }
    return out;
  }
};

FakeToolCall Balance(std::string id = "callBal01") {
  return {std::move(id), "manage_deposit", R"({"action":"balance"})"};
}

}  // namespace

TEST_CASE("over HTTP: a two-round exchange sends the tool result with the call's id") {
  LlmRig r;
  r.server.Enqueue(FakeLlmReply::ToolCalls({Balance()}));
  r.server.Enqueue(FakeLlmReply::Text("Your balance is 0.00 USD."));
  auto turn = r.f->Say(r.f->alice, "how much do I have?");
  CHECK(turn.ok);
  CHECK(turn.reply == "Your balance is 0.00 USD.");
  REQUIRE(r.server.RequestCount() == 2);
  auto tools = r.ToolMessages(1);
  REQUIRE(tools.size() == 1);
  CHECK(tools[0]["tool_call_id"] == "callBal01");
  CHECK(json::parse(tools[0]["content"].get<std::string>())["balance_formatted"] == "0.00 USD");
  // The first request offered the tools and no admin actions.
  auto first = r.server.Requests()[0].json;
  CHECK(first["tools"].dump().find("manage_deposit") != std::string::npos);
  CHECK(first["tools"].dump().find("\"confirm\"") == std::string::npos);
  CHECK(first["messages"][0]["role"] == "system");
}

TEST_CASE("over HTTP: two parallel tool calls are both answered") {
  LlmRig r;
  r.server.Enqueue(FakeLlmReply::ToolCalls(
      {Balance("callAAAA1"), {"callBBBB2", "manage_deposit", R"({"action":"history"})"}}));
  r.server.Enqueue(FakeLlmReply::Text("Here you go."));
  auto turn = r.f->Say(r.f->alice, "balance and history");
  CHECK(turn.calls.size() == 2);
  auto tools = r.ToolMessages(1);
  REQUIRE(tools.size() == 2);
  CHECK(tools[0]["tool_call_id"] == "callAAAA1");
  CHECK(tools[1]["tool_call_id"] == "callBBBB2");
}

TEST_CASE("over HTTP: malformed JSON arguments are answered with an error and resent as {}") {
  LlmRig r;
  r.server.Enqueue(FakeLlmReply::ToolCalls({{"callBad01", "manage_deposit", R"({"action": )"}}));
  r.server.Enqueue(FakeLlmReply::Text("Sorry."));
  auto turn = r.f->Say(r.f->alice, "deposit");
  CHECK(turn.calls.at(0).result.error_code() == "invalid_json");
  auto second = r.server.Requests()[1].json;
  const json& assistant = second["messages"][second["messages"].size() - 2];
  CHECK(assistant["tool_calls"][0]["function"]["arguments"] == "{}");
  CHECK(r.f->deposits.History(r.f->alice.user_id, 10)->empty());
}

TEST_CASE("over HTTP: an unknown tool gets unknown_tool and the loop continues") {
  LlmRig r;
  r.server.Enqueue(FakeLlmReply::ToolCalls({{"callUnk01", "drain_account", "{}"}}));
  r.server.Enqueue(FakeLlmReply::Text("I can't do that."));
  auto turn = r.f->Say(r.f->alice, "drain it");
  CHECK(turn.calls.at(0).result.error_code() == "unknown_tool");
  CHECK(turn.reply == "I can't do that.");
}

TEST_CASE("over HTTP: a missing required argument is reported, nothing runs") {
  LlmRig r;
  r.server.Enqueue(
      FakeLlmReply::ToolCalls({{"callMis01", "manage_deposit", R"({"amount":"100"})"}}));
  r.server.Enqueue(FakeLlmReply::Text("What should I do?"));
  auto turn = r.f->Say(r.f->alice, "100");
  CHECK(turn.calls.at(0).result.error_code() == "invalid_arguments");
  CHECK(turn.reply == "What should I do?");
}

TEST_CASE("over HTTP: 429 with Retry-After is waited out and then succeeds") {
  LlmRig r;
  auto limited = FakeLlmReply::HttpError(429, "Rate limit reached", "requests", "rate_limit_exceeded");
  limited.WithHeader("Retry-After", "2");
  r.server.Enqueue(limited);
  r.server.Enqueue(FakeLlmReply::Text("Hello!"));
  auto turn = r.f->Say(r.f->alice, "hi");
  CHECK(turn.ok);
  CHECK(turn.reply == "Hello!");
  CHECK(r.server.RequestCount() == 2);
  REQUIRE(r.waits.size() == 1);
  CHECK(r.waits[0] == std::chrono::milliseconds(2000));
}

TEST_CASE("over HTTP: 500 three times gives the user an apology and changes nothing") {
  LlmRig r;
  for (int i = 0; i < 3; ++i) r.server.Enqueue(FakeLlmReply::HttpError(500, "boom", "server_error"));
  auto turn = r.f->Say(r.f->alice, "balance?");
  CHECK_FALSE(turn.ok);
  CHECK(turn.reply.find("try again") != std::string::npos);
  CHECK(r.server.RequestCount() == 3);
  CHECK(r.f->conversations.Recent(r.f->alice.telegram_id, 10, 10000)->empty());
}

TEST_CASE("over HTTP: a read timeout is retried and then apologised for") {
  LlmRig r(std::chrono::milliseconds(300));
  for (int i = 0; i < 3; ++i) r.server.Enqueue(FakeLlmReply::Hang());
  auto turn = r.f->Say(r.f->alice, "balance?");
  r.server.ReleaseHangs();
  CHECK_FALSE(turn.ok);
  CHECK(turn.reply.find("try again") != std::string::npos);
  CHECK(r.server.RequestCount() == 3);
}

TEST_CASE("over HTTP: finish_reason length with no text is reported as cut off") {
  LlmRig r;
  r.server.Enqueue(FakeLlmReply::Text("").WithFinishReason("length"));
  auto turn = r.f->Say(r.f->alice, "tell me everything");
  CHECK(turn.reply.find("cut off") != std::string::npos);
}

TEST_CASE("over HTTP: content plus tool calls in one message runs the calls") {
  LlmRig r;
  r.server.Enqueue(FakeLlmReply::ToolCalls({Balance()}, "Checking your balance..."));
  r.server.Enqueue(FakeLlmReply::Text("It is 0.00 USD."));
  auto turn = r.f->Say(r.f->alice, "balance?");
  CHECK(turn.calls.size() == 1);
  CHECK(turn.reply == "It is 0.00 USD.");
  auto second = r.server.Requests()[1].json;
  CHECK(second["messages"][second["messages"].size() - 2]["content"] ==
        "Checking your balance...");
}

TEST_CASE("over HTTP: a model looping on tool calls is stopped at six calls") {
  LlmRig r;
  for (int i = 0; i < 10; ++i) r.server.Enqueue(FakeLlmReply::ToolCalls({Balance()}));
  auto turn = r.f->Say(r.f->alice, "loop forever");
  CHECK_FALSE(turn.ok);
  CHECK(r.server.RequestCount() == 6);
  CHECK(turn.reply.find("stuck") != std::string::npos);
}

TEST_CASE("over HTTP: a non-admin session whose model asks to confirm is refused") {
  LlmRig r;
  auto tx = r.f->deposits.RequestDeposit(r.f->alice.user_id, 5000, "ALICE");
  r.server.Enqueue(FakeLlmReply::ToolCalls(
      {{"callCon01", "manage_deposit",
        json{{"action", "confirm"}, {"transaction_id", tx->id}}.dump()}}));
  r.server.Enqueue(FakeLlmReply::Text("Only an admin can confirm deposits."));
  auto turn = r.f->Say(r.f->alice, "confirm my deposit please");
  CHECK_FALSE(turn.calls.at(0).result.ok);
  CHECK(r.f->Balance(r.f->alice) == 0);
  CHECK(r.f->deposits.GetTransaction(tx->id)->status == TransactionStatus::kPending);
  // The refusal is what the model saw.
  auto tools = r.ToolMessages(1);
  CHECK(json::parse(tools.at(0)["content"].get<std::string>())["ok"] == false);
}

TEST_CASE("over HTTP: arguments given as an object and a missing id are tolerated") {
  LlmRig r;
  r.server.Enqueue(FakeLlmReply::Message(
      {{"role", "assistant"},
       {"content", nullptr},
       {"tool_calls",
        {{{"type", "function"},
          {"function", {{"name", "manage_deposit"}, {"arguments", {{"action", "balance"}}}}}}}}},
      "stop"));
  r.server.Enqueue(FakeLlmReply::Text("0.00 USD"));
  auto turn = r.f->Say(r.f->alice, "balance");
  REQUIRE(turn.calls.size() == 1);
  CHECK(turn.calls[0].result.ok);
  CHECK(IsPortableToolCallId(turn.calls[0].id));
}
