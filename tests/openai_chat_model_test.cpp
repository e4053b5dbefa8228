#include "agent/openai_chat_model.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <thread>
#include <vector>

#include "common/environment.h"
#include "tests/fakes/fake_llm_server.h"

using namespace depositbot;
using depositbot::testing::FakeLlmReply;
using depositbot::testing::FakeLlmServer;
using depositbot::testing::FakeToolCall;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

constexpr char kKey[] = "sk-test-0123456789";
// 2026-01-01T00:00:00Z, "Thu, 01 Jan 2026 00:00:00 GMT".
constexpr int64_t kNowMillis = 1767225600000;

json WeatherTools() {
  return json::parse(R"([{"type":"function","function":{
      "name":"get_weather","description":"Current weather for a city.",
      "parameters":{"type":"object","properties":{"city":{"type":"string"}},
                    "required":["city"],"additionalProperties":false}}}])");
}

ChatRequest AskWeather() {
  ChatRequest r;
  r.messages = {ChatMessage::System("You are a concise travel assistant."),
                ChatMessage::User("Weather in Paris and Tokyo right now?")};
  r.SetTools(WeatherTools());
  return r;
}

// A fake server plus a client pointed at it whose sleeps are recorded instead of slept and
// whose randomness is a seeded sequence.
struct Harness {
  explicit Harness(std::string key = kKey, FakeLlmServer::Options options = {})
      : server([&] {
          options.api_key = key;
          return options;
        }()),
        env(kNowMillis) {
    config.base_url = server.url();
    config.api_key = key;
    config.model = "gpt-test";
    config.read_timeout = milliseconds(10000);
  }

  std::unique_ptr<OpenAiChatModel> Model() {
    auto m = OpenAiChatModel::Create(config, env);
    REQUIRE(m);
    return std::move(*m);
  }

  json SentBody(size_t i) const {
    auto reqs = server.Requests();
    REQUIRE(i < reqs.size());
    REQUIRE_FALSE(reqs[i].json.is_discarded());
    return reqs[i].json;
  }

  std::vector<milliseconds> Sleeps() const { return env.SleepsMillis(); }

  FakeLlmServer server;
  TestEnvironment env;
  OpenAiChatModel::Config config;
};

}  // namespace

TEST_CASE("a plain text reply comes back with content, finish reason, model and usage") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Text("Hello there").WithUsage(82, 41));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  CHECK(r->message.role == ChatMessage::Role::kAssistant);
  CHECK(r->message.content == "Hello there");
  CHECK(r->message.tool_calls.empty());
  CHECK(r->finish_reason == "stop");
  CHECK(r->model == "gpt-test");
  CHECK(r->usage.prompt_tokens == 82);
  CHECK(r->usage.completion_tokens == 41);
  CHECK(r->usage.total_tokens == 123);
}

TEST_CASE("the request carries model, messages, tools, tool_choice and parallel_tool_calls") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  auto reqs = h.server.Requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].path == "/v1/chat/completions");
  CHECK(reqs[0].authorization == std::string("Bearer ") + kKey);
  json body = reqs[0].json;
  CHECK(body["model"] == "gpt-test");
  CHECK(body["messages"] == json::parse(R"([
      {"role":"system","content":"You are a concise travel assistant."},
      {"role":"user","content":"Weather in Paris and Tokyo right now?"}])"));
  CHECK(body["tools"] == WeatherTools());
  CHECK(body["tool_choice"] == "auto");
  CHECK(body["parallel_tool_calls"] == true);
}

TEST_CASE("tools, tool_choice and parallel_tool_calls are left out when there are no tools") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  auto model = h.Model();
  ChatRequest r;
  r.messages = {ChatMessage::User("hi")};
  REQUIRE(model->Complete(r));
  r.SetTools(json::array());
  REQUIRE(model->Complete(r));
  for (size_t i = 0; i < 2; ++i) {
    json body = h.SentBody(i);
    CHECK_FALSE(body.contains("tools"));
    CHECK_FALSE(body.contains("tool_choice"));
    CHECK_FALSE(body.contains("parallel_tool_calls"));
  }
}

TEST_CASE("the token cap is sent as max_tokens, with the configured value") {
  Harness h;
  h.config.max_tokens = 321;
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  json body = h.SentBody(0);
  CHECK(body["max_tokens"] == 321);
  CHECK_FALSE(body.contains("max_completion_tokens"));
}

TEST_CASE("a model left at its default settings still caps its answers") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  CHECK(h.SentBody(0)["max_tokens"] == OpenAiChatModel::Config{}.max_tokens);
  CHECK(OpenAiChatModel::Config{}.max_tokens > 0);
}

TEST_CASE("OpenAI's own endpoints get the cap as max_completion_tokens, which o-series accept") {
  for (const char* url : {"https://api.openai.com/v1", "https://API.OpenAI.com/v1",
                          "https://myco.openai.azure.com/openai/deployments/x"}) {
    CAPTURE(url);
    OpenAiChatModel::Config c;
    c.base_url = url;
    c.max_tokens = 500;
    OpenAiChatModel model(c);
    json body = json::parse(model.RequestBody(AskWeather()));
    CHECK(body["max_completion_tokens"] == 500);
    CHECK_FALSE(body.contains("max_tokens"));
  }
  // A look-alike host is not OpenAI's.
  OpenAiChatModel::Config c;
  c.base_url = "https://api.openai.com.example.net/v1";
  CHECK(json::parse(OpenAiChatModel(c).RequestBody(AskWeather())).contains("max_tokens"));
}

TEST_CASE("a token cap of 0 sends no cap") {
  OpenAiChatModel::Config c;
  c.base_url = "http://127.0.0.1:9/v1";
  c.max_tokens = 0;
  json body = json::parse(OpenAiChatModel(c).RequestBody(AskWeather()));
  CHECK_FALSE(body.contains("max_tokens"));
  CHECK_FALSE(body.contains("max_completion_tokens"));
}

TEST_CASE("a tool_choice naming a function is sent as a function object") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  ChatRequest r = AskWeather();
  r.tool_choice = "get_weather";
  REQUIRE(h.Model()->Complete(r));
  CHECK(h.SentBody(0)["tool_choice"] ==
        json::parse(R"({"type":"function","function":{"name":"get_weather"}})"));
}

TEST_CASE("no Authorization header is sent without a key") {
  Harness h("");
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  auto reqs = h.server.Requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].authorization.empty());
}

TEST_CASE("a base URL without /v1 posts to /chat/completions under it") {
  Harness h;
  h.config.base_url = "http://127.0.0.1:" + std::to_string(h.server.port());
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  CHECK(h.server.Requests().at(0).path == "/chat/completions");
}

TEST_CASE("a two-round tool exchange sends the tool result with the right tool_call_id") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::ToolCalls({{"call_Pa1", "get_weather", R"({"city":"Paris"})"}}));
  h.server.Enqueue(FakeLlmReply::Text("Paris: 14 °C and rainy."));
  auto model = h.Model();
  ChatRequest req = AskWeather();

  auto first = model->Complete(req);
  REQUIRE(first);
  CHECK(first->finish_reason == "tool_calls");
  REQUIRE(first->message.tool_calls.size() == 1);
  CHECK(first->message.tool_calls[0] == ToolCall{"call_Pa1", "get_weather", R"({"city":"Paris"})"});

  req.messages.push_back(first->message);
  req.messages.push_back(ChatMessage::Tool("call_Pa1", R"({"temp_c":14,"sky":"rain"})"));
  auto second = model->Complete(req);
  REQUIRE(second);
  CHECK(second->message.content == "Paris: 14 °C and rainy.");

  json messages = h.SentBody(1)["messages"];
  REQUIRE(messages.size() == 4);
  CHECK(messages[2] == json::parse(R"({"role":"assistant","content":null,"tool_calls":[
      {"id":"call_Pa1","type":"function",
       "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]})"));
  CHECK(messages[3] == json::parse(R"({"role":"tool","tool_call_id":"call_Pa1",
      "content":"{\"temp_c\":14,\"sky\":\"rain\"}"})"));
  CHECK(h.SentBody(1)["tools"] == WeatherTools());
}

TEST_CASE("two parallel tool calls in one reply both come back in order") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::ToolCalls({{"call_Pa1", "get_weather", R"({"city":"Paris"})"},
                                            {"call_To2", "get_weather", R"({"city":"Tokyo"})"}}));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  REQUIRE(r->message.tool_calls.size() == 2);
  CHECK(r->message.tool_calls[0].id == "call_Pa1");
  CHECK(r->message.tool_calls[1].id == "call_To2");
  CHECK(r->message.tool_calls[1].arguments == R"({"city":"Tokyo"})");
  CHECK(r->message.content.empty());
}

TEST_CASE("arguments given as a JSON object are re-serialised to text") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Message(json::parse(R"({"role":"assistant","content":null,
      "tool_calls":[{"id":"call_1","type":"function",
                     "function":{"name":"get_weather","arguments":{"city":"Paris"}}}]})"),
                                         "tool_calls"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  REQUIRE(r->message.tool_calls.size() == 1);
  CHECK(json::parse(r->message.tool_calls[0].arguments) == json{{"city", "Paris"}});
}

TEST_CASE("a missing or empty tool call id gets a unique 9-character alphanumeric id") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Message(json::parse(R"({"role":"assistant","content":null,
      "tool_calls":[{"type":"function","function":{"name":"a","arguments":"{}"}},
                    {"id":"","type":"function","function":{"name":"b","arguments":"{}"}},
                    {"id":null,"type":"function","function":{"name":"c","arguments":"{}"}}]})"),
                                         "tool_calls"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  REQUIRE(r->message.tool_calls.size() == 3);
  for (const ToolCall& c : r->message.tool_calls) CHECK(IsPortableToolCallId(c.id));
  CHECK(r->message.tool_calls[0].id != r->message.tool_calls[1].id);
  CHECK(r->message.tool_calls[1].id != r->message.tool_calls[2].id);
  CHECK(r->message.tool_calls[0].id != r->message.tool_calls[2].id);
}

TEST_CASE("a repeated tool call id within one reply is replaced") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::ToolCalls({{"call_x", "get_weather", R"({"city":"Paris"})"},
                                            {"call_x", "get_weather", R"({"city":"Tokyo"})"}}));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  REQUIRE(r->message.tool_calls.size() == 2);
  CHECK(r->message.tool_calls[0].id == "call_x");
  CHECK(IsPortableToolCallId(r->message.tool_calls[1].id));
}

TEST_CASE("finish_reason stop with tool calls present is reported as tool_calls") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::ToolCalls({{"call_1", "get_weather", R"({"city":"Paris"})"}})
                       .WithFinishReason("stop"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  CHECK(r->finish_reason == "tool_calls");
  CHECK(r->message.tool_calls.size() == 1);
}

TEST_CASE("finish_reason tool_calls with an empty tool_calls array reads as stop") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Message(
      json::parse(R"({"role":"assistant","content":"","tool_calls":[]})"), "tool_calls"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  CHECK(r->finish_reason == "stop");
  CHECK(r->message.tool_calls.empty());
}

TEST_CASE("finish_reason length is surfaced, also beside a cut-off tool call") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Text("The weather in Par").WithFinishReason("length"));
  h.server.Enqueue(FakeLlmReply::ToolCalls({{"call_1", "get_weather", R"({"city":"Pa)"}})
                       .WithFinishReason("length"));
  auto model = h.Model();
  auto text = model->Complete(AskWeather());
  REQUIRE(text);
  CHECK(text->finish_reason == "length");
  CHECK(text->message.content == "The weather in Par");
  auto call = model->Complete(AskWeather());
  REQUIRE(call);
  CHECK(call->finish_reason == "length");
  CHECK(call->message.tool_calls.at(0).arguments == R"({"city":"Pa)");
}

TEST_CASE("content and tool calls in one message are both kept") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::ToolCalls({{"call_1", "get_weather", R"({"city":"Paris"})"}},
                                           "Let me check that."));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  CHECK(r->message.content == "Let me check that.");
  CHECK(r->message.tool_calls.size() == 1);
  CHECK(r->message.ToJson()["content"] == "Let me check that.");
}

TEST_CASE("whitespace-only content beside tool calls is dropped") {
  Harness h;
  h.server.Enqueue(
      FakeLlmReply::ToolCalls({{"call_1", "get_weather", R"({"city":"Paris"})"}}, "\n\n"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  CHECK(r->message.content.empty());
  CHECK(r->message.ToJson()["content"].is_null());
}

TEST_CASE("content given as an array of text parts is joined") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Message(json::parse(R"({"role":"assistant","content":[
      {"type":"text","text":"Paris: "},{"type":"text","text":"14 °C"}]})")));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  CHECK(r->message.content == "Paris: 14 °C");
}

TEST_CASE("a refusal is returned as the message text") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Message(
      json::parse(R"({"role":"assistant","content":null,"refusal":"I can't help with that."})")));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  CHECK(r->message.content == "I can't help with that.");
}

TEST_CASE("a missing usage object reads as zero tokens") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Text("ok").WithoutUsage());
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  CHECK(r->usage.prompt_tokens == 0);
  CHECK(r->usage.completion_tokens == 0);
  CHECK(r->usage.total_tokens == 0);
}

TEST_CASE("tool call arguments in the history that are not a JSON object are sent as {}") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  ChatRequest req = AskWeather();
  req.messages.push_back(
      ChatMessage::Assistant("", {{"call_1", "get_weather", R"({"city":"Pa)"},
                                  {"call_2", "get_weather", R"({"city":"Tokyo"})"}}));
  req.messages.push_back(ChatMessage::Tool("call_1", R"({"error":"invalid arguments"})"));
  req.messages.push_back(ChatMessage::Tool("call_2", R"({"temp_c":20})"));
  REQUIRE(h.Model()->Complete(req));
  json calls = h.SentBody(0)["messages"][2]["tool_calls"];
  CHECK(calls[0]["function"]["arguments"] == "{}");
  CHECK(calls[1]["function"]["arguments"] == R"({"city":"Tokyo"})");
}

TEST_CASE("429 with Retry-After in seconds waits that long, then succeeds on the second call") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::HttpError(429, "Rate limit reached for requests", "requests",
                                           "rate_limit_exceeded")
                       .WithHeader("Retry-After", "2"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  CHECK(r->message.content == "ok");
  CHECK(h.server.RequestCount() == 2);
  CHECK(h.Sleeps() == std::vector<milliseconds>{milliseconds(2000)});
  CHECK(h.server.Requests()[0].body == h.server.Requests()[1].body);
}

TEST_CASE("retry-after-ms takes precedence over Retry-After") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::HttpError(429, "slow down", "requests", "rate_limit_exceeded")
                       .WithHeader("retry-after-ms", "1250")
                       .WithHeader("Retry-After", "9"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  CHECK(h.server.RequestCount() == 2);
  CHECK(h.Sleeps() == std::vector<milliseconds>{milliseconds(1250)});
}

TEST_CASE("Retry-After as an HTTP date waits until that time") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::HttpError(503, "overloaded", "server_error")
                       .WithHeader("Retry-After", "Thu, 01 Jan 2026 00:00:07 GMT"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  CHECK(h.Sleeps() == std::vector<milliseconds>{milliseconds(7000)});
}

TEST_CASE("a Retry-After beyond the cap waits only the cap") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::HttpError(429, "slow down", "requests", "rate_limit_exceeded")
                       .WithHeader("Retry-After", "3600"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  CHECK(h.Sleeps() == std::vector<milliseconds>{milliseconds(30000)});
}

TEST_CASE("500 three times fails after exactly three requests with exponential backoff") {
  Harness h;
  for (int i = 0; i < 3; ++i) {
    h.server.Enqueue(FakeLlmReply::HttpError(500, "The server had an error", "server_error"));
  }
  h.server.Enqueue(FakeLlmReply::Text("never reached"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message.find("The server had an error") != std::string::npos);
  CHECK(r.error().message.find("3 attempts") != std::string::npos);
  CHECK(h.server.RequestCount() == 3);
  REQUIRE(h.Sleeps().size() == 2);
  // base 500 ms then 1000 ms, each shortened by up to 25 % jitter.
  CHECK(h.Sleeps()[0] > milliseconds(375));
  CHECK(h.Sleeps()[0] <= milliseconds(500));
  CHECK(h.Sleeps()[1] > milliseconds(750));
  CHECK(h.Sleeps()[1] <= milliseconds(1000));
  CHECK(h.server.PendingReplies() == 1);
}

TEST_CASE("a 503 followed by a completion succeeds") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::HttpError(503, "Loading model", "unavailable_error", 503));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  CHECK(h.server.RequestCount() == 2);
  CHECK(h.Sleeps().size() == 1);
}

TEST_CASE("401 fails at once with the server's message after exactly one request") {
  Harness h;
  h.config.api_key = "sk-wrong-key-000";
  h.server.Enqueue(FakeLlmReply::Text("never reached"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kForbidden);
  CHECK(r.error().message.find("Incorrect API key provided") != std::string::npos);
  CHECK(r.error().message.find("401") != std::string::npos);
  CHECK(r.error().message.find("sk-wrong-key-000") == std::string::npos);
  CHECK(h.server.RequestCount() == 1);
  CHECK(h.Sleeps().empty());
}

TEST_CASE("400, 404 and 422 fail at once as invalid requests") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::HttpError(
      400, "An assistant message with 'tool_calls' must be followed by tool messages"));
  h.server.Enqueue(FakeLlmReply::HttpError(404, "The model `gpt-test` does not exist",
                                           "invalid_request_error", "model_not_found"));
  h.server.Enqueue(FakeLlmReply::HttpError(422, "Unprocessable"));
  auto model = h.Model();
  for (const char* text :
       {"must be followed by tool messages", "does not exist", "Unprocessable"}) {
    auto r = model->Complete(AskWeather());
    REQUIRE_FALSE(r);
    CHECK(r.code() == ErrorCode::kInvalid);
    CHECK(r.error().message.find(text) != std::string::npos);
  }
  CHECK(h.server.RequestCount() == 3);
  CHECK(h.Sleeps().empty());
}

TEST_CASE("vLLM's flat error body is understood") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::RawBody(
      400,
      R"({"object":"error","message":"\"auto\" tool choice requires --enable-auto-tool-choice","type":"BadRequestError","param":null,"code":400})",
      "application/json"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
  CHECK(r.error().message.find("requires --enable-auto-tool-choice") != std::string::npos);
}

TEST_CASE("429 insufficient_quota is not retried") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::HttpError(429, "You exceeded your current quota",
                                           "insufficient_quota", "insufficient_quota"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message.find("exceeded your current quota") != std::string::npos);
  CHECK(h.server.RequestCount() == 1);
}

TEST_CASE("x-should-retry: false stops a retry the status would allow") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::HttpError(500, "do not retry this", "server_error")
                       .WithHeader("x-should-retry", "false"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE_FALSE(r);
  CHECK(h.server.RequestCount() == 1);
}

TEST_CASE("a read timeout is retried, then fails as unavailable after three requests") {
  Harness h;
  h.config.read_timeout = milliseconds(300);
  for (int i = 0; i < 3; ++i) h.server.Enqueue(FakeLlmReply::Hang());
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message.find("did not answer") != std::string::npos);
  CHECK(h.Sleeps().size() == 2);
  CHECK(h.server.WaitForRequests(3, milliseconds(10000)));
  CHECK(h.server.RequestCount() == 3);
}

TEST_CASE("a refused connection is retried, then fails as unavailable") {
  int port = 0;
  {
    FakeLlmServer gone;
    port = gone.port();
  }
  Harness h;
  h.config.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(h.Sleeps().size() == 2);
}

TEST_CASE("a body that is not JSON is retried, then fails with a clear error") {
  Harness h;
  for (int i = 0; i < 3; ++i) {
    h.server.Enqueue(FakeLlmReply::RawBody(200, "<html><body>Bad gateway</body></html>"));
  }
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message.find("not JSON") != std::string::npos);
  CHECK(r.error().message.find("Bad gateway") != std::string::npos);
  CHECK(h.server.RequestCount() == 3);
}

TEST_CASE("a body that is not JSON once, then a completion, succeeds") {
  Harness h;
  h.server.Enqueue(FakeLlmReply::RawBody(200, "upstream connect error"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE(r);
  CHECK(r->message.content == "ok");
  CHECK(h.server.RequestCount() == 2);
}

TEST_CASE("a 200 without choices or with an error object is an unavailable answer") {
  Harness h;
  h.config.max_attempts = 1;
  h.server.Enqueue(FakeLlmReply::RawBody(200, R"({"id":"x","choices":[]})", "application/json"));
  h.server.Enqueue(FakeLlmReply::RawBody(
      200, R"({"error":{"code":502,"message":"Provider returned error"}})", "application/json"));
  auto model = h.Model();
  auto empty = model->Complete(AskWeather());
  REQUIRE_FALSE(empty);
  CHECK(empty.code() == ErrorCode::kUnavailable);
  CHECK(empty.error().message.find("no choices") != std::string::npos);
  auto err = model->Complete(AskWeather());
  REQUIRE_FALSE(err);
  CHECK(err.error().message.find("Provider returned error") != std::string::npos);
  CHECK(h.Sleeps().empty());
}

TEST_CASE("a bad base URL is rejected by Create and by every Complete") {
  OpenAiChatModel::Config c;
  c.base_url = "localhost:8080";
  auto created = OpenAiChatModel::Create(c);
  REQUIRE_FALSE(created);
  CHECK(created.code() == ErrorCode::kInvalid);
  OpenAiChatModel model(c);
  auto r = model.Complete(AskWeather());
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
  CHECK(model.Name() == "openai:gpt-4o-mini");
}

TEST_CASE("chat messages serialise to the OpenAI wire shape and parse back") {
  ChatMessage call = ChatMessage::Assistant("", {{"call_1", "get_weather", R"({"city":"Paris"})"}});
  CHECK(call.ToJson() == json::parse(R"({"role":"assistant","content":null,"tool_calls":[
      {"id":"call_1","type":"function",
       "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]})"));
  CHECK(ChatMessage::Assistant("").ToJson() == json::parse(R"({"role":"assistant","content":""})"));
  CHECK(ChatMessage::Tool("call_1", "{}").ToJson() ==
        json::parse(R"({"role":"tool","tool_call_id":"call_1","content":"{}"})"));
  CHECK(ChatMessage::System("s").ToJson() == json::parse(R"({"role":"system","content":"s"})"));
  for (const ChatMessage& m : {call, ChatMessage::Tool("call_1", "{}"), ChatMessage::User("u"),
                               ChatMessage::System("s"), ChatMessage::Assistant("a")}) {
    auto back = ChatMessage::FromJson(m.ToJson());
    REQUIRE(back);
    CHECK(*back == m);
  }
  CHECK_FALSE(ChatMessage::FromJson(json::parse(R"({"role":"wizard","content":"x"})")));
  CHECK_FALSE(ChatMessage::FromJson(json::parse(R"({"content":"x"})")));
  CHECK_FALSE(ChatMessage::FromJson(json::parse(R"({"role":"assistant","tool_calls":[{}]})")));
}

TEST_CASE("generated tool call ids are 9 alphanumerics and follow the random source") {
  TestEnvironment counting;
  std::vector<uint64_t> draws(18);
  std::iota(draws.begin(), draws.end(), uint64_t{0});
  counting.QueueRandom(draws);
  CHECK(GenerateToolCallId(counting) == "ABCDEFGHI");
  CHECK(GenerateToolCallId(counting) == "JKLMNOPQR");
  std::string a = GenerateToolCallId(SystemEnvironment());
  CHECK(IsPortableToolCallId(a));
  CHECK_FALSE(IsPortableToolCallId("call_abc"));
  CHECK_FALSE(IsPortableToolCallId("chatcmpl-tool-1"));
  CHECK_FALSE(IsPortableToolCallId("abc_12345"));
}

TEST_CASE("script-file replies reach the client in the real wire shape") {
  Harness h;
  auto call = FakeLlmReply::FromScript(json::parse(
      R"({"tool_calls":[{"name":"manage_deposit","arguments":{"action":"balance"}}]})"));
  auto text = FakeLlmReply::FromScript(json::parse(R"("Your balance is 10.00 USD.")"));
  auto error = FakeLlmReply::FromScript(json::parse(
      R"({"status":401,"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}})"));
  REQUIRE(call);
  REQUIRE(text);
  REQUIRE(error);
  CHECK_FALSE(FakeLlmReply::FromScript(json::parse(R"({"tool_calls":[{"arguments":{}}]})")));
  h.server.Enqueue(*call);
  h.server.Enqueue(*text);
  h.server.Enqueue(*error);
  auto model = h.Model();
  auto r1 = model->Complete(AskWeather());
  REQUIRE(r1);
  REQUIRE(r1->message.tool_calls.size() == 1);
  CHECK(r1->message.tool_calls[0].name == "manage_deposit");
  CHECK(r1->message.tool_calls[0].arguments == R"({"action":"balance"})");
  CHECK_FALSE(r1->message.tool_calls[0].id.empty());
  auto r2 = model->Complete(AskWeather());
  REQUIRE(r2);
  CHECK(r2->message.content == "Your balance is 10.00 USD.");
  auto r3 = model->Complete(AskWeather());
  REQUIRE_FALSE(r3);
  CHECK(r3.code() == ErrorCode::kForbidden);
}

TEST_CASE("the fake server answers from its default reply once the queue is empty") {
  FakeLlmServer::Options options;
  options.default_reply = FakeLlmReply::Text("(script exhausted)");
  Harness h(kKey, options);
  h.server.Enqueue(FakeLlmReply::Text("first"));
  auto model = h.Model();
  CHECK(model->Complete(AskWeather())->message.content == "first");
  CHECK(model->Complete(AskWeather())->message.content == "(script exhausted)");
  CHECK(model->Complete(AskWeather())->message.content == "(script exhausted)");
}

TEST_CASE("one client serves several threads at once") {
  FakeLlmServer::Options options;
  options.default_reply = FakeLlmReply::Text("ok");
  Harness h(kKey, options);
  auto model = h.Model();
  constexpr int kThreads = 4;
  std::vector<int> ok(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) ok[t] += model->Complete(AskWeather()) ? 1 : 0;
    });
  }
  for (auto& th : threads) th.join();
  for (int n : ok) CHECK(n == 5);
  CHECK(h.server.RequestCount() == 20);
}

TEST_CASE(
    "a 429 with Retry-After seen by one model pauses the next call of another sharing the gate") {
  Harness h;
  ModelGate gate({}, h.env);
  h.config.gate = &gate;
  h.config.max_attempts = 1;  // the first caller gives up at once and leaves the pause behind
  auto first = h.Model();
  h.config.max_attempts = 3;
  auto second = h.Model();
  h.server.Enqueue(FakeLlmReply::HttpError(429, "Rate limit reached for requests", "requests",
                                           "rate_limit_exceeded")
                       .WithHeader("Retry-After", "2"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  auto refused = first->Complete(AskWeather());
  REQUIRE_FALSE(refused);
  CHECK(h.Sleeps().empty());
  auto r = second->Complete(AskWeather());
  REQUIRE(r);
  CHECK(r->message.content == "ok");
  CHECK(h.Sleeps() == std::vector<milliseconds>{milliseconds(2000)});
  CHECK(h.server.RequestCount() == 2);
  CHECK(gate.stats().throttled_total == 1);
  CHECK(gate.stats().in_flight == 0);
}

TEST_CASE("a caller queued behind the call that gets a 429 waits out the same pause") {
  FakeLlmServer::Options options;
  options.delay = milliseconds(100);
  Harness h(kKey, options);
  ModelGate gate(ModelGate::Options{.max_concurrent = 1}, h.env);
  h.config.gate = &gate;
  h.config.max_attempts = 1;
  auto first = h.Model();
  h.config.max_attempts = 3;
  auto second = h.Model();
  h.server.Enqueue(FakeLlmReply::HttpError(429, "slow down", "requests", "rate_limit_exceeded")
                       .WithHeader("retry-after-ms", "1500"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  std::atomic<bool> first_ok{true};
  std::atomic<bool> second_ok{false};
  std::thread a([&] { first_ok = static_cast<bool>(first->Complete(AskWeather())); });
  REQUIRE(h.server.WaitForRequests(1, milliseconds(10000)));  // the first holds the permit
  std::thread b([&] { second_ok = static_cast<bool>(second->Complete(AskWeather())); });
  a.join();
  b.join();
  CHECK_FALSE(first_ok);
  CHECK(second_ok);
  // Whether the second queued before the 429 came or after, it started only past the pause.
  CHECK(h.Sleeps() == std::vector<milliseconds>{milliseconds(1500)});
  CHECK(h.server.RequestCount() == 2);
}

TEST_CASE("through a gate, the caller that got the 429 waits out the pause once, in the gate") {
  Harness h;
  ModelGate gate({}, h.env);
  h.config.gate = &gate;
  h.server.Enqueue(FakeLlmReply::HttpError(429, "slow down", "requests", "rate_limit_exceeded")
                       .WithHeader("Retry-After", "2"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  CHECK(h.Sleeps() == std::vector<milliseconds>{milliseconds(2000)});
  CHECK(gate.stats().throttled_total == 1);
  CHECK(gate.stats().waits_total == 1);
  CHECK(gate.stats().waited_millis_total == 2000);
}

TEST_CASE("a 429 without a hint pauses every caller for the backoff") {
  Harness h;
  ModelGate gate({}, h.env);
  h.config.gate = &gate;
  h.server.Enqueue(FakeLlmReply::HttpError(429, "slow down", "requests", "rate_limit_exceeded"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  REQUIRE(h.Sleeps().size() == 1);
  CHECK(h.Sleeps()[0] > milliseconds(375));
  CHECK(h.Sleeps()[0] <= milliseconds(500));
  CHECK(gate.stats().throttled_total == 1);
}

TEST_CASE("a 500 without a hint backs off that caller alone, not the gate") {
  Harness h;
  ModelGate gate({}, h.env);
  h.config.gate = &gate;
  h.server.Enqueue(FakeLlmReply::HttpError(500, "The server had an error", "server_error"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  CHECK(h.Sleeps().size() == 1);
  CHECK(gate.stats().throttled_total == 0);
  CHECK(gate.stats().waits_total == 0);
}

TEST_CASE("a 503 with Retry-After pauses the gate like a 429") {
  Harness h;
  ModelGate gate({}, h.env);
  h.config.gate = &gate;
  h.server.Enqueue(
      FakeLlmReply::HttpError(503, "overloaded", "server_error").WithHeader("Retry-After", "3"));
  h.server.Enqueue(FakeLlmReply::Text("ok"));
  REQUIRE(h.Model()->Complete(AskWeather()));
  CHECK(h.Sleeps() == std::vector<milliseconds>{milliseconds(3000)});
  CHECK(gate.stats().throttled_total == 1);
}

TEST_CASE("429 insufficient_quota neither retries nor pauses the other callers") {
  Harness h;
  ModelGate gate({}, h.env);
  h.config.gate = &gate;
  h.server.Enqueue(FakeLlmReply::HttpError(429, "You exceeded your current quota",
                                           "insufficient_quota", "insufficient_quota")
                       .WithHeader("Retry-After", "20"));
  REQUIRE_FALSE(h.Model()->Complete(AskWeather()));
  CHECK(h.server.RequestCount() == 1);
  CHECK(gate.stats().throttled_total == 0);
}

TEST_CASE(
    "a call that cannot wait out the gate's pause fails at once without reaching the server") {
  Harness h;
  ModelGate gate({}, h.env);
  gate.Throttle(milliseconds(5000));
  h.config.gate = &gate;
  h.config.read_timeout = milliseconds(1000);
  auto r = h.Model()->Complete(AskWeather());
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message == "the model provider asked us to slow down; try again in 5 s");
  CHECK(h.server.RequestCount() == 0);
  CHECK(h.Sleeps().empty());
}

TEST_CASE("calls through a gate hold a permit only while their request is in flight") {
  FakeLlmServer::Options options;
  options.default_reply = FakeLlmReply::Text("ok");
  Harness h(kKey, options);
  ModelGate gate(ModelGate::Options{.max_concurrent = 2}, h.env);
  h.config.gate = &gate;
  auto model = h.Model();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) ok += model->Complete(AskWeather()) ? 1 : 0;
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == 20);
  CHECK(h.server.RequestCount() == 20);
  CHECK(gate.stats().in_flight == 0);
  CHECK(gate.stats().waiting == 0);
}
