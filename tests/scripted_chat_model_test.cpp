#include "agent/scripted_chat_model.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

using namespace depositbot;
using nlohmann::json;

namespace {

ChatRequest Ask(std::string text) {
  ChatRequest r;
  r.messages = {ChatMessage::User(std::move(text))};
  return r;
}

}  // namespace

TEST_CASE("replies are played back in order and every request is recorded") {
  ScriptedChatModel model({ChatResponse{ChatMessage::Assistant("one"), "stop", {}, "scripted"},
                           ChatResponse{ChatMessage::Assistant("two"), "stop", {}, "scripted"}});
  CHECK(model.RemainingReplies() == 2);
  auto a = model.Complete(Ask("first"));
  auto b = model.Complete(Ask("second"));
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->message.content == "one");
  CHECK(b->message.content == "two");
  auto reqs = model.Requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].messages.at(0).content == "first");
  CHECK(reqs[1].messages.at(0).content == "second");
  CHECK(model.RemainingReplies() == 0);
  CHECK(model.Name() == "scripted");
}

TEST_CASE("a script of OpenAI-shaped messages becomes tool calls and text") {
  auto model = ScriptedChatModel::FromJson(json::parse(R"([
      {"tool_calls":[{"name":"manage_deposit","arguments":{"action":"balance"}}]},
      {"content":"Your balance is 30,000 KRW."}])"));
  REQUIRE(model);
  auto first = (*model)->Complete(Ask("balance?"));
  REQUIRE(first);
  CHECK(first->message.role == ChatMessage::Role::kAssistant);
  CHECK(first->finish_reason == "tool_calls");
  REQUIRE(first->message.tool_calls.size() == 1);
  const ToolCall& call = first->message.tool_calls[0];
  CHECK(call.name == "manage_deposit");
  CHECK(json::parse(call.arguments) == json{{"action", "balance"}});
  CHECK(call.id == "call00001");
  CHECK(IsPortableToolCallId(call.id));
  auto second = (*model)->Complete(Ask("thanks"));
  REQUIRE(second);
  CHECK(second->message.content == "Your balance is 30,000 KRW.");
  CHECK(second->finish_reason == "stop");
  CHECK(second->message.tool_calls.empty());
}

TEST_CASE("scripted tool calls accept the full wire shape, string arguments and given ids") {
  auto model = ScriptedChatModel::FromJson(json::parse(R"([
      {"role":"assistant","content":"Checking.","tool_calls":[
        {"id":"call_A","type":"function",
         "function":{"name":"check_domain","arguments":"{\"domain\":\"example.com\"}"}},
        {"name":"manage_deposit","arguments":{"action":"history"}}]}])"));
  REQUIRE(model);
  auto r = (*model)->Complete(Ask("x"));
  REQUIRE(r);
  REQUIRE(r->message.tool_calls.size() == 2);
  CHECK(r->message.content == "Checking.");
  CHECK(r->message.tool_calls[0] ==
        ToolCall{"call_A", "check_domain", R"({"domain":"example.com"})"});
  CHECK(r->message.tool_calls[1].id == "call00001");
}

TEST_CASE("generated ids run on across the whole script") {
  auto model = ScriptedChatModel::FromJson(json::parse(R"([
      {"tool_calls":[{"name":"a","arguments":{}},{"name":"b","arguments":{}}]},
      {"tool_calls":[{"name":"c"}]}])"));
  REQUIRE(model);
  auto r1 = (*model)->Complete(Ask("x"));
  auto r2 = (*model)->Complete(Ask("y"));
  REQUIRE(r1);
  REQUIRE(r2);
  CHECK(r1->message.tool_calls[0].id == "call00001");
  CHECK(r1->message.tool_calls[1].id == "call00002");
  CHECK(r2->message.tool_calls[0].id == "call00003");
  CHECK(r2->message.tool_calls[0].arguments == "{}");
}

TEST_CASE("running out of replies is an internal error naming the request number") {
  auto model = ScriptedChatModel::FromJson(json::parse(R"(["only one"])"));
  REQUIRE(model);
  REQUIRE((*model)->Complete(Ask("1")));
  auto r = (*model)->Complete(Ask("2"));
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInternal);
  CHECK(r.error().message == "scripted model has no reply for request #2");
  CHECK((*model)->RequestCount() == 2);
}

TEST_CASE("replies the code never asked for are counted") {
  auto model = ScriptedChatModel::FromJson(json::parse(R"(["a", "b", "c"])"));
  REQUIRE(model);
  REQUIRE((*model)->Complete(Ask("1")));
  CHECK((*model)->RemainingReplies() == 2);
}

TEST_CASE("a scripted error makes Complete fail as unavailable") {
  auto model = ScriptedChatModel::FromJson(json::parse(R"([{"error":"model overloaded"}, "ok"])"));
  REQUIRE(model);
  auto r = (*model)->Complete(Ask("1"));
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message == "model overloaded");
  auto next = (*model)->Complete(Ask("2"));
  REQUIRE(next);
  CHECK(next->message.content == "ok");
}

TEST_CASE("finish_reason and usage may be scripted") {
  auto model = ScriptedChatModel::FromJson(json::parse(R"([
      {"content":"cut","finish_reason":"length","usage":{"prompt_tokens":7,"completion_tokens":3}}])"));
  REQUIRE(model);
  auto r = (*model)->Complete(Ask("x"));
  REQUIRE(r);
  CHECK(r->finish_reason == "length");
  CHECK(r->usage.prompt_tokens == 7);
  CHECK(r->usage.completion_tokens == 3);
  CHECK(r->usage.total_tokens == 10);
}

TEST_CASE("a script that does not fit is rejected naming the reply") {
  auto not_array = ScriptedChatModel::FromJson(json::parse(R"({"content":"x"})"));
  REQUIRE_FALSE(not_array);
  CHECK(not_array.code() == ErrorCode::kInvalid);

  auto no_name = ScriptedChatModel::ParseScript(json::parse(R"(["ok", {"tool_calls":[{}]}])"));
  REQUIRE_FALSE(no_name);
  CHECK(no_name.error().message.find("reply #2") != std::string::npos);

  auto wrong_role = ScriptedChatModel::ParseScript(json::parse(R"([{"role":"user"}])"));
  REQUIRE_FALSE(wrong_role);
  auto number = ScriptedChatModel::ParseScript(json::parse(R"([42])"));
  REQUIRE_FALSE(number);
  auto bad_usage = ScriptedChatModel::ParseScript(
      json::parse(R"([{"content":"x","usage":{"prompt_tokens":"7"}}])"));
  REQUIRE_FALSE(bad_usage);
}

TEST_CASE("replies can be enqueued after construction") {
  ScriptedChatModel model;
  CHECK_FALSE(model.Complete(Ask("too early")));
  model.Enqueue(ChatResponse{
      ChatMessage::Assistant("", {{"", "manage_deposit", "{}"}}), "tool_calls", {}, "scripted"});
  model.Enqueue(Error::Unavailable("down"));
  auto r = model.Complete(Ask("now"));
  REQUIRE(r);
  CHECK(r->message.tool_calls.at(0).id == "call00001");
  CHECK_FALSE(model.Complete(Ask("again")));
  CHECK(model.RequestCount() == 3);
}

TEST_CASE("concurrent callers each get a distinct reply and every request is recorded") {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  json script = json::array();
  for (int i = 0; i < kThreads * kPerThread; ++i) script.push_back("reply " + std::to_string(i));
  auto model = ScriptedChatModel::FromJson(script);
  REQUIRE(model);
  std::vector<std::vector<std::string>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = (*model)->Complete(Ask("t" + std::to_string(t)));
        got[t].push_back(r ? r->message.content : "error");
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& v : got) all.insert(v.begin(), v.end());
  CHECK(all.size() == static_cast<size_t>(kThreads * kPerThread));
  CHECK(all.count("error") == 0);
  CHECK((*model)->RequestCount() == static_cast<size_t>(kThreads * kPerThread));
  CHECK((*model)->RemainingReplies() == 0);
}
