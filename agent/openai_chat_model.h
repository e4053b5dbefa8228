#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "agent/chat_model.h"
#include "agent/model_gate.h"
#include "common/environment.h"
#include "common/http_client.h"
#include "common/result.h"

namespace depositbot {

// Settings of OpenAiChatModel (see there).
struct OpenAiChatModelConfig {
  std::string base_url = "https://api.openai.com/v1";
  std::string api_key;  // empty: no Authorization header (local servers)
  std::string model = "gpt-4o-mini";
  // The cap on the tokens of one answer; 0 sends none. Sent as `max_tokens`, the field that
  // Ollama (which reads only it), llama.cpp, vLLM and OpenRouter read; to OpenAI itself
  // (api.openai.com, *.openai.azure.com) as `max_completion_tokens`, the current name there,
  // because its reasoning models reject `max_tokens`.
  int max_tokens = 1024;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{120000};
  int max_attempts = 3;                         // values below 1 count as 1
  std::chrono::milliseconds backoff_base{500};  // first retry waits ~base, doubling
  std::chrono::milliseconds backoff_max{8000};
  std::chrono::milliseconds max_retry_wait{30000};  // cap on any single wait
  // The process's door to the provider (see ModelGate), shared by every model and thread; not
  // owned, must outlive the model. Null: no shared limits, each call backs off on its own.
  ModelGate* gate = nullptr;
};

// A ChatModel over any OpenAI-compatible Chat Completions server (OpenAI, vLLM, llama.cpp,
// Ollama, OpenRouter): POST {base_url}/chat/completions, non-streaming.
//
// Retries: at most `max_attempts` calls per Complete, on connection failures, read timeouts,
// 408/409/429/5xx and on a 2xx whose body is not a usable completion (not JSON, no choices,
// an error object inside a 200 as OpenRouter sends) - a completion has no side effects, so a
// garbled answer is as retryable as a 502. The wait honours `retry-after-ms`, then
// `Retry-After` (seconds or an HTTP date), capped at `max_retry_wait`; without a hint it is
// exponential backoff with jitter. `x-should-retry: true|false` overrides the status rule.
// 429 with code `insufficient_quota` and 402 without Retry-After are not retried.
//
// With a `gate`, every attempt holds one of its permits while the request is in flight, and
// waits for it at most `read_timeout` (kUnavailable, with the gate's message, beyond that; not
// retried). A 429 (but insufficient_quota) or a retryable status with a hint throttles the
// gate for the hinted wait (a 429 without one: the backoff), so every caller of the process
// pauses together, this caller's retry included, which then waits in the gate, not on its own.
//
// Errors: kUnavailable once retries are exhausted (or quota is gone); kInvalid for
// 400/404/422 and other non-retryable statuses; kForbidden for 401/403. Messages carry the
// server's own `error.message`. The API key is never logged nor put in a message.
//
// Waits between attempts go through the Environment, the jitter is drawn from it, and an
// HTTP-date Retry-After is read against its clock; it must outlive the model.
// Thread-safe: Complete may run on several threads.
class OpenAiChatModel final : public ChatModel {
 public:
  using Config = OpenAiChatModelConfig;

  // Fails with kInvalid when `base_url` is not an http(s) URL.
  static Result<std::unique_ptr<OpenAiChatModel>> Create(Config config,
                                                         Environment& env = SystemEnvironment());

  // Prefer Create. With a bad `base_url` every Complete fails with kInvalid.
  explicit OpenAiChatModel(Config config, Environment& env = SystemEnvironment());
  ~OpenAiChatModel() override;

  Result<ChatResponse> Complete(const ChatRequest& request) override;
  // Waits for each answer without holding a thread under a Resumer (see ChatModel).
  Task<Result<ChatResponse>> CompleteAsync(const ChatRequest& request) override;
  std::string Name() const override;

  // The JSON body Complete would send for `request` (exposed for tests and recordings).
  // The token cap is sent as described at Config::max_tokens.
  // `tools`, `tool_choice` and `parallel_tool_calls` appear only when tools are given; a
  // tool_choice that is not auto/none/required names a function. Tool call arguments in the
  // history that are not a JSON object are sent as "{}" (vLLM and llama.cpp reject the whole
  // request otherwise).
  std::string RequestBody(const ChatRequest& request) const;

 private:
  struct Attempt;
  // One attempt holding `permit` (if any) until its answer is judged.
  Task<Attempt> CallOnce(const ChatRequest& request, int attempt,
                         std::optional<ModelGate::Permit> permit);
  Attempt Judge(Result<HttpResponse> r, int attempt, std::chrono::milliseconds latency) const;
  std::chrono::milliseconds Backoff(int failed_attempts) const;

  Config config_;
  Environment& env_;
  std::unique_ptr<HttpClient> http_;  // null when base_url did not parse
  std::string url_error_;
  std::string max_tokens_field_ = "max_tokens";  // see Config::max_tokens
};

// Parses a Chat Completions response body (choices[0]) into a ChatResponse, applying the
// tolerances above: missing or duplicate tool call ids are replaced with generated ones,
// whitespace-only content beside tool calls is dropped, finish_reason is normalised, missing
// usage reads as zeros (generated ids are drawn from `env`). Fails with kUnavailable when the
// body is not JSON, carries an `error` object, or has no usable choice.
Result<ChatResponse> ParseChatCompletion(const std::string& body, Environment& env);

}  // namespace depositbot
