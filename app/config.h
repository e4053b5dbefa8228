#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/money.h"
#include "common/result.h"
#include "registrar/namecheap_contact.h"

namespace depositbot {

// Everything depositbot reads from the environment (DESIGN.md §3), validated
// once at start-up. A bad value is an Error whose message names the variable
// and what it expected, printed as one line by main().
struct Config {
  std::string db_path = "./depositbot.db";
  std::set<int64_t> admin_ids;
  // ALERT_RETRY_SECONDS: the wait before an admin alert whose send failed is tried again for
  // that admin; it doubles with each failure, up to an hour.
  int64_t alert_retry_seconds = 30;
  std::string telegram_bot_token;
  std::string telegram_api_base = "https://api.telegram.org";
  std::string telegram_webhook_secret;
  std::string http_listen = "127.0.0.1:8080";
  std::string llm_base_url = "https://api.openai.com/v1";
  std::string llm_api_key;
  std::string llm_model = "gpt-4o-mini";
  int llm_max_tokens = 1024;  // LLM_MAX_TOKENS, 16..32768: the cap on one model answer
  // LLM_MAX_CONCURRENT: model calls in flight at once, for the whole process (agent/model_gate.h).
  int llm_max_concurrent = 1024;
  // LLM_MAX_REQUESTS_PER_MINUTE: model calls started a minute, for the whole process; 0: none.
  int64_t llm_max_requests_per_minute = 0;
  bool llm_configured = false;  // an API key or a non-default base URL was given
  std::string namecheap_api_url = "https://api.sandbox.namecheap.com/xml.response";
  std::string namecheap_api_user, namecheap_api_key, namecheap_username, namecheap_client_ip;
  bool namecheap_configured = false;
  // NAMECHEAP_CONTACT_<FIELD> (FIRST_NAME, LAST_NAME, ORGANIZATION, ADDRESS1, ADDRESS2, CITY,
  // STATE_PROVINCE, POSTAL_CODE, COUNTRY upper-cased, PHONE, EMAIL); complete and well formed
  // whenever namecheap_configured.
  NamecheapContact namecheap_contact;
  Currency currency{"USD", 2};
  Decimal usd_exchange_rate{1, 0};
  Decimal price_markup_percent{0, 0};
  int64_t reconcile_interval_seconds = 3600;
  // Handled Telegram updates older than this are forgotten; 1..3650. Telegram never delivers
  // an update again after 24 hours, so any value keeps handling at most once.
  int64_t inbox_retention_days = 30;
  // serve: at most this many Telegram updates queued or being handled at once (each chat with
  // work on a thread of its own); past it a new message is answered "busy". 1..kMaxInFlightLimit.
  static constexpr int64_t kMaxInFlightLimit = 100000;
  int64_t max_in_flight = 1024;
  // DB_POOL_SIZE: connections to PostgreSQL at most (ignored on SQLite, which has one). A turn
  // holds one only while its statements run, not while it waits for the model, so a few carry
  // many updates in flight. 1..1000, and no more than the server accepts (checked at start-up).
  int64_t db_pool_size = 16;
  // Fair use per user (agent/fair_use.h). USER_MESSAGES_PER_MINUTE (0: off) refills a bucket of
  // USER_MESSAGE_BURST messages per Telegram user and process; USER_DAILY_MODEL_TOKENS (0:
  // unlimited) bounds the model tokens per user and UTC day, across processes;
  // ADMINS_EXEMPT_FROM_LIMITS lets the ADMIN_IDS past both.
  int64_t user_messages_per_minute = 20;
  int64_t user_message_burst = 10;
  int64_t user_daily_model_tokens = 200'000;
  bool admins_exempt_from_limits = true;
  // Bank-transfer notifications (POST /deposits/notify, docs/bank-notifications.md).
  // BANK_NOTIFY_SECRET signs them (HMAC-SHA256); empty: the endpoint is off (404). When set it
  // must be at least kMinBankNotifySecretLength characters. BANK_NOTIFY_TOLERANCE_SECONDS: how
  // far a notification's signed timestamp may be from now, 1..3600.
  static constexpr size_t kMinBankNotifySecretLength = 32;
  std::string bank_notify_secret;
  int64_t bank_notify_tolerance_seconds = 300;
  // The variables the environment set (non-empty); the others hold their defaults.
  std::set<std::string> given;

  // `env` is the process environment merged over an optional .env file. Refuses, with one line
  // naming the variable, every value out of its range (the k* bounds below) and every
  // combination that could only fail after a user was charged: a currency other than USD
  // without USD_EXCHANGE_RATE; Namecheap credentials without a contact domains.create accepts
  // (registrar/namecheap_contact.h); an unknown NAMECHEAP_CONTACT_* variable.
  static Result<Config> FromEnvironment(const std::map<std::string, std::string>& env);

  // One line of the effective configuration: a variable, its value, and whether it holds its
  // default. Secrets read "(set, redacted)" or "(not set)", never their value.
  struct Line {
    std::string variable;
    std::string value;
    bool is_default = true;
  };
  // Every variable, in DESIGN.md §3's order (what `depositbot config` prints).
  std::vector<Line> Describe() const;
  // "offline rule-based model" or "gpt-4o-mini at https://..."; from the settings alone.
  std::string ModelSummary() const;
  // "demo (nothing is really registered)" or "Namecheap at https://..."; from the settings alone.
  std::string RegistrarSummary() const;

  // Bounds, inclusive; DESIGN.md §3 and the README name them.
  static constexpr int64_t kMaxUsdExchangeRate = 10'000'000;
  static constexpr int kMaxUsdExchangeRateDecimals = 6;
  static constexpr int64_t kMaxPriceMarkupPercent = 1000;
  static constexpr int kMaxPriceMarkupDecimals = 4;
  static constexpr int64_t kMinReconcileIntervalSeconds = 60;          // or 0: off
  static constexpr int64_t kMaxReconcileIntervalSeconds = 31'536'000;  // 365 days
  static constexpr int64_t kMaxLlmConcurrent = 100'000;
  static constexpr int64_t kMaxLlmRequestsPerMinute = 10'000'000;
  static constexpr int64_t kMaxUserMessagesPerMinute = 100'000;
  static constexpr int64_t kMaxUserMessageBurst = 100'000;
  static constexpr int64_t kMaxUserDailyModelTokens = 1'000'000'000'000;
};

// The process environment, with KEY=VALUE lines of `env_file` (if it exists)
// filling in variables that the environment does not set.
Result<std::map<std::string, std::string>> ReadEnvironment(const std::string& env_file);

}  // namespace depositbot
