#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "common/money.h"
#include "common/result.h"

namespace depositbot {

// Everything depositbot reads from the environment (DESIGN.md §3), validated
// once at start-up. A bad value is an Error whose message names the variable
// and what it expected, printed as one line by main().
struct Config {
  std::string db_path = "./depositbot.db";
  std::set<int64_t> admin_ids;
  std::string telegram_bot_token;
  std::string telegram_api_base = "https://api.telegram.org";
  std::string telegram_webhook_secret;
  std::string http_listen = "127.0.0.1:8080";
  std::string llm_base_url = "https://api.openai.com/v1";
  std::string llm_api_key;
  std::string llm_model = "gpt-4o-mini";
  int llm_max_tokens = 1024;  // LLM_MAX_TOKENS, 16..32768: the cap on one model answer
  bool llm_configured = false;  // an API key or a non-default base URL was given
  std::string namecheap_api_url = "https://api.sandbox.namecheap.com/xml.response";
  std::string namecheap_api_user, namecheap_api_key, namecheap_username, namecheap_client_ip;
  bool namecheap_configured = false;
  // NAMECHEAP_CONTACT_<FIELD> values (FIRST_NAME, LAST_NAME, ORGANIZATION, ADDRESS1,
  // ADDRESS2, CITY, STATE_PROVINCE, POSTAL_CODE, COUNTRY, PHONE, EMAIL), keyed by FIELD.
  std::map<std::string, std::string> namecheap_contact;
  Currency currency{"USD", 2};
  Decimal usd_exchange_rate{1, 0};
  Decimal price_markup_percent{0, 0};
  int64_t reconcile_interval_seconds = 3600;

  // `env` is the process environment merged over an optional .env file.
  static Result<Config> FromEnvironment(const std::map<std::string, std::string>& env);
};

// The process environment, with KEY=VALUE lines of `env_file` (if it exists)
// filling in variables that the environment does not set.
Result<std::map<std::string, std::string>> ReadEnvironment(const std::string& env_file);

}  // namespace depositbot
