#include "agent/openai_chat_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <optional>
#include <set>
#include <sstream>

#include "common/log.h"
#include "common/text.h"

namespace depositbot {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr size_t kSnippetChars = 200;

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// A short printable excerpt of a body that is not what we expected, for the error message.
std::string Snippet(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, kSnippetChars)) {
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  if (body.size() > kSnippetChars) out += "...";
  return out;
}

bool IsWhitespace(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// A token count from the server, clamped to [0, 2^53]: a huge or negative value is nonsense,
// and converting an out-of-range double or summing two near-int64 values is undefined.
int64_t IntField(const json& obj, const char* key) {
  constexpr int64_t kMaxCount = int64_t{1} << 53;
  if (!obj.is_object() || !obj.contains(key)) return 0;
  const json& v = obj[key];
  if (v.is_number_unsigned()) {
    return static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), kMaxCount));
  }
  if (v.is_number_integer()) return std::clamp<int64_t>(v.get<int64_t>(), 0, kMaxCount);
  if (v.is_number()) {
    double d = v.get<double>();
    if (!(d > 0)) return 0;
    return d < static_cast<double>(kMaxCount) ? static_cast<int64_t>(d) : kMaxCount;
  }
  return 0;
}

// The error envelope comes in several shapes: OpenAI {"error":{"message","type","code"}} with
// string or integer code; old vLLM flat {"object":"error","message",...}; Ollama's native
// {"error":"text"}.
struct ServerError {
  std::string message;
  std::string code;  // "insufficient_quota", "429", or empty
};

std::optional<ServerError> ParseServerError(const json& j) {
  if (!j.is_object()) return std::nullopt;
  auto code_of = [](const json& o) -> std::string {
    if (!o.contains("code")) return "";
    if (o["code"].is_string()) return o["code"].get<std::string>();
    if (o["code"].is_number_integer()) return std::to_string(o["code"].get<int64_t>());
    return "";
  };
  if (j.contains("error")) {
    const json& e = j["error"];
    if (e.is_string()) return ServerError{e.get<std::string>(), ""};
    if (e.is_object()) {
      ServerError out{"", code_of(e)};
      if (e.contains("message") && e["message"].is_string()) {
        out.message = e["message"].get<std::string>();
      }
      if (out.message.empty() && e.contains("type") && e["type"].is_string()) {
        out.message = e["type"].get<std::string>();
      }
      return out;
    }
  }
  if (j.contains("object") && j["object"] == "error" && j.contains("message") &&
      j["message"].is_string()) {
    return ServerError{j["message"].get<std::string>(), code_of(j)};
  }
  return std::nullopt;
}

// What an error response said, for messages: "Incorrect API key provided" or a body excerpt.
ServerError DescribeErrorBody(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (auto e = ParseServerError(j)) {
    if (!e->message.empty()) return *e;
  }
  return ServerError{body.empty() ? "(empty body)" : Snippet(body), ""};
}

// "Sun, 06 Nov 1994 08:49:37 GMT" -> Unix seconds.
std::optional<int64_t> ParseHttpDate(const std::string& s) {
  std::tm tm{};
  std::istringstream in(s);
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S");
  if (in.fail()) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

std::optional<double> ParseNumber(const std::string& s) {
  std::string t = Trim(s);
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// The server's requested wait, if it gave a positive one: retry-after-ms, then Retry-After as
// seconds, then as an HTTP date (the order the official SDK uses).
std::optional<milliseconds> RetryHint(const HttpResponse& r, const Clock& clock) {
  if (auto ms = ParseNumber(r.Header("retry-after-ms")); ms && *ms > 0) {
    return milliseconds(static_cast<int64_t>(std::ceil(*ms)));
  }
  std::string ra = r.Header("retry-after");
  if (ra.empty()) return std::nullopt;
  if (auto s = ParseNumber(ra)) {
    if (*s > 0) return milliseconds(static_cast<int64_t>(std::ceil(*s * 1000)));
    return std::nullopt;
  }
  if (auto when = ParseHttpDate(ra)) {
    int64_t wait = *when * 1000 - clock.NowMillis();
    if (wait > 0) return milliseconds(wait);
  }
  return std::nullopt;
}

json SanitizedMessages(const std::vector<ChatMessage>& messages) {
  json out = json::array();
  for (const ChatMessage& m : messages) {
    json j = m.ToJson();
    if (j.contains("tool_calls")) {
      for (json& call : j["tool_calls"]) {
        json& args = call["function"]["arguments"];
        json parsed = json::parse(args.get<std::string>(), nullptr, false);
        if (!parsed.is_object()) args = "{}";
      }
    }
    out.push_back(std::move(j));
  }
  return out;
}

// OpenAI's own endpoints, where `max_tokens` is deprecated and refused by reasoning models.
bool IsOpenAiHost(std::string_view host) {
  const std::string h = AsciiLower(std::string(host));
  return h == "api.openai.com" || (h.ends_with(".openai.azure.com") && h.size() > 17);
}

}  // namespace

// The outcome of one HTTP exchange: a response, or an error plus whether another attempt may
// help and how long the server asked us to wait.
struct OpenAiChatModel::Attempt {
  std::optional<ChatResponse> response;
  Error error{ErrorCode::kInternal, ""};
  bool retryable = false;
  bool throttled = false;  // the server asked the whole client to slow down
  std::optional<milliseconds> hint;
  std::optional<milliseconds> pause;  // the gate was throttled for this long
};

Result<ChatResponse> ParseChatCompletion(const std::string& body, Environment& env) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Error::Unavailable("LLM server sent a body that is not JSON: " + Snippet(body));
  }
  if (auto e = ParseServerError(j)) {
    return Error::Unavailable("LLM server reported an error: " + e->message);
  }
  if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() ||
      j["choices"].empty()) {
    return Error::Unavailable("LLM server response has no choices: " + Snippet(body));
  }
  const json& choice = j["choices"][0];
  if (!choice.is_object() || !choice.contains("message") || !choice["message"].is_object()) {
    return Error::Unavailable("LLM server response has no message in its first choice");
  }
  json message = choice["message"];
  if (!message.contains("role") || !message["role"].is_string()) message["role"] = "assistant";
  auto parsed = ChatMessage::FromJson(message);
  if (!parsed) {
    return Error::Unavailable("LLM server sent an unusable message: " + parsed.error().message);
  }
  ChatResponse out;
  out.message = std::move(*parsed);
  out.message.role = ChatMessage::Role::kAssistant;
  out.message.tool_call_id.clear();

  // Some llama.cpp builds send empty ids; Ollama's native API none; a repeated id would make
  // the tool results ambiguous. Each call gets a unique id we can send back.
  std::set<std::string> seen;
  for (size_t i = 0; i < out.message.tool_calls.size(); ++i) {
    ToolCall& call = out.message.tool_calls[i];
    // A few tries, then a positional id, so that a poor random source cannot loop forever.
    for (int tries = 0; call.id.empty() || seen.count(call.id) > 0; ++tries) {
      call.id = tries < 8 ? GenerateToolCallId(env) : "call" + std::to_string(10000 + i + tries);
    }
    seen.insert(call.id);
  }
  bool has_calls = !out.message.tool_calls.empty();
  if (IsWhitespace(out.message.content)) out.message.content.clear();

  if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
    out.finish_reason = choice["finish_reason"].get<std::string>();
  }
  // Tool calls are the signal, whatever finish_reason says (OpenAI answers "stop" for a forced
  // function, older Ollama always did); "length" stays so a cut-off call is not trusted.
  if (has_calls && out.finish_reason != "length" && out.finish_reason != "content_filter") {
    out.finish_reason = "tool_calls";
  } else if (!has_calls && (out.finish_reason == "tool_calls" || out.finish_reason.empty() ||
                            out.finish_reason == "function_call")) {
    out.finish_reason = "stop";
  }

  if (j.contains("usage") && j["usage"].is_object()) {
    const json& u = j["usage"];
    out.usage.prompt_tokens = IntField(u, "prompt_tokens");
    out.usage.completion_tokens = IntField(u, "completion_tokens");
    out.usage.total_tokens = IntField(u, "total_tokens");
    if (out.usage.total_tokens == 0) {
      out.usage.total_tokens = out.usage.prompt_tokens + out.usage.completion_tokens;
    }
  }
  if (j.contains("model") && j["model"].is_string()) out.model = j["model"].get<std::string>();
  return out;
}

Result<std::unique_ptr<OpenAiChatModel>> OpenAiChatModel::Create(Config config, Environment& env) {
  auto url = HttpUrl::Parse(config.base_url);
  if (!url) return Error::Invalid("LLM_BASE_URL: " + url.error().message);
  return std::make_unique<OpenAiChatModel>(std::move(config), env);
}

OpenAiChatModel::OpenAiChatModel(Config config, Environment& env)
    : config_(std::move(config)), env_(env) {
  config_.max_attempts = std::max(1, config_.max_attempts);
  if (auto url = HttpUrl::Parse(config_.base_url)) {
    HttpOptions options;
    options.connect_timeout = config_.connect_timeout;
    options.read_timeout = config_.read_timeout;
    if (IsOpenAiHost(url->host)) max_tokens_field_ = "max_completion_tokens";
    http_ = std::make_unique<HttpClient>(std::move(*url), options);
  } else {
    url_error_ = url.error().message;
  }
}

OpenAiChatModel::~OpenAiChatModel() = default;

std::string OpenAiChatModel::Name() const { return "openai:" + config_.model; }

std::string OpenAiChatModel::RequestBody(const ChatRequest& request) const {
  json body = json::object();
  body["model"] = config_.model;
  body["messages"] = SanitizedMessages(request.messages);
  if (config_.max_tokens > 0) body[max_tokens_field_] = config_.max_tokens;
  // An empty tools array is rejected by OpenAI ("[] is too short"), and tool_choice or
  // parallel_tool_calls without tools is a 400 as well.
  if (request.Tools().is_array() && !request.Tools().empty()) {
    body["tools"] = request.Tools();
    const std::string& choice = request.tool_choice;
    if (choice.empty() || choice == "auto" || choice == "none" || choice == "required") {
      body["tool_choice"] = choice.empty() ? "auto" : choice;
    } else {
      body["tool_choice"] = {{"type", "function"}, {"function", {{"name", choice}}}};
    }
    // llama.cpp makes one call per turn unless asked.
    body["parallel_tool_calls"] = true;
  }
  return body.dump();
}

std::chrono::milliseconds OpenAiChatModel::Backoff(int failed_attempts) const {
  // min(base * 2^(n-1), max) * (1 - 0.25 * u), u in [0, 1): the official SDK's schedule.
  double base = static_cast<double>(config_.backoff_base.count());
  double wait = std::min(base * std::pow(2.0, failed_attempts - 1),
                         static_cast<double>(config_.backoff_max.count()));
  double u = env_.UniformUnit();
  return milliseconds(static_cast<int64_t>(wait * (1.0 - 0.25 * u)));
}

Task<OpenAiChatModel::Attempt> OpenAiChatModel::CallOnce(const ChatRequest& request, int attempt,
                                                         std::optional<ModelGate::Permit> permit) {
  std::map<std::string, std::string> headers = {{"Accept", "application/json"}};
  if (!config_.api_key.empty()) headers["Authorization"] = "Bearer " + config_.api_key;
  if (attempt > 1) headers["x-stainless-retry-count"] = std::to_string(attempt - 1);
  // The body is built for each attempt and handed to the transfer, not kept here as well: a
  // conversation waiting on the model holds one copy of it.
  std::string body = RequestBody(request);
  body.shrink_to_fit();  // held while the call waits: no doubling slack
  auto held = std::make_shared<std::optional<ModelGate::Permit>>(std::move(permit));
  const auto started = std::chrono::steady_clock::now();
  co_return co_await Completion<Attempt>([&](Completion<Attempt>::Done done) {
    http_->PostAsync(
        "/chat/completions", std::move(body), "application/json", headers,
        [this, attempt, started, held, done = std::move(done)](Result<HttpResponse> r) {
          // On the HTTP thread, before the conversation is back on a thread of its own: the
          // answer is judged, a pause asked for is recorded for every caller, and only then is
          // the permit given back, so the caller next in line cannot start in between, and a
          // permit never waits for a free thread (which could be waiting for the permit).
          auto latency =
              std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
          Attempt a = Judge(std::move(r), attempt, latency);
          if (a.throttled && config_.gate != nullptr) {
            a.pause = std::min(a.hint ? *a.hint : Backoff(attempt), config_.max_retry_wait);
            config_.gate->Throttle(*a.pause);
          }
          held->reset();
          done(std::move(a));
        });
  });
}

OpenAiChatModel::Attempt OpenAiChatModel::Judge(Result<HttpResponse> r, int attempt,
                                                milliseconds latency) const {
  std::string latency_ms = std::to_string(latency.count());

  Attempt out;
  if (!r) {
    // Nothing was charged that matters: a completion has no side effects, so an unknown
    // outcome is retried just like a refused connection.
    out.error = Error::Unavailable("LLM server did not answer: " + r.error().message);
    out.retryable = true;
    Log(LogLevel::kWarn, "llm_call",
        {{"model", config_.model},
         {"attempt", std::to_string(attempt)},
         {"status", std::string(ErrorCodeName(r.code()))},
         {"latency_ms", latency_ms},
         {"error", r.error().message}});
    return out;
  }

  const HttpResponse& res = *r;
  std::string request_id = res.Header("x-request-id");
  std::string status = std::to_string(res.status);
  if (res.status >= 200 && res.status < 300) {
    auto parsed = ParseChatCompletion(res.body, env_);
    if (parsed) {
      Log(LogLevel::kInfo, "llm_call",
          {{"model", config_.model},
           {"attempt", std::to_string(attempt)},
           {"status", status},
           {"latency_ms", latency_ms},
           {"prompt_tokens", std::to_string(parsed->usage.prompt_tokens)},
           {"completion_tokens", std::to_string(parsed->usage.completion_tokens)},
           {"total_tokens", std::to_string(parsed->usage.total_tokens)},
           {"finish_reason", parsed->finish_reason},
           {"tool_calls", std::to_string(parsed->message.tool_calls.size())},
           {"request_id", request_id}});
      out.response = std::move(*parsed);
      return out;
    }
    out.error = parsed.error();
    out.retryable = true;
  } else {
    ServerError described = DescribeErrorBody(res.body);
    std::string what =
        "LLM server answered HTTP " + status +
        (described.code.empty() || described.code == status ? std::string()
                                                            : " (" + described.code + ")") +
        ": " + described.message;
    int s = res.status;
    bool has_hint = !res.Header("retry-after").empty() || !res.Header("retry-after-ms").empty();
    if (s == 429 && described.code == "insufficient_quota") {
      out.error = Error::Unavailable(what);  // credits are gone; waiting will not help
    } else if (s == 408 || s == 409 || s == 429 || s >= 500 || (s == 402 && has_hint)) {
      out.error = Error::Unavailable(what);
      out.retryable = true;
    } else if (s == 401 || s == 403) {
      out.error = Error::Forbidden(what);
    } else if (s == 402) {
      out.error = Error::Unavailable(what);
    } else {
      out.error = Error::Invalid(what);
    }
    std::string should = AsciiLower(res.Header("x-should-retry"));
    if (should == "true") out.retryable = true;
    if (should == "false") out.retryable = false;
    out.hint = RetryHint(res, env_.clock());
    out.throttled = (s == 429 && described.code != "insufficient_quota") ||
                    (out.retryable && out.hint.has_value());
  }
  Log(LogLevel::kWarn, "llm_call",
      {{"model", config_.model},
       {"attempt", std::to_string(attempt)},
       {"status", status},
       {"latency_ms", latency_ms},
       {"request_id", request_id},
       {"retryable", out.retryable ? "true" : "false"},
       {"error", out.error.message}});
  return out;
}

Result<ChatResponse> OpenAiChatModel::Complete(const ChatRequest& request) {
  return SyncWait(CompleteAsync(request));
}

Task<Result<ChatResponse>> OpenAiChatModel::CompleteAsync(const ChatRequest& request) {
  if (!http_) co_return Error::Invalid("LLM base URL: " + url_error_);
  for (int attempt = 1;; ++attempt) {
    std::optional<ModelGate::Permit> permit;
    if (config_.gate != nullptr) {
      auto p = config_.gate->Acquire(config_.read_timeout);
      if (!p) {
        Log(LogLevel::kWarn, "llm_gate_refused",
            {{"model", config_.model},
             {"attempt", std::to_string(attempt)},
             {"error", p.error().message}});
        co_return p.error();
      }
      permit.emplace(std::move(*p));
    }
    // The permit goes with the request and is given back as its answer is judged.
    Attempt a = co_await CallOnce(request, attempt, std::move(permit));
    if (a.response) co_return std::move(*a.response);
    if (!a.retryable) co_return a.error;
    if (attempt >= config_.max_attempts) {
      co_return Error{a.error.code, a.error.message + " (gave up after " + std::to_string(attempt) +
                                        (attempt == 1 ? " attempt)" : " attempts)")};
    }
    if (a.pause) continue;  // the next Acquire waits out the pause with everyone else
    milliseconds wait = a.hint ? std::min(*a.hint, config_.max_retry_wait) : Backoff(attempt);
    wait = std::min(wait, config_.max_retry_wait);
    BlockingScope blocking;
    env_.Sleep(wait);
  }
}

}  // namespace depositbot
