#include "app/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>

#include "common/database_target.h"
#include "common/http_client.h"
#include "common/text.h"

extern char** environ;

namespace depositbot {
namespace {

// `value` in quotes, control characters escaped, so a refusal stays one line.
std::string Quote(const std::string& value) {
  std::string quoted = "\"";
  for (char ch : value) {
    auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", u);
      quoted += esc;
    } else {
      quoted += ch;
    }
  }
  return quoted + "\"";
}

Error Bad(const std::string& var, const std::string& expected, const std::string& got) {
  return Error::Invalid(var + ": expected " + expected + ", got " + Quote(got));
}

bool ParseInt64(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

constexpr std::string_view kContactPrefix = "NAMECHEAP_CONTACT_";

bool IsHttpUrl(const std::string& s) { return static_cast<bool>(HttpUrl::Parse(s)); }

bool IsIpv4(const std::string& s) {
  in_addr addr{};
  return inet_pton(AF_INET, s.c_str(), &addr) == 1;
}

// d <= limit, exactly.
bool AtMost(const Decimal& d, int64_t limit) {
  int64_t scaled = limit;
  for (int i = 0; i < d.scale; ++i) scaled *= 10;  // limit <= 10^7, scale <= 9: no overflow
  return d.units <= scaled;
}

// An exact decimal without thousands separators: {13505, 1} -> "1350.5".
std::string DecimalText(const Decimal& d) {
  std::string out = FormatMinor(d.units, d.scale);
  out.erase(std::remove(out.begin(), out.end(), ','), out.end());
  return out;
}

// NAMECHEAP_CONTACT_<FIELD> into c.namecheap_contact. A value given is checked for form whether
// or not Namecheap is configured; with Namecheap every required field must be there, since
// domains.create refuses the contact only after the user's balance was debited.
Status ReadContact(const std::map<std::string, std::string>& env, Config& c) {
  const auto& fields = NamecheapContactFields();
  for (const auto& [k, v] : env) {
    if (k.rfind(kContactPrefix, 0) != 0 || v.empty()) continue;
    std::string key = k.substr(kContactPrefix.size());
    bool known = std::any_of(fields.begin(), fields.end(),
                             [&](const NamecheapContactField& f) { return f.key == key; });
    if (!known) {
      std::string names;
      for (const auto& f : fields) names += (names.empty() ? "" : ", ") + std::string(f.key);
      return Error::Invalid(k + ": not a contact field; expected " + std::string(kContactPrefix) +
                            " followed by one of " + names);
    }
  }
  for (const NamecheapContactField& f : fields) {
    const std::string var = std::string(kContactPrefix) + std::string(f.key);
    auto it = env.find(var);
    std::string value = it == env.end() ? "" : it->second;
    if (f.key == "COUNTRY") {
      value = AsciiUpper(value);
    }
    if (value.empty() && !c.namecheap_configured) continue;
    if (auto problem = CheckNamecheapContactField(f, value)) {
      if (problem->missing) {
        return Error::Invalid(var + ": expected " + problem->expected +
                              " (required with the Namecheap credentials: domains.create "
                              "refuses a contact without it), got " +
                              (value.empty() ? "nothing" : Quote(value)));
      }
      return Bad(var, problem->expected, value);
    }
    if (!value.empty()) {
      c.namecheap_contact.*f.member = value;
      c.given.insert(var);
    }
  }
  return Status::Ok();
}

// USER_MESSAGES_PER_MINUTE, USER_MESSAGE_BURST, USER_DAILY_MODEL_TOKENS and
// ADMINS_EXEMPT_FROM_LIMITS into `c`.
template <typename Get>
Status ReadFairUse(Get& get, Config& c) {
  auto whole = [&](const char* var, int64_t min, int64_t max, const std::string& expected,
                   int64_t& out) -> Status {
    auto v = get(var);
    if (!v) return Status::Ok();
    int64_t n = 0;
    if (!ParseInt64(*v, n) || n < min || n > max) return Bad(var, expected, *v);
    out = n;
    return Status::Ok();
  };
  if (auto st = whole("USER_MESSAGES_PER_MINUTE", 0, Config::kMaxUserMessagesPerMinute,
                      "0 (off) or messages a minute per user, up to " +
                          std::to_string(Config::kMaxUserMessagesPerMinute),
                      c.user_messages_per_minute);
      !st) {
    return st;
  }
  if (auto st = whole(
          "USER_MESSAGE_BURST", 1, Config::kMaxUserMessageBurst,
          "messages a user may send at once, 1.." + std::to_string(Config::kMaxUserMessageBurst),
          c.user_message_burst);
      !st) {
    return st;
  }
  if (auto st = whole("USER_DAILY_MODEL_TOKENS", 0, Config::kMaxUserDailyModelTokens,
                      "0 (unlimited) or model tokens per user and UTC day, up to " +
                          std::to_string(Config::kMaxUserDailyModelTokens),
                      c.user_daily_model_tokens);
      !st) {
    return st;
  }
  if (auto v = get("ADMINS_EXEMPT_FROM_LIMITS")) {
    std::string b = AsciiLower(Trim(*v));
    if (b == "true" || b == "1" || b == "yes" || b == "on") {
      c.admins_exempt_from_limits = true;
    } else if (b == "false" || b == "0" || b == "no" || b == "off") {
      c.admins_exempt_from_limits = false;
    } else {
      return Bad("ADMINS_EXEMPT_FROM_LIMITS", "true or false", *v);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::map<std::string, std::string>> ReadEnvironment(const std::string& env_file) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (env_file.empty()) return env;
  std::ifstream in(env_file);
  if (!in) return env;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = Trim(line.substr(7));
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error::Invalid(env_file + ":" + std::to_string(n) + ": expected KEY=VALUE");
    }
    std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    env.emplace(key, value);  // the real environment wins
  }
  return env;
}

Result<Config> Config::FromEnvironment(const std::map<std::string, std::string>& env) {
  Config c;
  auto get = [&](const char* k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end() || it->second.empty()) return std::nullopt;
    c.given.insert(k);
    return it->second;
  };
  if (auto v = get("DEPOSITBOT_DB")) c.db_path = *v;
  if (auto v = get("ADMIN_IDS")) {
    std::string item;
    std::string s = *v + ",";
    for (char ch : s) {
      if (ch != ',') {
        item += ch;
        continue;
      }
      item = Trim(item);
      if (item.empty()) continue;
      int64_t id = 0;
      if (!ParseInt64(item, id) || id <= 0) {
        return Bad("ADMIN_IDS",
                   "comma-separated Telegram user ids, each 1.." +
                       std::to_string(std::numeric_limits<int64_t>::max()),
                   *v);
      }
      c.admin_ids.insert(id);
      item.clear();
    }
  }
  if (auto v = get("ALERT_RETRY_SECONDS")) {
    int64_t s = 0;
    if (!ParseInt64(*v, s) || s < 1 || s > 3600) {
      return Bad("ALERT_RETRY_SECONDS", "a whole number of seconds from 1 to 3600", *v);
    }
    c.alert_retry_seconds = s;
  }
  if (auto v = get("TELEGRAM_BOT_TOKEN")) c.telegram_bot_token = *v;
  if (auto v = get("TELEGRAM_API_BASE")) {
    if (!IsHttpUrl(*v)) return Bad("TELEGRAM_API_BASE", "an http(s) URL", *v);
    c.telegram_api_base = *v;
  }
  if (auto v = get("TELEGRAM_WEBHOOK_SECRET")) c.telegram_webhook_secret = *v;
  if (auto v = get("HTTP_LISTEN")) {
    auto colon = v->rfind(':');
    int64_t port = 0;
    if (colon == std::string::npos || colon == 0 || !ParseInt64(v->substr(colon + 1), port) ||
        port < 0 || port > 65535) {
      return Bad("HTTP_LISTEN", "HOST:PORT with a port 0..65535, such as 127.0.0.1:8080", *v);
    }
    c.http_listen = *v;
  }
  if (auto v = get("LLM_BASE_URL")) {
    if (!IsHttpUrl(*v)) return Bad("LLM_BASE_URL", "an http(s) URL", *v);
    c.llm_base_url = *v;
    if (*v != "https://api.openai.com/v1") c.llm_configured = true;
  }
  if (auto v = get("LLM_API_KEY")) {
    c.llm_api_key = *v;
    c.llm_configured = true;
  }
  if (auto v = get("LLM_MODEL")) c.llm_model = *v;

  if (auto v = get("NAMECHEAP_API_URL")) {
    if (!IsHttpUrl(*v)) return Bad("NAMECHEAP_API_URL", "an http(s) URL", *v);
    c.namecheap_api_url = *v;
  }
  auto nc_user = get("NAMECHEAP_API_USER"), nc_key = get("NAMECHEAP_API_KEY"),
       nc_name = get("NAMECHEAP_USERNAME"), nc_ip = get("NAMECHEAP_CLIENT_IP");
  int nc_set = !!nc_user + !!nc_key + !!nc_name + !!nc_ip;
  if (nc_set > 0 && nc_set < 4) {
    return Error::Invalid(
        "NAMECHEAP_API_USER, NAMECHEAP_API_KEY, NAMECHEAP_USERNAME, NAMECHEAP_CLIENT_IP: "
        "expected all four or none (none uses the demo registrar)");
  }
  if (nc_ip && !IsIpv4(*nc_ip)) {
    return Bad("NAMECHEAP_CLIENT_IP",
               "the IPv4 address whitelisted at Namecheap (it takes no other), such as 203.0.113.7",
               *nc_ip);
  }
  if (nc_set == 4) {
    c.namecheap_configured = true;
    c.namecheap_api_user = *nc_user;
    c.namecheap_api_key = *nc_key;
    c.namecheap_username = *nc_name;
    c.namecheap_client_ip = *nc_ip;
  }
  if (auto st = ReadContact(env, c); !st) return st.error();

  if (auto v = get("CURRENCY")) {
    auto cur = Currency::FromCode(*v);
    if (!cur) return Bad("CURRENCY", "an ISO 4217 code such as USD, KRW, JPY, BHD", *v);
    c.currency = *cur;
  }
  if (auto v = get("USD_EXCHANGE_RATE")) {
    const std::string expected =
        "deposit-currency units per 1 USD, a decimal above 0 and at most " +
        std::to_string(kMaxUsdExchangeRate) + " with at most " +
        std::to_string(kMaxUsdExchangeRateDecimals) + " decimal places, such as 1350.5";
    auto d = Decimal::Parse(*v);
    if (!d || d->units == 0 || d->scale > kMaxUsdExchangeRateDecimals ||
        !AtMost(*d, kMaxUsdExchangeRate)) {
      return Bad("USD_EXCHANGE_RATE", expected, *v);
    }
    c.usd_exchange_rate = *d;
  } else if (c.currency.code != "USD") {
    // Rate 1 would quote a 10.28 USD name at 11 KRW: refuse rather than guess.
    return Error::Invalid("USD_EXCHANGE_RATE: expected " + c.currency.code +
                          " per 1 USD (required when CURRENCY is not USD; registrar prices are "
                          "USD), got nothing");
  }
  if (auto v = get("PRICE_MARKUP_PERCENT")) {
    auto d = Decimal::Parse(*v);
    if (!d || d->scale > kMaxPriceMarkupDecimals || !AtMost(*d, kMaxPriceMarkupPercent)) {
      return Bad("PRICE_MARKUP_PERCENT",
                 "a percentage 0.." + std::to_string(kMaxPriceMarkupPercent) + " with at most " +
                     std::to_string(kMaxPriceMarkupDecimals) + " decimal places, such as 10 or 2.5",
                 *v);
    }
    c.price_markup_percent = *d;
  }
  if (auto v = get("RECONCILE_INTERVAL_SECONDS")) {
    int64_t s = 0;
    if (!ParseInt64(*v, s) ||
        (s != 0 && (s < kMinReconcileIntervalSeconds || s > kMaxReconcileIntervalSeconds))) {
      return Bad("RECONCILE_INTERVAL_SECONDS",
                 "0 (off) or whole seconds " + std::to_string(kMinReconcileIntervalSeconds) + ".." +
                     std::to_string(kMaxReconcileIntervalSeconds) + " (one year)",
                 *v);
    }
    c.reconcile_interval_seconds = s;
  }
  if (auto v = get("INBOX_RETENTION_DAYS")) {
    int64_t days = 0;
    if (!ParseInt64(*v, days) || days < 1 || days > 3650) {
      return Bad("INBOX_RETENTION_DAYS", "a whole number of days from 1 to 3650", *v);
    }
    c.inbox_retention_days = days;
  }
  if (auto v = get("MAX_IN_FLIGHT")) {
    int64_t n = 0;
    if (!ParseInt64(*v, n) || n < 1 || n > kMaxInFlightLimit) {
      return Bad("MAX_IN_FLIGHT",
                 "a whole number of updates from 1 to " + std::to_string(kMaxInFlightLimit), *v);
    }
    c.max_in_flight = n;
  }
  if (auto v = get("DB_POOL_SIZE")) {
    int64_t n = 0;
    if (!ParseInt64(*v, n) || n < 1 || n > 1000) {
      return Bad("DB_POOL_SIZE", "a whole number of connections from 1 to 1000", *v);
    }
    c.db_pool_size = n;
  }
  if (auto v = get("LLM_MAX_TOKENS")) {
    // 16: below it no tool call fits; 32768: above it a chat answer is a runaway anyway.
    int64_t n = 0;
    if (!ParseInt64(*v, n) || n < 16 || n > 32768) {
      return Bad("LLM_MAX_TOKENS", "a whole number of tokens from 16 to 32768", *v);
    }
    c.llm_max_tokens = static_cast<int>(n);
  }
  if (auto v = get("LLM_MAX_CONCURRENT")) {
    int64_t n = 0;
    if (!ParseInt64(*v, n) || n < 1 || n > kMaxLlmConcurrent) {
      return Bad(
          "LLM_MAX_CONCURRENT",
          "a whole number of model calls at once from 1 to " + std::to_string(kMaxLlmConcurrent),
          *v);
    }
    c.llm_max_concurrent = static_cast<int>(n);
  }
  if (auto v = get("LLM_MAX_REQUESTS_PER_MINUTE")) {
    int64_t n = 0;
    if (!ParseInt64(*v, n) || n < 0 || n > kMaxLlmRequestsPerMinute) {
      return Bad("LLM_MAX_REQUESTS_PER_MINUTE",
                 "0 (no limit) or a whole number of model requests a minute up to " +
                     std::to_string(kMaxLlmRequestsPerMinute),
                 *v);
    }
    c.llm_max_requests_per_minute = n;
  }
  if (auto st = ReadFairUse(get, c); !st) return st.error();
  if (auto v = get("BANK_NOTIFY_SECRET")) {
    // A short secret can be guessed offline from one signed notification; each accepted forgery
    // credits a balance.
    if (v->size() < kMinBankNotifySecretLength) {
      return Error::Invalid("BANK_NOTIFY_SECRET: expected at least " +
                            std::to_string(kMinBankNotifySecretLength) +
                            " characters (e.g. openssl rand -hex 32), or nothing to turn the bank "
                            "feed off, got a secret of " +
                            std::to_string(v->size()) + " characters");
    }
    c.bank_notify_secret = *v;
  }
  if (auto v = get("BANK_NOTIFY_TOLERANCE_SECONDS")) {
    int64_t s = 0;
    if (!ParseInt64(*v, s) || s < 1 || s > 3600) {
      return Bad("BANK_NOTIFY_TOLERANCE_SECONDS", "a whole number of seconds from 1 to 3600", *v);
    }
    c.bank_notify_tolerance_seconds = s;
  }
  return c;
}

std::vector<Config::Line> Config::Describe() const {
  auto text = [](const std::string& v) { return v.empty() ? std::string("(not set)") : v; };
  auto secret = [](const std::string& v) {
    return v.empty() ? std::string("(not set)") : std::string("(set, redacted)");
  };
  std::string admins;
  for (int64_t id : admin_ids) admins += (admins.empty() ? "" : ",") + std::to_string(id);
  std::vector<std::pair<std::string, std::string>> vars = {
      {"DEPOSITBOT_DB", RedactedDatabaseTarget(db_path)},
      {"DB_POOL_SIZE", IsPostgresUri(db_path)
                           ? std::to_string(db_pool_size)
                           : std::to_string(db_pool_size) + " (PostgreSQL only)"},
      {"ADMIN_IDS", admins.empty() ? "(none)" : admins},
      {"TELEGRAM_BOT_TOKEN", secret(telegram_bot_token)},
      {"TELEGRAM_API_BASE", telegram_api_base},
      {"TELEGRAM_WEBHOOK_SECRET", secret(telegram_webhook_secret)},
      {"HTTP_LISTEN", http_listen},
      {"LLM_BASE_URL", llm_base_url},
      {"LLM_API_KEY", secret(llm_api_key)},
      {"LLM_MODEL", llm_model},
      {"LLM_MAX_TOKENS", std::to_string(llm_max_tokens)},
      {"LLM_MAX_CONCURRENT", std::to_string(llm_max_concurrent)},
      {"LLM_MAX_REQUESTS_PER_MINUTE", llm_max_requests_per_minute == 0
                                          ? std::string("0 (no limit)")
                                          : std::to_string(llm_max_requests_per_minute)},
      {"NAMECHEAP_API_URL", namecheap_api_url},
      {"NAMECHEAP_API_USER", text(namecheap_api_user)},
      {"NAMECHEAP_API_KEY", secret(namecheap_api_key)},
      {"NAMECHEAP_USERNAME", text(namecheap_username)},
      {"NAMECHEAP_CLIENT_IP", text(namecheap_client_ip)},
  };
  for (const NamecheapContactField& f : NamecheapContactFields()) {
    vars.emplace_back(std::string(kContactPrefix) + std::string(f.key),
                      text(namecheap_contact.*f.member));
  }
  vars.insert(vars.end(),
              {{"CURRENCY", currency.code},
               {"USD_EXCHANGE_RATE", DecimalText(usd_exchange_rate)},
               {"PRICE_MARKUP_PERCENT", DecimalText(price_markup_percent)},
               {"RECONCILE_INTERVAL_SECONDS", std::to_string(reconcile_interval_seconds)},
               {"ALERT_RETRY_SECONDS", std::to_string(alert_retry_seconds)},
               {"INBOX_RETENTION_DAYS", std::to_string(inbox_retention_days)},
               {"MAX_IN_FLIGHT", std::to_string(max_in_flight)},
               {"USER_MESSAGES_PER_MINUTE", std::to_string(user_messages_per_minute)},
               {"USER_MESSAGE_BURST", std::to_string(user_message_burst)},
               {"USER_DAILY_MODEL_TOKENS", std::to_string(user_daily_model_tokens)},
               {"ADMINS_EXEMPT_FROM_LIMITS", admins_exempt_from_limits ? "true" : "false"},
               {"BANK_NOTIFY_SECRET", bank_notify_secret.empty()
                                          ? std::string("(not set: /deposits/notify is off)")
                                          : secret(bank_notify_secret)},
               {"BANK_NOTIFY_TOLERANCE_SECONDS", std::to_string(bank_notify_tolerance_seconds)}});
  std::vector<Line> lines;
  for (auto& [name, value] : vars) lines.push_back({name, value, given.count(name) == 0});
  return lines;
}

std::string Config::ModelSummary() const {
  if (!llm_configured) return "offline rule-based model (no LLM_API_KEY, default LLM_BASE_URL)";
  return llm_model + " at " + llm_base_url;
}

std::string Config::RegistrarSummary() const {
  if (!namecheap_configured) return "demo (no Namecheap credentials; nothing is really registered)";
  return "Namecheap at " + namecheap_api_url;
}

}  // namespace depositbot
