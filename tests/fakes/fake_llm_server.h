#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace depositbot::testing {

// A tool call as the fake server should send it. `arguments` is JSON text.
struct FakeToolCall {
  std::string id;
  std::string name;
  std::string arguments;
};

// One scripted behaviour of the fake server: what it does with the next request.
// Build with the named constructors, adjust with the With* methods:
//   server.Enqueue(FakeLlmReply::Text("hi").WithUsage(82, 41));
//   server.Enqueue(FakeLlmReply::HttpError(429, "slow down").WithHeader("Retry-After", "2"));
struct FakeLlmReply {
  enum class Kind { kCompletion, kHttpError, kRawBody, kHang };

  // A completion whose message is {"role":"assistant","content":content}, finish "stop".
  static FakeLlmReply Text(std::string content);
  // A completion with these calls in the real wire shape (arguments as a string), content null
  // when empty, finish "tool_calls".
  static FakeLlmReply ToolCalls(std::vector<FakeToolCall> calls, std::string content = "");
  // A completion whose choices[0].message is `message` exactly as given (for deviations such
  // as arguments as an object or a missing id).
  static FakeLlmReply Message(nlohmann::json message, std::string finish_reason = "stop");
  // An HTTP error with the OpenAI envelope {"error":{"message","type","param":null,"code"}}.
  static FakeLlmReply HttpError(int status, std::string message,
                                std::string type = "invalid_request_error",
                                nlohmann::json code = nullptr);
  // Any status and body, sent verbatim (non-JSON bodies, other error shapes).
  static FakeLlmReply RawBody(int status, std::string body, std::string content_type = "text/html");
  // Answers nothing until the server is destroyed or ReleaseHangs() is called, so the
  // client's read timeout fires.
  static FakeLlmReply Hang();
  // One element of a script file (see fake_llm_server_main): a string (text), an assistant
  // message object (tool call arguments may be objects, ids may be left out - the server sends
  // the real wire shape), {"status":N,"error":{...}|"text","headers":{...}}, or
  // {"hang":true}.
  static Result<FakeLlmReply> FromScript(const nlohmann::json& element);

  FakeLlmReply& WithFinishReason(std::string reason);
  FakeLlmReply& WithUsage(int64_t prompt_tokens, int64_t completion_tokens);
  FakeLlmReply& WithoutUsage();
  FakeLlmReply& WithHeader(std::string name, std::string value);

  Kind kind = Kind::kCompletion;
  int status = 200;
  nlohmann::json message;     // kCompletion
  std::string finish_reason;  // kCompletion
  nlohmann::json usage;       // kCompletion; null: leave "usage" out
  std::string body;           // kHttpError, kRawBody
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;
};

// One request the server received.
struct FakeLlmRequest {
  std::string path;
  std::string authorization;  // the Authorization header, empty when absent
  std::string body;
  nlohmann::json json;  // the parsed body; discarded (is_discarded()) when not JSON
  std::chrono::steady_clock::time_point received_at;  // when the server read it
};

// A fake OpenAI-compatible Chat Completions server on 127.0.0.1. Serves
// POST /v1/chat/completions and POST /chat/completions. Each request is recorded, then
// answered by the next queued reply; with an empty queue by `default_reply`, or else a 500
// error envelope saying the script ran out. Every response carries `x-request-id: req_N`.
// A wrong or missing bearer key (when `api_key` is set) gets the real 401 envelope.
// Thread-safe. The destructor releases hung requests, then stops the server.
class FakeLlmServer {
 public:
  struct Options {
    int port = 0;                        // 0: any free port
    std::string api_key;                 // empty: any Authorization accepted
    std::chrono::milliseconds delay{0};  // added before every answer (benchmarks)
    std::optional<FakeLlmReply> default_reply;
    // With an empty queue, answers from the request (before default_reply), e.g. a tool call
    // first and a text once the request carries the tool's result.
    std::function<FakeLlmReply(const FakeLlmRequest&)> responder;
  };

  FakeLlmServer();
  explicit FakeLlmServer(Options options);  // throws std::runtime_error if it cannot bind
  ~FakeLlmServer();
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;

  void Enqueue(FakeLlmReply reply);
  // Lets every current and future Hang answer at once (a 504 error envelope).
  void ReleaseHangs();
  // From Hold() until Release(), every request is recorded and then waits before it is answered
  // (with its normal reply): a model that takes as long as the test wants. Held() is how many
  // wait now.
  void Hold();
  void Release();
  size_t Held() const;
  // Blocks until at least `n` requests wait in Hold() or `timeout` passed; true if they did.
  bool WaitForHeld(size_t n, std::chrono::milliseconds timeout) const;

  int port() const;
  // "http://127.0.0.1:PORT/v1", a base URL for OpenAiChatModel.
  std::string url() const;

  std::vector<FakeLlmRequest> Requests() const;
  size_t RequestCount() const;
  // Blocks until at least `n` requests were received or `timeout` passed; true if they were.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) const;
  size_t PendingReplies() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The text of the last user message in a Chat Completions request ("" when there is none).
std::string LastUserText(const FakeLlmRequest& request);
// A model that answers every message with "echo: <the message>" (per-chat order shows).
FakeLlmServer::Options EchoModel();

}  // namespace depositbot::testing
