#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"

namespace depositbot {

class Metrics;

// The bot's HTTP side on HTTP_LISTEN: GET /healthz (200 when `healthy`, with
// Options::details in the body),
// GET /metrics (Prometheus text), and in webhook mode POST /telegram/webhook,
// which answers 401 without processing unless X-Telegram-Bot-Api-Secret-Token
// equals the secret (compared in constant time), then hands the body to
// `on_update` and answers with the status it returns.
// With a bank secret, POST /deposits/notify (docs/bank-notifications.md) answers 401 without
// processing unless the Depositbot-Signature header verifies (chat/bank_notify_signature.h),
// 413 for a body over kMaxBankNotifyBody, and otherwise what `on_bank_notice` returns; without
// one the path is unknown (404).
class HttpEndpoint {
 public:
  struct Options {
    std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
    bool webhook = false;
    std::string webhook_secret;
    // Lines added to /healthz's body after "ok" (what the capacity is), e.g.
    // "max_in_flight: 1024\n".
    std::function<std::string()> details;
    // Bank feed: empty turns POST /deposits/notify off.
    std::string bank_notify_secret;
    int64_t bank_notify_tolerance_seconds = 300;
    std::function<int64_t()> now_seconds;  // the clock the signature's timestamp is checked by
  };
  using UpdateHandler = std::function<int(const std::string& body)>;
  // Answers a verified bank notification: an HTTP status and a JSON body.
  struct Answer {
    int status = 200;
    std::string json;
  };
  using BankNoticeHandler = std::function<Answer(const std::string& body)>;
  static constexpr size_t kMaxBankNotifyBody = 16 * 1024;

  HttpEndpoint(Options options, std::function<bool()> healthy, Metrics& metrics,
               UpdateHandler on_update);
  ~HttpEndpoint();

  // Set before Start(); without it a verified notice is answered 503.
  void SetBankNoticeHandler(BankNoticeHandler handler);

  // Binds and starts serving on a background thread; kUnavailable when the
  // address cannot be bound.
  Status Start();
  int port() const { return port_; }
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// Constant-time equality for secrets (length may leak, content does not).
bool SecretEquals(const std::string& a, const std::string& b);

}  // namespace depositbot
