#include "tests/fakes/fake_llm_server.h"

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "tests/fakes/loopback_server.h"

namespace depositbot::testing {
namespace {

using nlohmann::json;

json ErrorEnvelope(const std::string& message, const std::string& type, const json& code) {
  return {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
}

json DefaultUsage() {
  return {{"prompt_tokens", 10}, {"completion_tokens", 5}, {"total_tokens", 15}};
}

json WireToolCall(const FakeToolCall& c) {
  return {{"id", c.id},
          {"type", "function"},
          {"function", {{"name", c.name}, {"arguments", c.arguments}}}};
}

std::atomic<int> g_script_call_ids{0};

// A script's tool call, possibly flat and with object arguments, in the real wire shape.
Result<json> NormaliseScriptCall(const json& c) {
  if (!c.is_object()) return Error::Invalid("a tool call must be an object");
  const json& fn = c.contains("function") && c["function"].is_object() ? c["function"] : c;
  if (!fn.contains("name") || !fn["name"].is_string()) {
    return Error::Invalid("a tool call needs a \"name\"");
  }
  FakeToolCall out;
  out.name = fn["name"].get<std::string>();
  out.id = c.contains("id") && c["id"].is_string() ? c["id"].get<std::string>() : "";
  if (out.id.empty()) out.id = "call_fake" + std::to_string(++g_script_call_ids);
  if (!fn.contains("arguments") || fn["arguments"].is_null()) {
    out.arguments = "{}";
  } else if (fn["arguments"].is_string()) {
    out.arguments = fn["arguments"].get<std::string>();
  } else {
    out.arguments = fn["arguments"].dump();
  }
  return WireToolCall(out);
}

}  // namespace

FakeLlmReply FakeLlmReply::Text(std::string content) {
  FakeLlmReply r;
  r.message = {{"role", "assistant"}, {"content", std::move(content)}, {"refusal", nullptr}};
  r.finish_reason = "stop";
  r.usage = DefaultUsage();
  return r;
}

FakeLlmReply FakeLlmReply::ToolCalls(std::vector<FakeToolCall> calls, std::string content) {
  FakeLlmReply r;
  json wire = json::array();
  for (const FakeToolCall& c : calls) wire.push_back(WireToolCall(c));
  r.message = {{"role", "assistant"},
               {"content", content.empty() ? json(nullptr) : json(content)},
               {"refusal", nullptr},
               {"tool_calls", std::move(wire)}};
  r.finish_reason = "tool_calls";
  r.usage = DefaultUsage();
  return r;
}

FakeLlmReply FakeLlmReply::Message(json message, std::string finish_reason) {
  FakeLlmReply r;
  r.message = std::move(message);
  r.finish_reason = std::move(finish_reason);
  r.usage = DefaultUsage();
  return r;
}

FakeLlmReply FakeLlmReply::HttpError(int status, std::string message, std::string type, json code) {
  FakeLlmReply r;
  r.kind = Kind::kHttpError;
  r.status = status;
  r.body = ErrorEnvelope(message, type, code).dump();
  return r;
}

FakeLlmReply FakeLlmReply::RawBody(int status, std::string body, std::string content_type) {
  FakeLlmReply r;
  r.kind = Kind::kRawBody;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

FakeLlmReply FakeLlmReply::Hang() {
  FakeLlmReply r;
  r.kind = Kind::kHang;
  return r;
}

Result<FakeLlmReply> FakeLlmReply::FromScript(const json& e) {
  if (e.is_string()) return Text(e.get<std::string>());
  if (!e.is_object()) return Error::Invalid("a script reply must be a string or an object");
  if (e.contains("hang") && e["hang"] == true) return Hang();
  if (e.contains("status") || e.contains("error")) {
    int status = 500;
    if (e.contains("status")) {
      if (!e["status"].is_number_integer()) return Error::Invalid("\"status\" must be an integer");
      status = e["status"].get<int>();
    }
    FakeLlmReply r;
    r.kind = Kind::kHttpError;
    r.status = status;
    json err = e.value("error", json("scripted error"));
    if (err.is_string()) {
      r.body = ErrorEnvelope(err.get<std::string>(), "server_error", nullptr).dump();
    } else if (err.is_object()) {
      json full = {{"message", ""},
                   {"type", "invalid_request_error"},
                   {"param", nullptr},
                   {"code", nullptr}};
      full.update(err);
      r.body = json{{"error", full}}.dump();
    } else {
      return Error::Invalid("\"error\" must be a string or an object");
    }
    if (e.contains("headers")) {
      if (!e["headers"].is_object()) return Error::Invalid("\"headers\" must be an object");
      for (const auto& [k, v] : e["headers"].items()) {
        r.headers[k] = v.is_string() ? v.get<std::string>() : v.dump();
      }
    }
    return r;
  }
  json message = e;
  message.erase("finish_reason");
  message.erase("usage");
  if (!message.contains("role")) message["role"] = "assistant";
  if (!message.contains("content")) message["content"] = nullptr;
  bool has_calls = false;
  if (message.contains("tool_calls")) {
    if (!message["tool_calls"].is_array()) return Error::Invalid("\"tool_calls\" must be an array");
    json wire = json::array();
    for (const json& c : message["tool_calls"]) {
      auto call = NormaliseScriptCall(c);
      if (!call) return call.error();
      wire.push_back(std::move(*call));
    }
    has_calls = !wire.empty();
    message["tool_calls"] = std::move(wire);
  }
  FakeLlmReply r = Message(std::move(message), has_calls ? "tool_calls" : "stop");
  if (e.contains("finish_reason") && e["finish_reason"].is_string()) {
    r.finish_reason = e["finish_reason"].get<std::string>();
  }
  if (e.contains("usage")) r.usage = e["usage"];
  return r;
}

FakeLlmReply& FakeLlmReply::WithFinishReason(std::string reason) {
  finish_reason = std::move(reason);
  return *this;
}

FakeLlmReply& FakeLlmReply::WithUsage(int64_t prompt_tokens, int64_t completion_tokens) {
  usage = {{"prompt_tokens", prompt_tokens},
           {"completion_tokens", completion_tokens},
           {"total_tokens", prompt_tokens + completion_tokens}};
  return *this;
}

FakeLlmReply& FakeLlmReply::WithoutUsage() {
  usage = nullptr;
  return *this;
}

FakeLlmReply& FakeLlmReply::WithHeader(std::string name, std::string value) {
  headers[std::move(name)] = std::move(value);
  return *this;
}

struct FakeLlmServer::Impl {
  Options options;
  httplib::Server server;
  BurstAccept burst;  // a throughput test opens hundreds of connections at once
  std::thread thread;
  int port = 0;

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::deque<FakeLlmReply> queue;
  std::vector<FakeLlmRequest> requests;
  bool released = false;  // hangs and delays end at once
  bool holding = false;   // Hold() .. Release()
  size_t held = 0;

  void Handle(const httplib::Request& req, httplib::Response& res);
  FakeLlmReply NextReply(const FakeLlmRequest& request, size_t n);
};

FakeLlmReply FakeLlmServer::Impl::NextReply(const FakeLlmRequest& request, size_t n) {
  // Called with mu held.
  const std::string& authorization = request.authorization;
  if (!options.api_key.empty() && authorization != "Bearer " + options.api_key) {
    std::string shown = authorization.rfind("Bearer ", 0) == 0 ? authorization.substr(7) : "";
    if (shown.size() > 4) shown = shown.substr(0, 2) + "***" + shown.substr(shown.size() - 2);
    return FakeLlmReply::HttpError(
        401,
        shown.empty() ? "You didn't provide an API key. You need to provide your API key in an "
                        "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                        "YOUR_KEY)."
                      : "Incorrect API key provided: " + shown + ".",
        "invalid_request_error", shown.empty() ? json(nullptr) : json("invalid_api_key"));
  }
  if (!queue.empty()) {
    FakeLlmReply r = std::move(queue.front());
    queue.pop_front();
    return r;
  }
  if (options.responder) return options.responder(request);
  if (options.default_reply) return *options.default_reply;
  return FakeLlmReply::HttpError(
      500, "fake LLM server has no scripted reply for request #" + std::to_string(n),
      "server_error");
}

void FakeLlmServer::Impl::Handle(const httplib::Request& req, httplib::Response& res) {
  FakeLlmRequest rec;
  rec.path = req.path;
  rec.authorization = req.get_header_value("Authorization");
  rec.body = req.body;
  rec.json = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  rec.received_at = std::chrono::steady_clock::now();

  std::unique_lock<std::mutex> lock(mu);
  requests.push_back(rec);
  size_t n = requests.size();
  cv.notify_all();
  if (holding) {
    ++held;
    cv.notify_all();
    cv.wait(lock, [this] { return !holding || released; });
    --held;
  }
  FakeLlmReply reply = NextReply(rec, n);
  if (options.delay.count() > 0) {
    cv.wait_for(lock, options.delay, [this] { return released; });
  }
  if (reply.kind == FakeLlmReply::Kind::kHang) {
    cv.wait(lock, [this] { return released; });
    reply = FakeLlmReply::HttpError(504, "fake LLM server released a hung request", "server_error");
  }
  lock.unlock();

  res.set_header("x-request-id", "req_" + std::to_string(n));
  for (const auto& [k, v] : reply.headers) res.set_header(k.c_str(), v);
  res.status = reply.status;
  if (reply.kind == FakeLlmReply::Kind::kCompletion) {
    std::string model = "fake-model";
    if (rec.json.is_object() && rec.json.contains("model") && rec.json["model"].is_string()) {
      model = rec.json["model"].get<std::string>();
    }
    json body = {{"id", "chatcmpl-fake" + std::to_string(n)},
                 {"object", "chat.completion"},
                 {"created", 1767225600},
                 {"model", model},
                 {"system_fingerprint", "fp_fake"},
                 {"choices", json::array({{{"index", 0},
                                           {"message", reply.message},
                                           {"logprobs", nullptr},
                                           {"finish_reason", reply.finish_reason}}})}};
    if (!reply.usage.is_null()) body["usage"] = reply.usage;
    res.set_content(body.dump(), "application/json");
  } else {
    res.set_content(reply.body, reply.content_type.c_str());
  }
}

FakeLlmServer::FakeLlmServer() : FakeLlmServer(Options{}) {}

FakeLlmServer::FakeLlmServer(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  auto handler = [impl = impl_.get()](const httplib::Request& req, httplib::Response& res) {
    impl->Handle(req, res);
  };
  impl_->burst.Prepare(impl_->server);
  impl_->server.Post("/v1/chat/completions", handler);
  impl_->server.Post("/chat/completions", handler);
  if (impl_->options.port == 0) {
    impl_->port = impl_->server.bind_to_any_port("127.0.0.1");
    if (impl_->port <= 0) throw std::runtime_error("fake LLM server: cannot bind a port");
  } else {
    if (!impl_->server.bind_to_port("127.0.0.1", impl_->options.port)) {
      throw std::runtime_error("fake LLM server: cannot bind port " +
                               std::to_string(impl_->options.port));
    }
    impl_->port = impl_->options.port;
  }
  impl_->burst.Raise();
  impl_->thread = std::thread([impl = impl_.get()] { impl->server.listen_after_bind(); });
  while (!impl_->server.is_running()) std::this_thread::yield();
}

FakeLlmServer::~FakeLlmServer() {
  ReleaseHangs();  // the server's worker threads must finish before stop() can join them
  impl_->server.stop();
  impl_->thread.join();
}

void FakeLlmServer::Enqueue(FakeLlmReply reply) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->queue.push_back(std::move(reply));
}

void FakeLlmServer::ReleaseHangs() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->released = true;
  }
  impl_->cv.notify_all();
}

void FakeLlmServer::Hold() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->holding = true;
}

void FakeLlmServer::Release() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->holding = false;
  impl_->cv.notify_all();
}

size_t FakeLlmServer::Held() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->held;
}

bool FakeLlmServer::WaitForHeld(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->held >= n; });
}

int FakeLlmServer::port() const { return impl_->port; }

std::string FakeLlmServer::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + "/v1";
}

std::vector<FakeLlmRequest> FakeLlmServer::Requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests;
}

size_t FakeLlmServer::RequestCount() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests.size();
}

bool FakeLlmServer::WaitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->requests.size() >= n; });
}

size_t FakeLlmServer::PendingReplies() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->queue.size();
}

std::string LastUserText(const FakeLlmRequest& request) {
  std::string text;
  if (!request.json.is_object() || !request.json.contains("messages")) return text;
  for (const auto& m : request.json["messages"]) {
    if (m.value("role", "") == "user" && m.contains("content") && m["content"].is_string()) {
      text = m["content"].get<std::string>();
    }
  }
  return text;
}

FakeLlmServer::Options EchoModel() {
  FakeLlmServer::Options o;
  o.responder = [](const FakeLlmRequest& r) {
    return FakeLlmReply::Text("echo: " + LastUserText(r));
  };
  return o;
}

}  // namespace depositbot::testing
