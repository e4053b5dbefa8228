#pragma once

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
class HttpEndpoint {
 public:
  struct Options {
    std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
    bool webhook = false;
    std::string webhook_secret;
    // Lines added to /healthz's body after "ok" (what the capacity is), e.g.
    // "max_in_flight: 1024\n".
    std::function<std::string()> details;
  };
  using UpdateHandler = std::function<int(const std::string& body)>;

  HttpEndpoint(Options options, std::function<bool()> healthy, Metrics& metrics,
               UpdateHandler on_update);
  ~HttpEndpoint();

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
