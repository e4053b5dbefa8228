#include "app/config.h"

#include <cctype>
#include <charconv>
#include <fstream>
#include <optional>

extern char** environ;

namespace depositbot {
namespace {

Error Bad(const std::string& var, const std::string& expected, const std::string& got) {
  return Error::Invalid(var + ": expected " + expected + ", got \"" + got + "\"");
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
        return Bad("ADMIN_IDS", "comma-separated positive Telegram user ids", *v);
      }
      c.admin_ids.insert(id);
      item.clear();
    }
  }
  if (auto v = get("TELEGRAM_BOT_TOKEN")) c.telegram_bot_token = *v;
  if (auto v = get("TELEGRAM_API_BASE")) c.telegram_api_base = *v;
  if (auto v = get("TELEGRAM_WEBHOOK_SECRET")) c.telegram_webhook_secret = *v;
  if (auto v = get("HTTP_LISTEN")) {
    auto colon = v->rfind(':');
    int64_t port = 0;
    if (colon == std::string::npos || colon == 0 || !ParseInt64(v->substr(colon + 1), port) ||
        port < 0 || port > 65535) {
      return Bad("HTTP_LISTEN", "HOST:PORT such as 127.0.0.1:8080", *v);
    }
    c.http_listen = *v;
  }
  if (auto v = get("LLM_BASE_URL")) {
    if (v->rfind("http://", 0) != 0 && v->rfind("https://", 0) != 0) {
      return Bad("LLM_BASE_URL", "an http(s) URL", *v);
    }
    c.llm_base_url = *v;
    if (*v != "https://api.openai.com/v1") c.llm_configured = true;
  }
  if (auto v = get("LLM_API_KEY")) {
    c.llm_api_key = *v;
    c.llm_configured = true;
  }
  if (auto v = get("LLM_MODEL")) c.llm_model = *v;
  if (auto v = get("NAMECHEAP_API_URL")) c.namecheap_api_url = *v;
  auto nc_user = get("NAMECHEAP_API_USER"), nc_key = get("NAMECHEAP_API_KEY"),
       nc_name = get("NAMECHEAP_USERNAME"), nc_ip = get("NAMECHEAP_CLIENT_IP");
  int nc_set = !!nc_user + !!nc_key + !!nc_name + !!nc_ip;
  if (nc_set > 0 && nc_set < 4) {
    return Error::Invalid(
        "NAMECHEAP_API_USER, NAMECHEAP_API_KEY, NAMECHEAP_USERNAME, NAMECHEAP_CLIENT_IP: "
        "expected all four or none (none uses the demo registrar)");
  }
  if (nc_set == 4) {
    c.namecheap_configured = true;
    c.namecheap_api_user = *nc_user;
    c.namecheap_api_key = *nc_key;
    c.namecheap_username = *nc_name;
    c.namecheap_client_ip = *nc_ip;
  }
  for (const auto& [k, v] : env) {
    const std::string prefix = "NAMECHEAP_CONTACT_";
    if (k.rfind(prefix, 0) == 0 && !v.empty()) c.namecheap_contact[k.substr(prefix.size())] = v;
  }
  if (auto v = get("CURRENCY")) {
    auto cur = Currency::FromCode(*v);
    if (!cur) return Bad("CURRENCY", "an ISO 4217 code such as USD, KRW, JPY, BHD", *v);
    c.currency = *cur;
  }
  if (auto v = get("USD_EXCHANGE_RATE")) {
    auto d = Decimal::Parse(*v);
    if (!d || d->units == 0) return Bad("USD_EXCHANGE_RATE", "a positive decimal such as 1350.5", *v);
    c.usd_exchange_rate = *d;
  }
  if (auto v = get("PRICE_MARKUP_PERCENT")) {
    auto d = Decimal::Parse(*v);
    if (!d) return Bad("PRICE_MARKUP_PERCENT", "a non-negative decimal such as 10 or 2.5", *v);
    c.price_markup_percent = *d;
  }
  if (auto v = get("RECONCILE_INTERVAL_SECONDS")) {
    int64_t s = 0;
    if (!ParseInt64(*v, s) || s < 0) {
      return Bad("RECONCILE_INTERVAL_SECONDS", "a whole number of seconds >= 0", *v);
    }
    c.reconcile_interval_seconds = s;
  }
  if (auto v = get("LLM_MAX_TOKENS")) {
    // 16: below it no tool call fits; 32768: above it a chat answer is a runaway anyway.
    int64_t n = 0;
    if (!ParseInt64(*v, n) || n < 16 || n > 32768) {
      return Bad("LLM_MAX_TOKENS", "a whole number of tokens from 16 to 32768", *v);
    }
    c.llm_max_tokens = static_cast<int>(n);
  }
  return c;
}

}  // namespace depositbot
