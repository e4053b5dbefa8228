// The configuration read at start-up (Config::FromEnvironment): every value out of its range and
// every combination that could only fail after a user was charged stops start-up with one line
// naming the variable; the saturating deadline; and `depositbot config` / `depositbot chat` as
// real processes.
#include "app/config.h"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/database_target.h"
#include "registrar/namecheap_registrar.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/process_runner.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using depositbot::testing::DepositbotBinary;
using depositbot::testing::MakeTempDir;
using depositbot::testing::RunProcess;

namespace {

using Env = std::map<std::string, std::string>;

using depositbot::testing::Contains;

// Namecheap credentials with a contact domains.create accepts.
Env NamecheapEnv() {
  return {{"NAMECHEAP_API_USER", "apiuser"},
          {"NAMECHEAP_API_KEY", "0123456789abcdef0123456789abcdef"},
          {"NAMECHEAP_USERNAME", "apiuser"},
          {"NAMECHEAP_CLIENT_IP", "203.0.113.7"},
          {"NAMECHEAP_CONTACT_FIRST_NAME", "John"},
          {"NAMECHEAP_CONTACT_LAST_NAME", "Smith"},
          {"NAMECHEAP_CONTACT_ADDRESS1", "8939 S Cross Blvd"},
          {"NAMECHEAP_CONTACT_CITY", "Phoenix"},
          {"NAMECHEAP_CONTACT_STATE_PROVINCE", "AZ"},
          {"NAMECHEAP_CONTACT_POSTAL_CODE", "85284"},
          {"NAMECHEAP_CONTACT_COUNTRY", "US"},
          {"NAMECHEAP_CONTACT_PHONE", "+1.6613102107"},
          {"NAMECHEAP_CONTACT_EMAIL", "john@example.org"}};
}

Env With(Env base, const Env& changes) {
  for (const auto& [k, v] : changes) base[k] = v;
  return base;
}

struct Refusal {
  std::string what;
  Env env;
  std::string variable;  // the message's first words
};

// The refusal's one line names the variable first.
void ExpectRefused(const Refusal& r) {
  CAPTURE(r.what);
  auto c = Config::FromEnvironment(r.env);
  REQUIRE_FALSE(c);
  const std::string& m = c.error().message;
  CAPTURE(m);
  CHECK(c.error().code == ErrorCode::kInvalid);
  CHECK(m.rfind(r.variable + ":", 0) == 0);
  CHECK_FALSE(Contains(m, "\n"));
}

}  // namespace

TEST_CASE("a currency other than USD without USD_EXCHANGE_RATE stops start-up naming the rate") {
  for (const char* code : {"KRW", "EUR", "JPY", "BHD"}) {
    ExpectRefused({code, {{"CURRENCY", code}}, "USD_EXCHANGE_RATE"});
  }
  auto c = Config::FromEnvironment({{"CURRENCY", "KRW"}});
  REQUIRE_FALSE(c);
  CHECK(Contains(c.error().message, "required when CURRENCY is not USD"));

  auto usd = Config::FromEnvironment({});
  REQUIRE(usd);
  CHECK(usd->usd_exchange_rate.units == 1);
  CHECK(usd->usd_exchange_rate.scale == 0);
  auto krw = Config::FromEnvironment({{"CURRENCY", "KRW"}, {"USD_EXCHANGE_RATE", "1350.5"}});
  REQUIRE(krw);
  CHECK(krw->usd_exchange_rate.units == 13505);
  CHECK(krw->usd_exchange_rate.scale == 1);
}

TEST_CASE("every numeric setting out of its range stops start-up naming the variable") {
  const std::vector<Refusal> cases = {
      {"rate zero", {{"USD_EXCHANGE_RATE", "0"}}, "USD_EXCHANGE_RATE"},
      {"rate 0.000000", {{"USD_EXCHANGE_RATE", "0.000000"}}, "USD_EXCHANGE_RATE"},
      {"rate negative", {{"USD_EXCHANGE_RATE", "-5"}}, "USD_EXCHANGE_RATE"},
      {"rate above 1e7", {{"USD_EXCHANGE_RATE", "10000000.000001"}}, "USD_EXCHANGE_RATE"},
      {"rate far above", {{"USD_EXCHANGE_RATE", "1000000000000000"}}, "USD_EXCHANGE_RATE"},
      {"rate 7 decimals", {{"USD_EXCHANGE_RATE", "1350.1234567"}}, "USD_EXCHANGE_RATE"},
      {"rate exponent", {{"USD_EXCHANGE_RATE", "1e3"}}, "USD_EXCHANGE_RATE"},
      {"rate text", {{"USD_EXCHANGE_RATE", "lots"}}, "USD_EXCHANGE_RATE"},
      {"markup above 1000", {{"PRICE_MARKUP_PERCENT", "1000.01"}}, "PRICE_MARKUP_PERCENT"},
      {"markup negative", {{"PRICE_MARKUP_PERCENT", "-1"}}, "PRICE_MARKUP_PERCENT"},
      {"markup 5 decimals", {{"PRICE_MARKUP_PERCENT", "2.12345"}}, "PRICE_MARKUP_PERCENT"},
      {"markup text", {{"PRICE_MARKUP_PERCENT", "ten"}}, "PRICE_MARKUP_PERCENT"},
      {"interval past a year",
       {{"RECONCILE_INTERVAL_SECONDS", "10000000000"}},
       "RECONCILE_INTERVAL_SECONDS"},
      {"interval a year and a second",
       {{"RECONCILE_INTERVAL_SECONDS", "31536001"}},
       "RECONCILE_INTERVAL_SECONDS"},
      {"interval 59 s", {{"RECONCILE_INTERVAL_SECONDS", "59"}}, "RECONCILE_INTERVAL_SECONDS"},
      {"interval 1 s", {{"RECONCILE_INTERVAL_SECONDS", "1"}}, "RECONCILE_INTERVAL_SECONDS"},
      {"interval negative", {{"RECONCILE_INTERVAL_SECONDS", "-1"}}, "RECONCILE_INTERVAL_SECONDS"},
      {"interval past int64",
       {{"RECONCILE_INTERVAL_SECONDS", "99999999999999999999"}},
       "RECONCILE_INTERVAL_SECONDS"},
      {"port 65536", {{"HTTP_LISTEN", "127.0.0.1:65536"}}, "HTTP_LISTEN"},
      {"port negative", {{"HTTP_LISTEN", "127.0.0.1:-1"}}, "HTTP_LISTEN"},
      {"no port", {{"HTTP_LISTEN", "127.0.0.1"}}, "HTTP_LISTEN"},
      {"no host", {{"HTTP_LISTEN", ":8080"}}, "HTTP_LISTEN"},
      {"admin zero", {{"ADMIN_IDS", "1,0"}}, "ADMIN_IDS"},
      {"admin negative", {{"ADMIN_IDS", "-5"}}, "ADMIN_IDS"},
      {"admin past int64", {{"ADMIN_IDS", "9223372036854775808"}}, "ADMIN_IDS"},
      {"admin text", {{"ADMIN_IDS", "alice"}}, "ADMIN_IDS"},
      {"alert retry 0", {{"ALERT_RETRY_SECONDS", "0"}}, "ALERT_RETRY_SECONDS"},
      {"alert retry 3601", {{"ALERT_RETRY_SECONDS", "3601"}}, "ALERT_RETRY_SECONDS"},
      {"alert retry negative", {{"ALERT_RETRY_SECONDS", "-5"}}, "ALERT_RETRY_SECONDS"},
      {"alert retry text", {{"ALERT_RETRY_SECONDS", "soon"}}, "ALERT_RETRY_SECONDS"},
      {"retention 0", {{"INBOX_RETENTION_DAYS", "0"}}, "INBOX_RETENTION_DAYS"},
      {"retention 3651", {{"INBOX_RETENTION_DAYS", "3651"}}, "INBOX_RETENTION_DAYS"},
      {"retention negative", {{"INBOX_RETENTION_DAYS", "-1"}}, "INBOX_RETENTION_DAYS"},
      {"retention text", {{"INBOX_RETENTION_DAYS", "7d"}}, "INBOX_RETENTION_DAYS"},
      {"in-flight 0", {{"MAX_IN_FLIGHT", "0"}}, "MAX_IN_FLIGHT"},
      {"in-flight over the limit", {{"MAX_IN_FLIGHT", "100001"}}, "MAX_IN_FLIGHT"},
      {"in-flight text", {{"MAX_IN_FLIGHT", "many"}}, "MAX_IN_FLIGHT"},
      {"max tokens 15", {{"LLM_MAX_TOKENS", "15"}}, "LLM_MAX_TOKENS"},
      {"max tokens 32769", {{"LLM_MAX_TOKENS", "32769"}}, "LLM_MAX_TOKENS"},
  };
  for (const auto& r : cases) ExpectRefused(r);
}

TEST_CASE("numeric settings at the ends of their ranges are accepted") {
  const std::vector<Env> accepted = {
      {{"USD_EXCHANGE_RATE", "10000000"}},
      {{"USD_EXCHANGE_RATE", "0.000001"}},
      {{"CURRENCY", "BHD"}, {"USD_EXCHANGE_RATE", "0.377"}},
      {{"PRICE_MARKUP_PERCENT", "0"}},
      {{"PRICE_MARKUP_PERCENT", "1000"}},
      {{"PRICE_MARKUP_PERCENT", "2.5"}},
      {{"RECONCILE_INTERVAL_SECONDS", "0"}},
      {{"RECONCILE_INTERVAL_SECONDS", "60"}},
      {{"RECONCILE_INTERVAL_SECONDS", "31536000"}},
      {{"HTTP_LISTEN", "127.0.0.1:0"}},
      {{"HTTP_LISTEN", "0.0.0.0:65535"}},
      {{"ADMIN_IDS", "1, 9223372036854775807"}},
      {{"ALERT_RETRY_SECONDS", "1"}},
      {{"ALERT_RETRY_SECONDS", "3600"}},
      {{"INBOX_RETENTION_DAYS", "1"}},
      {{"INBOX_RETENTION_DAYS", "3650"}},
      {{"MAX_IN_FLIGHT", "1"}},
      {{"MAX_IN_FLIGHT", "100000"}},
      {{"LLM_MAX_TOKENS", "16"}},
      {{"LLM_MAX_TOKENS", "32768"}},
  };
  for (const auto& env : accepted) {
    CAPTURE(env.begin()->first + "=" + env.begin()->second);
    auto c = Config::FromEnvironment(env);
    CHECK(c);
  }
  // The widest accepted settings still convert a million-dollar price into the currency.
  auto widest = Config::FromEnvironment({{"CURRENCY", "BHD"},
                                         {"USD_EXCHANGE_RATE", "9999999.999999"},
                                         {"PRICE_MARKUP_PERCENT", "999.9999"}});
  REQUIRE(widest);
  auto minor = ConvertUsdMicros(1'000'000'000'000, widest->usd_exchange_rate,
                                widest->price_markup_percent, widest->currency);
  CHECK(minor);
}

TEST_CASE("fair-use settings out of their ranges stop start-up naming the variable") {
  const std::vector<Refusal> cases = {
      {"rate negative", {{"USER_MESSAGES_PER_MINUTE", "-1"}}, "USER_MESSAGES_PER_MINUTE"},
      {"rate 100001", {{"USER_MESSAGES_PER_MINUTE", "100001"}}, "USER_MESSAGES_PER_MINUTE"},
      {"rate text", {{"USER_MESSAGES_PER_MINUTE", "many"}}, "USER_MESSAGES_PER_MINUTE"},
      {"burst 0", {{"USER_MESSAGE_BURST", "0"}}, "USER_MESSAGE_BURST"},
      {"burst 100001", {{"USER_MESSAGE_BURST", "100001"}}, "USER_MESSAGE_BURST"},
      {"tokens negative", {{"USER_DAILY_MODEL_TOKENS", "-1"}}, "USER_DAILY_MODEL_TOKENS"},
      {"tokens past 10^12",
       {{"USER_DAILY_MODEL_TOKENS", "1000000000001"}},
       "USER_DAILY_MODEL_TOKENS"},
      {"exempt maybe", {{"ADMINS_EXEMPT_FROM_LIMITS", "maybe"}}, "ADMINS_EXEMPT_FROM_LIMITS"},
  };
  for (const auto& r : cases) ExpectRefused(r);
}

TEST_CASE("fair-use settings at the ends of their ranges are accepted and described") {
  auto defaults = Config::FromEnvironment({});
  REQUIRE(defaults);
  CHECK(defaults->user_messages_per_minute == 20);
  CHECK(defaults->user_message_burst == 10);
  CHECK(defaults->user_daily_model_tokens == 200000);
  CHECK(defaults->admins_exempt_from_limits);
  auto widest = Config::FromEnvironment({{"USER_MESSAGES_PER_MINUTE", "100000"},
                                         {"USER_MESSAGE_BURST", "100000"},
                                         {"USER_DAILY_MODEL_TOKENS", "1000000000000"},
                                         {"ADMINS_EXEMPT_FROM_LIMITS", "false"}});
  REQUIRE(widest);
  CHECK(widest->user_daily_model_tokens == 1'000'000'000'000);
  CHECK_FALSE(widest->admins_exempt_from_limits);
  auto off = Config::FromEnvironment({{"USER_MESSAGES_PER_MINUTE", "0"},
                                      {"USER_MESSAGE_BURST", "1"},
                                      {"USER_DAILY_MODEL_TOKENS", "0"},
                                      {"ADMINS_EXEMPT_FROM_LIMITS", "No"}});
  REQUIRE(off);
  CHECK(off->user_messages_per_minute == 0);
  CHECK_FALSE(off->admins_exempt_from_limits);
  bool described = false;
  for (const auto& line : off->Describe()) {
    if (line.variable != "ADMINS_EXEMPT_FROM_LIMITS") continue;
    described = true;
    CHECK(line.value == "false");
    CHECK_FALSE(line.is_default);
  }
  CHECK(described);
}

TEST_CASE("Namecheap credentials without every required contact value stop start-up naming it") {
  REQUIRE(Config::FromEnvironment(NamecheapEnv()));
  int required = 0;
  for (const NamecheapContactField& f : NamecheapContactFields()) {
    std::string var = "NAMECHEAP_CONTACT_" + std::string(f.key);
    Env missing = NamecheapEnv();
    missing.erase(var);
    Env blank = With(NamecheapEnv(), {{var, "   "}});
    if (f.required) {
      ++required;
      ExpectRefused({"missing", missing, var});
      ExpectRefused({"blank", blank, var});
    } else {
      CAPTURE(var);
      CHECK(Config::FromEnvironment(missing));
    }
  }
  CHECK(required == 9);
}

TEST_CASE("a malformed contact value stops start-up naming it") {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"PHONE", "555-1234"},
      {"PHONE", "+1-6613102107"},
      {"PHONE", "16613102107"},
      {"PHONE", "+1.123"},
      {"PHONE", "+1234.6613102107"},
      {"PHONE", "+1.661 310 2107"},
      {"COUNTRY", "USA"},
      {"COUNTRY", "U1"},
      {"COUNTRY",
       "\xc3\x9c"
       "S"},
      {"EMAIL", "john.example.org"},
      {"EMAIL", "john@example"},
      {"EMAIL", "john@ex@ample.org"},
      {"EMAIL", "john smith@example.org"},
      {"EMAIL", "@example.org"},
      {"EMAIL", "john@.org"},
      {"EMAIL", "john@example."},
      {"EMAIL", "john@example..org"},
      {"FIRST_NAME", "Jo\nhn"},
      {"CITY", "\r\n"},
      {"CITY", std::string(51, 'x')},
      {"ADDRESS2", std::string(256, 'x')},
  };
  for (const auto& [field, value] : bad) {
    std::string var = "NAMECHEAP_CONTACT_" + field;
    ExpectRefused({value, With(NamecheapEnv(), {{var, value}}), var});
    // Malformed is malformed with the demo registrar too.
    ExpectRefused({value, {{var, value}}, var});
  }
}

TEST_CASE("an unknown NAMECHEAP_CONTACT_ variable stops start-up naming it") {
  ExpectRefused({"typo", With(NamecheapEnv(), {{"NAMECHEAP_CONTACT_FRIST_NAME", "John"}}),
                 "NAMECHEAP_CONTACT_FRIST_NAME"});
  ExpectRefused({"typo without credentials",
                 {{"NAMECHEAP_CONTACT_EMAIL_ADDRESS", "j@e.org"}},
                 "NAMECHEAP_CONTACT_EMAIL_ADDRESS"});
}

TEST_CASE("the Namecheap URL must be http(s) and the client IP an IPv4 address") {
  for (const char* url : {"ftp://api.namecheap.com/xml.response", "api.namecheap.com",
                          "https://user@api.namecheap.com/xml.response", "https://"}) {
    ExpectRefused({url, With(NamecheapEnv(), {{"NAMECHEAP_API_URL", url}}), "NAMECHEAP_API_URL"});
  }
  for (const char* ip : {"203.0.113", "203.0.113.256", "example.com", "::1", "203.0.113.7/32"}) {
    ExpectRefused({ip, With(NamecheapEnv(), {{"NAMECHEAP_CLIENT_IP", ip}}), "NAMECHEAP_CLIENT_IP"});
  }
  ExpectRefused({"telegram", {{"TELEGRAM_API_BASE", "telegram.org"}}, "TELEGRAM_API_BASE"});
  ExpectRefused({"llm", {{"LLM_BASE_URL", "ftp://llm"}}, "LLM_BASE_URL"});
  CHECK(Config::FromEnvironment(
      With(NamecheapEnv(), {{"NAMECHEAP_API_URL", "http://127.0.0.1:8099/xml.response"}})));
}

TEST_CASE("a contact accepted at start-up is one the registrar sends, country upper-cased") {
  auto c = Config::FromEnvironment(With(NamecheapEnv(), {{"NAMECHEAP_CONTACT_COUNTRY", "us"},
                                                         {"NAMECHEAP_CONTACT_ORGANIZATION", ""}}));
  REQUIRE(c);
  CHECK(c->namecheap_configured);
  CHECK(c->namecheap_contact.country == "US");
  CHECK(c->namecheap_contact.organization.empty());
  CHECK(NamecheapRegistrar::ValidateContact(c->namecheap_contact));
  // The registrar refuses what start-up refuses: one check for both.
  NamecheapContact bad_phone = c->namecheap_contact;
  bad_phone.phone = "555-1234";
  CHECK_FALSE(NamecheapRegistrar::ValidateContact(bad_phone));
  NamecheapContact bad_email = c->namecheap_contact;
  bad_email.email = "john@example";
  CHECK_FALSE(NamecheapRegistrar::ValidateContact(bad_email));
}

TEST_CASE("Describe redacts every secret and says which values are defaults") {
  Env env = With(NamecheapEnv(), {{"TELEGRAM_BOT_TOKEN", "123:tok-xyzzy"},
                                  {"TELEGRAM_WEBHOOK_SECRET", "hook-xyzzy"},
                                  {"LLM_API_KEY", "sk-xyzzy"},
                                  {"CURRENCY", "KRW"},
                                  {"USD_EXCHANGE_RATE", "1350.5"}});
  auto c = Config::FromEnvironment(env);
  REQUIRE(c);
  std::map<std::string, Config::Line> lines;
  for (const auto& l : c->Describe()) lines[l.variable] = l;
  for (const char* secret :
       {"TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "LLM_API_KEY", "NAMECHEAP_API_KEY"}) {
    CAPTURE(secret);
    REQUIRE(lines.count(secret));
    CHECK(lines[secret].value == "(set, redacted)");
    CHECK_FALSE(lines[secret].is_default);
  }
  for (const auto& [name, line] : lines) {
    CAPTURE(name);
    CHECK_FALSE(Contains(line.value, "xyzzy"));
    CHECK_FALSE(Contains(line.value, "0123456789abcdef"));
  }
  CHECK(lines["USD_EXCHANGE_RATE"].value == "1350.5");
  CHECK_FALSE(lines["USD_EXCHANGE_RATE"].is_default);
  CHECK(lines["RECONCILE_INTERVAL_SECONDS"].value == "3600");
  CHECK(lines["RECONCILE_INTERVAL_SECONDS"].is_default);
  CHECK(lines["NAMECHEAP_CONTACT_EMAIL"].value == "john@example.org");
  CHECK(lines.count("NAMECHEAP_CONTACT_ADDRESS2"));
  CHECK(c->RegistrarSummary().rfind("Namecheap at ", 0) == 0);
  CHECK(Contains(c->ModelSummary(), "gpt-4o-mini"));

  auto defaults = Config::FromEnvironment({});
  REQUIRE(defaults);
  for (const auto& l : defaults->Describe()) {
    CAPTURE(l.variable);
    CHECK(l.is_default);
  }
  CHECK(Contains(defaults->RegistrarSummary(), "demo"));
  CHECK(Contains(defaults->ModelSummary(), "offline"));
}

TEST_CASE("a saturating deadline never wraps into the past") {
  using std::chrono::steady_clock;
  const auto now = steady_clock::now();
  CHECK(SaturatingDeadline(now, 60) == now + std::chrono::seconds(60));
  CHECK(SaturatingDeadline(now, 0) == now);
  CHECK(SaturatingDeadline(now, -5) == now);
  // 10^10 s fits in nanoseconds only barely; 10^11 s and int64's maximum do not: they clamp.
  for (int64_t huge :
       {int64_t{10'000'000'000}, int64_t{100'000'000'000}, std::numeric_limits<int64_t>::max()}) {
    CAPTURE(huge);
    auto d = SaturatingDeadline(now, huge);
    CHECK(d > now);
  }
  CHECK(SaturatingDeadline(now, std::numeric_limits<int64_t>::max()) ==
        steady_clock::time_point::max());
  const auto late = steady_clock::time_point::max() - std::chrono::seconds(10);
  CHECK(SaturatingDeadline(late, 3600) == steady_clock::time_point::max());
  const auto early = steady_clock::time_point::min() + std::chrono::seconds(10);
  CHECK(SaturatingDeadline(early, std::numeric_limits<int64_t>::max()) > early);
}

TEST_CASE("depositbot config prints the effective configuration without a secret value") {
  std::string dir = MakeTempDir();
  Env env = With(NamecheapEnv(), {{"TELEGRAM_BOT_TOKEN", "123456:tok-xyzzy-value"},
                                  {"LLM_API_KEY", "sk-xyzzy-value"},
                                  {"CURRENCY", "KRW"},
                                  {"USD_EXCHANGE_RATE", "1350.5"},
                                  {"DEPOSITBOT_DB", dir + "/never-created.db"}});
  auto r = RunProcess(DepositbotBinary(), {"config"}, env, dir);
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  CHECK_FALSE(Contains(r.out + r.err, "xyzzy"));
  CHECK_FALSE(Contains(r.out + r.err, "0123456789abcdef"));
  CHECK(Contains(r.out, "TELEGRAM_BOT_TOKEN"));
  CHECK(Contains(r.out, "(set, redacted)"));
  CHECK(Contains(r.out, "TELEGRAM_WEBHOOK_SECRET"));
  CHECK(Contains(r.out, "(not set)"));
  CHECK(Contains(r.out, "1350.5"));
  CHECK(Contains(r.out, "RECONCILE_INTERVAL_SECONDS"));
  CHECK(Contains(r.out, "(default)"));
  CHECK(Contains(r.out, "registrar:      Namecheap at https://api.sandbox.namecheap.com"));
  CHECK(Contains(r.out, "model:          gpt-4o-mini at https://api.openai.com/v1"));
  CHECK_FALSE(std::filesystem::exists(dir + "/never-created.db"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("depositbot config and chat exit 2 naming USD_EXCHANGE_RATE on KRW without a rate") {
  std::string dir = MakeTempDir();
  Env env = {{"CURRENCY", "KRW"}, {"DEPOSITBOT_DB", dir + "/never-created.db"}};
  auto config = RunProcess(DepositbotBinary(), {"config"}, env, dir);
  CAPTURE(config.err);
  CHECK(config.exit_code == 2);
  CHECK(config.out.empty());
  CHECK(config.err.rfind("depositbot: USD_EXCHANGE_RATE:", 0) == 0);
  CHECK(config.err.find('\n') == config.err.size() - 1);  // one line

  auto chat = RunProcess(DepositbotBinary(), {"chat"}, env, dir, "/buy coolname.com\ny\n");
  CAPTURE(chat.out);
  CAPTURE(chat.err);
  CHECK(chat.exit_code == 2);
  CHECK(chat.out.empty());
  CHECK(chat.err.rfind("depositbot: USD_EXCHANGE_RATE:", 0) == 0);
  CHECK_FALSE(std::filesystem::exists(dir + "/never-created.db"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a number from the command line outside its range is refused before anything starts") {
  std::string dir = MakeTempDir();
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"serve", "--poll-timeout", "51"},
        std::vector<std::string>{"serve", "--shutdown-seconds", "-1"},
        std::vector<std::string>{"recover", "--min-age", "-1"},
        std::vector<std::string>{"chat", "--as", "0"}}) {
    auto r = RunProcess(DepositbotBinary(), args, {{"DEPOSITBOT_DB", dir + "/never.db"}}, dir);
    CAPTURE(args[1]);
    CAPTURE(r.err);
    CHECK(r.exit_code != 0);
    CHECK(Contains(r.err, args[1]));
    CHECK_FALSE(std::filesystem::exists(dir + "/never.db"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a PostgreSQL URI is shown without its password, wherever the password is written") {
  CHECK(RedactedDatabaseTarget("postgresql://bot:s3cret@db.example:5432/books") ==
        "postgresql://bot:***@db.example:5432/books");
  CHECK(RedactedDatabaseTarget(
            "postgres://bot@/books?host=/run/pg&password=s3cret&sslmode=require") ==
        "postgres://bot@/books?host=/run/pg&password=***&sslmode=require");
  CHECK(RedactedDatabaseTarget("postgresql://bot@db.example/books") ==
        "postgresql://bot@db.example/books");
  CHECK(RedactedDatabaseTarget("./my:file@x.db") == "./my:file@x.db");  // a SQLite path as given
  CHECK(IsPostgresUri("postgresql://x"));
  CHECK_FALSE(IsPostgresUri("./postgresql.db"));
}

// Bank feed (issue 15): POST /deposits/notify's secret and timestamp window.
TEST_CASE("a bank secret under 32 characters or a tolerance outside 1..3600 stops start-up") {
  const std::vector<std::pair<Env, std::string>> refused = {
      {{{"BANK_NOTIFY_SECRET", std::string(31, 's')}}, "BANK_NOTIFY_SECRET"},
      {{{"BANK_NOTIFY_TOLERANCE_SECONDS", "0"}}, "BANK_NOTIFY_TOLERANCE_SECONDS"},
      {{{"BANK_NOTIFY_TOLERANCE_SECONDS", "3601"}}, "BANK_NOTIFY_TOLERANCE_SECONDS"},
      {{{"BANK_NOTIFY_TOLERANCE_SECONDS", "-5"}}, "BANK_NOTIFY_TOLERANCE_SECONDS"},
      {{{"BANK_NOTIFY_TOLERANCE_SECONDS", "5m"}}, "BANK_NOTIFY_TOLERANCE_SECONDS"},
  };
  for (const auto& [env, variable] : refused) {
    CAPTURE(variable);
    auto c = Config::FromEnvironment(env);
    REQUIRE_FALSE(c);
    CHECK(c.error().message.rfind(variable + ":", 0) == 0);
    CHECK_FALSE(Contains(c.error().message, std::string(31, 's')));  // the secret is not echoed
  }
  auto off = Config::FromEnvironment({});
  REQUIRE(off);
  CHECK(off->bank_notify_secret.empty());
  CHECK(off->bank_notify_tolerance_seconds == 300);
  auto on = Config::FromEnvironment({{"BANK_NOTIFY_SECRET", std::string(32, 'k') + "-xyzzy"},
                                     {"BANK_NOTIFY_TOLERANCE_SECONDS", "3600"}});
  REQUIRE(on);
  CHECK(on->bank_notify_tolerance_seconds == 3600);
  std::map<std::string, Config::Line> lines;
  for (const auto& l : on->Describe()) lines[l.variable] = l;
  CHECK(lines["BANK_NOTIFY_SECRET"].value == "(set, redacted)");
  CHECK(lines["BANK_NOTIFY_TOLERANCE_SECONDS"].value == "3600");
  CHECK(Config::FromEnvironment({{"BANK_NOTIFY_TOLERANCE_SECONDS", "1"}}));
}
