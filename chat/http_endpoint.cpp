#include "chat/http_endpoint.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <sys/socket.h>

#include <atomic>
#include <ctime>

#include "chat/bank_notify_signature.h"
#include "common/log.h"
#include "common/metrics.h"

namespace depositbot {

bool SecretEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size() || a.empty()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct HttpEndpoint::Impl {
  Options options;
  std::function<bool()> healthy;
  Metrics& metrics;
  UpdateHandler on_update;
  BankNoticeHandler on_bank_notice;
  httplib::Server server;
  std::thread thread;
  std::atomic<int> listening{-1};  // the listening socket, to raise its backlog
};

// Telegram delivers a webhook over up to 40 connections at once (max_connections) and a load
// balancer may open more; with cpp-httplib's accept backlog of 5 a burst sees connections
// dropped, answered by no one and redelivered late.
constexpr int kAcceptBacklog = 1024;

HttpEndpoint::HttpEndpoint(Options options, std::function<bool()> healthy, Metrics& metrics,
                           UpdateHandler on_update)
    : impl_(new Impl{
          std::move(options), std::move(healthy), metrics, std::move(on_update), {}, {}, {}}) {}

HttpEndpoint::~HttpEndpoint() { Stop(); }

void HttpEndpoint::SetBankNoticeHandler(BankNoticeHandler handler) {
  impl_->on_bank_notice = std::move(handler);
}

// Telegram's updates are far below this; a body past it is refused before it is read whole.
constexpr size_t kMaxRequestBody = 1024 * 1024;

Status HttpEndpoint::Start() {
  Impl& im = *impl_;
  im.server.Get("/healthz", [&im](const httplib::Request&, httplib::Response& res) {
    bool ok = im.healthy();
    res.status = ok ? 200 : 503;
    std::string body = ok ? "ok\n" : "database unavailable\n";
    if (im.options.details) body += im.options.details();
    res.set_content(body, "text/plain");
  });
  im.server.Get("/metrics", [&im](const httplib::Request&, httplib::Response& res) {
    res.set_content(im.metrics.Render(), "text/plain; version=0.0.4");
  });
  if (im.options.webhook) {
    im.server.Post("/telegram/webhook", [&im](const httplib::Request& req, httplib::Response& res) {
      if (!SecretEquals(req.get_header_value("X-Telegram-Bot-Api-Secret-Token"),
                        im.options.webhook_secret)) {
        im.metrics.Add("depositbot_webhook_rejected_total");
        Log(LogLevel::kWarn, "webhook.bad_secret", {{"remote", req.remote_addr}});
        res.status = 401;
        res.set_content("unauthorized\n", "text/plain");
        return;
      }
      res.status = im.on_update(req.body);
    });
  }
  if (!im.options.bank_notify_secret.empty()) {
    im.server.Post("/deposits/notify", [&im](const httplib::Request& req, httplib::Response& res) {
      auto answer = [&res](int status, const std::string& json) {
        res.status = status;
        res.set_content(json, "application/json");
      };
      if (req.body.size() > kMaxBankNotifyBody) {
        im.metrics.Add("depositbot_bank_notify_rejected_total", "reason=\"too_large\"");
        answer(413, R"({"error":"the body is larger than 16 KiB"})");
        return;
      }
      const int64_t now = im.options.now_seconds ? im.options.now_seconds()
                                                 : static_cast<int64_t>(std::time(nullptr));
      if (auto st = VerifyBankSignature(req.get_header_value(std::string(kBankSignatureHeader)),
                                        req.body, im.options.bank_notify_secret, now,
                                        im.options.bank_notify_tolerance_seconds);
          !st) {
        im.metrics.Add("depositbot_bank_notify_rejected_total", "reason=\"signature\"");
        Log(LogLevel::kWarn, "bank_feed.bad_signature",
            {{"remote", req.remote_addr}, {"reason", st.error().message}});
        // The reason stays in the log: a forger learns nothing from the answer.
        answer(401, R"({"error":"unauthorized"})");
        return;
      }
      if (!im.on_bank_notice) {
        answer(503, R"({"error":"the bank feed is not ready"})");
        return;
      }
      Answer a = im.on_bank_notice(req.body);
      answer(a.status, a.json);
    });
  }
  im.server.set_payload_max_length(kMaxRequestBody);
  im.server.set_socket_options([&im](socket_t sock) {
    httplib::default_socket_options(sock);
    im.listening = static_cast<int>(sock);
  });
  std::string host = im.options.listen.substr(0, im.options.listen.rfind(':'));
  int port = std::stoi(im.options.listen.substr(im.options.listen.rfind(':') + 1));
  if (port == 0) {
    port_ = im.server.bind_to_any_port(host);
  } else {
    port_ = im.server.bind_to_port(host, port) ? port : -1;
  }
  if (port_ <= 0) return Error::Unavailable("HTTP_LISTEN: cannot listen on " + im.options.listen);
  // A second listen() on a listening socket only changes its backlog.
  if (im.listening >= 0) ::listen(im.listening, kAcceptBacklog);
  im.thread = std::thread([&im] { im.server.listen_after_bind(); });
  while (!im.server.is_running()) std::this_thread::yield();
  Log(LogLevel::kInfo, "http.listening", {{"port", std::to_string(port_)}});
  return Status::Ok();
}

void HttpEndpoint::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace depositbot
