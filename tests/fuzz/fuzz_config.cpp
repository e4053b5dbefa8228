// libFuzzer target: the configuration read from the environment (Config::FromEnvironment).
// Input: KEY=VALUE lines. Keys are taken as written; a line "@N=VALUE" names the N-th known
// variable, so the fuzzer reaches every one without guessing names. An accepted config is then
// used the way start-up uses it: a registrar price converted with its rate and markup.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "app/config.h"

#ifndef DEPOSITBOT_FUZZ_ENTRY
#define DEPOSITBOT_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

using namespace depositbot;

extern "C" int DEPOSITBOT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  static const char* const kKnown[] = {"DEPOSITBOT_DB",
                                       "ADMIN_IDS",
                                       "TELEGRAM_BOT_TOKEN",
                                       "TELEGRAM_API_BASE",
                                       "TELEGRAM_WEBHOOK_SECRET",
                                       "HTTP_LISTEN",
                                       "LLM_BASE_URL",
                                       "LLM_API_KEY",
                                       "LLM_MODEL",
                                       "NAMECHEAP_API_URL",
                                       "NAMECHEAP_API_USER",
                                       "NAMECHEAP_API_KEY",
                                       "NAMECHEAP_USERNAME",
                                       "NAMECHEAP_CLIENT_IP",
                                       "NAMECHEAP_CONTACT_PHONE",
                                       "CURRENCY",
                                       "USD_EXCHANGE_RATE",
                                       "PRICE_MARKUP_PERCENT",
                                       "RECONCILE_INTERVAL_SECONDS"};
  constexpr size_t kKnownCount = sizeof(kKnown) / sizeof(kKnown[0]);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> env;
  while (!input.empty()) {
    size_t nl = input.find('\n');
    std::string_view line = input.substr(0, nl);
    input = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(line.substr(0, eq));
    if (key.size() >= 2 && key[0] == '@') {
      key = kKnown[static_cast<unsigned char>(key[1]) % kKnownCount];
    }
    env[key] = std::string(line.substr(eq + 1));
  }
  auto config = Config::FromEnvironment(env);
  if (!config) {
    if (config.error().message.empty()) std::abort();  // one line naming the variable
    return 0;
  }
  for (int64_t usd_micros :
       {int64_t{0}, int64_t{10'280'000}, int64_t{2'500'000'000}, int64_t{1'000'000'000'000'000}}) {
    auto minor = ConvertUsdMicros(usd_micros, config->usd_exchange_rate,
                                  config->price_markup_percent, config->currency);
    if (minor && *minor < 0) std::abort();
  }
  return 0;
}
