// The agent loop end to end over HTTP: Agent + OpenAiChatModel against the
// fake OpenAI-compatible server on loopback (no mocks of the client).
#include <doctest/doctest.h>

#include <chrono>

#include "agent/openai_chat_model.h"
#include "agent/reply_limit.h"
#include "tests/agent_fixture.h"
#include "tests/fakes/fake_llm_server.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using namespace depositbot::testing;
using nlohmann::json;

namespace {

struct LlmRig {
  FakeLlmServer server;
  TestEnvironment env;  // the model's retry waits are recorded, not slept
  std::unique_ptr<OpenAiChatModel> model;
  std::unique_ptr<AgentFixture> f;

  explicit LlmRig(std::chrono::milliseconds read_timeout = std::chrono::milliseconds(5000)) {
    OpenAiChatModel::Config c;
    c.base_url = server.url();
    c.api_key = "sk-test";
    c.read_timeout = read_timeout;
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
  auto limited =
      FakeLlmReply::HttpError(429, "Rate limit reached", "requests", "rate_limit_exceeded");
  limited.WithHeader("Retry-After", "2");
  r.server.Enqueue(limited);
  r.server.Enqueue(FakeLlmReply::Text("Hello!"));
  auto turn = r.f->Say(r.f->alice, "hi");
  CHECK(turn.ok);
  CHECK(turn.reply == "Hello!");
  CHECK(r.server.RequestCount() == 2);
  auto waits = r.env.SleepsMillis();
  REQUIRE(waits.size() == 1);
  CHECK(waits[0] == std::chrono::milliseconds(2000));
}

TEST_CASE("over HTTP: 500 three times gives the user an apology and changes nothing") {
  LlmRig r;
  for (int i = 0; i < 3; ++i)
    r.server.Enqueue(FakeLlmReply::HttpError(500, "boom", "server_error"));
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
  CHECK(second["messages"][second["messages"].size() - 2]["content"] == "Checking your balance...");
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
  r.server.Enqueue(
      FakeLlmReply::ToolCalls({{"callCon01", "manage_deposit",
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

// ---- The model fails after a tool acted; the token cap (issue 11, item 8) ----

namespace {

FakeToolCall DepositCall() {
  return {"callDep01", "manage_deposit",
          R"({"action":"request_deposit","amount":"30,000","depositor_name":"KIM MINJI"})"};
}

}  // namespace

TEST_CASE("over HTTP: the model fails after recording a deposit: the reply names it, one row") {
  LlmRig r(std::chrono::milliseconds(300));
  r.server.Enqueue(FakeLlmReply::ToolCalls({DepositCall()}));
  SUBCASE("5xx on every attempt") {
    for (int i = 0; i < 3; ++i) {
      r.server.Enqueue(FakeLlmReply::HttpError(503, "overloaded", "server_error"));
    }
  }
  SUBCASE("no answer within the read timeout") {
    for (int i = 0; i < 3; ++i) r.server.Enqueue(FakeLlmReply::Hang());
  }
  SUBCASE("a 200 whose body is garbage") {
    for (int i = 0; i < 3; ++i) r.server.Enqueue(FakeLlmReply::RawBody(200, "<html>oops</html>"));
  }
  auto turn = r.f->Say(r.f->alice, "I sent 30,000 as KIM MINJI");
  r.server.ReleaseHangs();
  CHECK(r.server.RequestCount() == 4);
  CHECK_FALSE(turn.ok);
  auto rows = *r.f->deposits.History(r.f->alice.user_id, 10);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].type == TransactionType::kDeposit);
  CHECK(rows[0].status == TransactionStatus::kPending);
  CHECK(rows[0].amount == 3'000'000);
  CAPTURE(turn.reply);
  CHECK(Contains(turn.reply, "I recorded your deposit #" + std::to_string(rows[0].id) +
                                 " of 30,000.00 USD as KIM MINJI"));
  CHECK(Contains(turn.reply, "stopped answering"));
  CHECK_FALSE(Contains(turn.reply, "can't reach"));

  // The next message works, and its model sees what was done.
  r.server.Enqueue(FakeLlmReply::Text("It is pending."));
  auto next = r.f->Say(r.f->alice, "so?");
  CHECK(next.reply == "It is pending.");
  const json body = r.server.Requests().back().json;
  const json& messages = body["messages"];
  REQUIRE(messages.size() >= 3);
  CHECK(messages[messages.size() - 2]["role"] == "assistant");
  CHECK(messages[messages.size() - 2]["content"] == turn.reply);
  CHECK(r.ToolMessages(r.server.RequestCount() - 1).size() == 1);
  CHECK(r.f->deposits.History(r.f->alice.user_id, 10)->size() == 1);
}

TEST_CASE("over HTTP: every request carries max_tokens from the model's settings") {
  FakeLlmServer server;
  OpenAiChatModel::Config c;
  c.base_url = server.url();
  c.max_tokens = 77;
  auto model = std::move(*OpenAiChatModel::Create(c));
  AgentFixture f(model.get());
  server.Enqueue(FakeLlmReply::ToolCalls({Balance()}));
  server.Enqueue(FakeLlmReply::Text("0.00 USD"));
  f.Say(f.alice, "balance?");
  REQUIRE(server.RequestCount() == 2);
  for (const auto& req : server.Requests()) {
    CHECK(req.json["max_tokens"] == 77);
    CHECK_FALSE(req.json.contains("max_completion_tokens"));
  }
}

TEST_CASE("over HTTP: a 20,000-character answer cut at the token cap reaches the user capped") {
  LlmRig r;
  std::string flood;
  while (flood.size() < 20000) flood += "Deposits are safe with us. ";
  flood += "And one more thou";
  r.server.Enqueue(FakeLlmReply::Text(flood).WithFinishReason("length"));
  auto turn = r.f->Say(r.f->alice, "talk to me");
  CHECK(Utf16Length(turn.reply) <= kMaxReplyUnits);
  CHECK(Contains(turn.reply, "safe with us.\n(My answer was cut short here"));
  CHECK_FALSE(Contains(turn.reply, "thou"));
}
