#include "app/notify_test.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "chat/bank_notify_signature.h"
#include "common/http_client.h"

namespace depositbot {

int RunNotifyTest(const Config& config, const NotifyTestFlags& flags) {
  if (config.bank_notify_secret.empty()) {
    std::fprintf(stderr,
                 "depositbot: BANK_NOTIFY_SECRET: expected the secret the bank signs with, got "
                 "nothing (the endpoint is off without it)\n");
    return 2;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string amount = flags.amount;
  if (amount.empty()) amount = config.currency.exponent == 0 ? "10000" : "10.00";
  nlohmann::json body = {
      {"amount", amount},
      {"currency", flags.currency.empty() ? config.currency.code : flags.currency},
      {"depositor_name", flags.name},
      {"reference", flags.reference.empty() ? "TEST-" + std::to_string(now) : flags.reference},
      {"received_at", now}};
  const std::string text = body.dump();
  std::string url = flags.url;
  if (url.empty()) url = "http://" + config.http_listen + "/deposits/notify";
  auto parsed = HttpUrl::Parse(url);
  if (!parsed) {
    std::fprintf(stderr, "depositbot: --url: %s\n", parsed.error().message.c_str());
    return 2;
  }
  std::string path = parsed->base_path;
  parsed->base_path.clear();
  HttpClient client(*parsed, HttpOptions{});
  std::printf("POST %s\n%s\n", url.c_str(), text.c_str());
  auto r = client.Post(path, text, "application/json",
                       {{std::string(kBankSignatureHeader),
                         SignBankNotification(config.bank_notify_secret, now, text)}});
  if (!r) {
    std::fprintf(stderr, "depositbot: %s: %s\n", url.c_str(), r.error().message.c_str());
    return 2;
  }
  std::printf("%d\n%s\n", r->status, r->body.c_str());
  return r->status == 200 ? 0 : 1;
}

}  // namespace depositbot
