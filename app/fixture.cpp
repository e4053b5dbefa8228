#include "app/fixture.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <iomanip>
#include <regex>
#include <set>
#include <sstream>

#include "agent/scripted_chat_model.h"
#include "app/config.h"
#include "app/strict_json.h"
#include "common/user_amount.h"
#include "registrar/domain_name.h"

namespace depositbot {
namespace {

using nlohmann::json;
using strict_json::Bad;
using strict_json::Fail;
using strict_json::Index;
using strict_json::Object;
using strict_json::StringOrStrings;
using strict_json::TypeName;

// Bounds on a fixture's times, so the fixed clock's milliseconds never overflow.
constexpr int64_t kMaxFixtureSeconds = 31'536'000;           // a year
constexpr int64_t kMaxFixtureUnixSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z

// An amount as a string in the fixture's currency ("30,000", "12.50", "-5.00" when signed) or
// an integer count of minor units.
int64_t Amount(const json& j, const std::string& path, const Currency& c, bool allow_negative,
               bool allow_zero = true) {
  if (j.is_number_integer()) {
    int64_t v = strict_json::Int64(j, path);
    if (v < 0 && !allow_negative) Fail(path, "must not be negative");
    return v;
  }
  if (!j.is_string()) {
    Fail(path, "expected an amount such as \"12.50\" (or minor units as an integer), found " +
                   TypeName(j));
  }
  std::string s = j.get<std::string>();
  bool negative = !s.empty() && s.front() == '-';
  if (negative) {
    if (!allow_negative) Fail(path, "must not be negative");
    s.erase(0, 1);
  }
  auto v = ParseUserAmount(s, c, allow_zero ? AmountRule::kNonNegative : AmountRule::kPositive);
  if (!v) Fail(path, "\"" + j.get<std::string>() + "\": " + v.error().message);
  return negative ? -*v : *v;
}

int64_t UsdMicros(const json& j, const std::string& path) {
  if (!j.is_string()) Fail(path, "expected a USD price as a decimal string such as \"10.28\"");
  auto v = ParseDecimal(j.get<std::string>(), 6);
  if (!v) Fail(path, "\"" + j.get<std::string>() + "\": " + v.error().message);
  return *v;
}

Decimal DecimalAt(const json& j, const std::string& path) {
  if (!j.is_string()) Fail(path, "expected a decimal string such as \"1350.5\"");
  auto d = Decimal::Parse(j.get<std::string>());
  if (!d) Fail(path, d.error().message);
  return *d;
}

// "2026-01-01T00:00:00Z" or Unix seconds.
int64_t Time(const json& j, const std::string& path) {
  if (j.is_number_integer()) return strict_json::Int64(j, path);
  if (!j.is_string()) Fail(path, "expected \"YYYY-MM-DDTHH:MM:SSZ\" or Unix seconds");
  std::tm tm{};
  std::istringstream in(j.get<std::string>());
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail())
    Fail(path, "expected \"YYYY-MM-DDTHH:MM:SSZ\", found \"" + j.get<std::string>() + "\"");
  return static_cast<int64_t>(timegm(&tm));
}

class Parser {
 public:
  Fixture Parse(const json& root, const std::string& default_name) {
    Object o(root, "$",
             {"name", "description", "settings", "users", "registrar", "turns", "expect_end"});
    fixture_.name = o.Str("name").value_or(default_name);
    fixture_.description = o.Str("description").value_or("");
    if (o.Has("settings")) Settings(o.At("settings"), o.PathOf("settings"));
    if (fixture_.settings.max_deposit_minor == 0) {
      int64_t max = 1'000'000;
      for (int i = 0; i < fixture_.settings.currency.exponent; ++i) max *= 10;
      fixture_.settings.max_deposit_minor = max;
    }
    if (!o.Has("users")) Fail("$", "\"users\" is required (who takes part in the conversation)");
    const json& users = o.Array("users");
    for (size_t i = 0; i < users.size(); ++i) User(users[i], Index(o.PathOf("users"), i));
    if (o.Has("registrar")) Registrar(o.At("registrar"), o.PathOf("registrar"));
    if (!o.Has("turns")) Fail("$", "\"turns\" is required");
    const json& turns = o.Array("turns");
    if (turns.empty()) Fail(o.PathOf("turns"), "a fixture needs at least one turn");
    for (size_t i = 0; i < turns.size(); ++i) Turn(turns[i], Index(o.PathOf("turns"), i));
    if (o.Has("expect_end")) {
      Object e(o.At("expect_end"), o.PathOf("expect_end"),
               {"balances", "ledger", "orders", "order_states", "reconciliation",
                "registrar_creates", "registered"});
      Books(e, fixture_.end);
    }
    return std::move(fixture_);
  }

 private:
  const Currency& currency() const { return fixture_.settings.currency; }

  void Settings(const json& j, const std::string& path) {
    Object o(j, path,
             {"currency", "usd_exchange_rate", "price_markup_percent", "start", "max_model_calls",
              "quote_ttl_seconds", "max_deposit", "fair_use", "model"});
    FixtureSettings& s = fixture_.settings;
    if (auto model = o.Str("model")) {
      if (*model != "offline" && *model != "scripted") {
        Fail(o.PathOf("model"), "must be \"offline\" or \"scripted\"");
      }
      s.offline_model = *model == "offline";
    }
    if (auto code = o.Str("currency")) {
      auto c = Currency::FromCode(*code);
      if (!c) Fail(o.PathOf("currency"), c.error().message);
      s.currency = *c;
    }
    if (o.Has("usd_exchange_rate")) {
      s.usd_exchange_rate = DecimalAt(o.At("usd_exchange_rate"), o.PathOf("usd_exchange_rate"));
    }
    if (o.Has("price_markup_percent")) {
      s.markup_percent = DecimalAt(o.At("price_markup_percent"), o.PathOf("price_markup_percent"));
    }
    if (o.Has("start")) {
      s.start_unix_seconds = Time(o.At("start"), o.PathOf("start"));
      // The fixed clock counts milliseconds: past year 9999 the product would overflow.
      if (s.start_unix_seconds < 0 || s.start_unix_seconds > kMaxFixtureUnixSeconds) {
        Fail(o.PathOf("start"), "must be between 1970 and the end of year 9999");
      }
    }
    if (auto n = o.Int("max_model_calls")) {
      if (*n < 1 || *n > 50) Fail(o.PathOf("max_model_calls"), "must be between 1 and 50");
      s.max_model_calls = static_cast<int>(*n);
    }
    if (auto n = o.Int("quote_ttl_seconds")) {
      if (*n < 1 || *n > kMaxFixtureSeconds) {
        Fail(o.PathOf("quote_ttl_seconds"), "must be between 1 and 31536000 (a year)");
      }
      s.quote_ttl_seconds = *n;
    }
    if (o.Has("max_deposit")) {
      s.max_deposit_minor =
          Amount(o.At("max_deposit"), o.PathOf("max_deposit"), s.currency, false, false);
    }
    if (o.Has("fair_use")) FairUseSettings(o.At("fair_use"), o.PathOf("fair_use"));
  }

  // The ranges of USER_MESSAGES_PER_MINUTE, USER_MESSAGE_BURST, USER_DAILY_MODEL_TOKENS.
  void FairUseSettings(const json& j, const std::string& path) {
    Object o(j, path,
             {"messages_per_minute", "message_burst", "daily_model_tokens", "admins_exempt"});
    FixtureSettings& s = fixture_.settings;
    auto whole = [&](const char* key, int64_t min, int64_t max, int64_t& out) {
      auto n = o.Int(key);
      if (!n) return;
      if (*n < min || *n > max) {
        Fail(o.PathOf(key),
             "must be between " + std::to_string(min) + " and " + std::to_string(max));
      }
      out = *n;
    };
    whole("messages_per_minute", 0, Config::kMaxUserMessagesPerMinute, s.user_messages_per_minute);
    whole("message_burst", 1, Config::kMaxUserMessageBurst, s.user_message_burst);
    whole("daily_model_tokens", 0, Config::kMaxUserDailyModelTokens, s.user_daily_model_tokens);
    if (auto b = o.Bool("admins_exempt")) s.admins_exempt_from_limits = *b;
  }

  void User(const json& j, const std::string& path) {
    Object o(j, path,
             {"telegram_id", "name", "admin", "username", "balance", "ledger", "tampered_balance"});
    FixtureUser u;
    if (!o.Has("telegram_id")) Fail(path, "\"telegram_id\" is required");
    u.telegram_id = *o.Int("telegram_id");
    if (u.telegram_id <= 0) Fail(o.PathOf("telegram_id"), "must be positive");
    if (fixture_.FindUser(u.telegram_id)) {
      Fail(o.PathOf("telegram_id"), "user " + std::to_string(u.telegram_id) + " is listed twice");
    }
    u.name = o.NeedStr("name");
    if (u.name.empty()) Fail(o.PathOf("name"), "must not be empty");
    u.admin = o.Bool("admin").value_or(false);
    u.username = o.Str("username").value_or("");
    if (!u.username.empty() && u.username.front() == '@') u.username.erase(0, 1);
    for (char c : u.username) {
      if (!(std::islower(static_cast<unsigned char>(c)) ||
            std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
        Fail(o.PathOf("username"), "a username is lower-case letters, digits and '_'");
      }
    }
    if (o.Has("balance")) {
      int64_t b = Amount(o.At("balance"), o.PathOf("balance"), currency(), false);
      if (b > 0) {
        FixtureLedgerRow row;
        row.amount = b;
        row.depositor_name = u.name;
        u.ledger.push_back(row);
      }
    }
    if (o.Has("ledger")) {
      const json& rows = o.Array("ledger");
      for (size_t i = 0; i < rows.size(); ++i)
        u.ledger.push_back(Row(rows[i], Index(o.PathOf("ledger"), i), u));
    }
    if (o.Has("tampered_balance")) {
      u.tampered_balance =
          Amount(o.At("tampered_balance"), o.PathOf("tampered_balance"), currency(), false);
    }
    fixture_.users.push_back(std::move(u));
  }

  FixtureLedgerRow Row(const json& j, const std::string& path, const FixtureUser& u) {
    Object o(j, path, {"type", "amount", "status", "depositor_name", "reason"});
    FixtureLedgerRow r;
    std::string type = o.Str("type").value_or("deposit");
    if (!o.Has("amount")) Fail(path, "\"amount\" is required");
    if (type == "deposit") {
      r.kind = FixtureLedgerRow::Kind::kDeposit;
      r.amount = Amount(o.At("amount"), o.PathOf("amount"), currency(), false, false);
      r.status = o.Str("status").value_or("confirmed");
      static const std::set<std::string> kStatuses = {"confirmed", "pending", "rejected",
                                                      "cancelled"};
      if (kStatuses.count(r.status) == 0) {
        Fail(o.PathOf("status"), "expected confirmed, pending, rejected or cancelled");
      }
      r.depositor_name = o.Str("depositor_name").value_or(u.name);
      r.reason = o.Str("reason").value_or("");
    } else if (type == "adjustment") {
      r.kind = FixtureLedgerRow::Kind::kAdjustment;
      r.amount = Amount(o.At("amount"), o.PathOf("amount"), currency(), true);
      if (r.amount == 0) Fail(o.PathOf("amount"), "an adjustment must not be zero");
      if (o.Has("status") && *o.Str("status") != "confirmed") {
        Fail(o.PathOf("status"), "adjustments are always confirmed");
      }
      if (o.Has("depositor_name")) Fail(o.PathOf("depositor_name"), "only deposits have one");
      r.reason = o.Str("reason").value_or("fixture adjustment");
    } else {
      Fail(o.PathOf("type"),
           "expected \"deposit\" or \"adjustment\" (purchases and refunds "
           "come from the conversation itself)");
    }
    return r;
  }

  void Registrar(const json& j, const std::string& path) {
    Object o(j, path, {"demo", "prices", "domains", "check_unavailable"});
    FixtureRegistrar::Script& s = fixture_.registrar;
    s.demo = o.Bool("demo").value_or(false);
    s.check_unavailable = o.Str("check_unavailable");
    if (o.Has("prices")) {
      const json& prices = o.At("prices");
      std::string ppath = o.PathOf("prices");
      if (!prices.is_object()) Fail(ppath, "expected an object {\"com\": \"10.28\", ...}");
      for (const auto& [tld, v] : prices.items()) {
        std::string p = ppath + "." + tld;
        if (tld.empty() || tld.front() == '.') Fail(p, "write the TLD without a dot");
        FixtureRegistrar::TldPrice price;
        if (v.is_object()) {
          Object po(v, p, {"register", "icann_fee"});
          if (!po.Has("register")) Fail(p, "\"register\" is required");
          price.per_year_usd_micros = UsdMicros(po.At("register"), po.PathOf("register"));
          if (po.Has("icann_fee")) {
            price.icann_fee_per_year_usd_micros =
                UsdMicros(po.At("icann_fee"), po.PathOf("icann_fee"));
          }
        } else {
          price.per_year_usd_micros = UsdMicros(v, p);
        }
        s.prices[tld] = price;
      }
    }
    if (o.Has("domains")) {
      const json& domains = o.At("domains");
      std::string dpath = o.PathOf("domains");
      if (!domains.is_object())
        Fail(dpath, "expected an object {\"name.com\": \"available\", ...}");
      for (const auto& [name, v] : domains.items()) {
        std::string p = dpath + "." + name;
        auto normalized = NormalizeDomainName(name);
        if (!normalized || *normalized != name) {
          Fail(p, "write the name normalized (lower case, e.g. \"example.com\")" +
                      (normalized ? std::string() : ": " + normalized.error().message));
        }
        s.domains[name] = Domain(v, p);
      }
    }
  }

  FixtureRegistrar::DomainScript Domain(const json& v, const std::string& p) {
    FixtureRegistrar::DomainScript d;
    if (v.is_string()) {
      std::string s = v.get<std::string>();
      if (s == "available") {
        d.available = true;
      } else if (s == "taken") {
        d.available = false;
      } else if (s == "unknown") {
        d.unknown = true;
      } else {
        Fail(p, "expected \"available\", \"taken\", \"unknown\" or an object");
      }
      return d;
    }
    Object o(v, p,
             {"available", "unknown", "note", "premium_price", "premium_renewal", "icann_fee",
              "create", "info"});
    d.unknown = o.Bool("unknown").value_or(false);
    d.available = o.Bool("available").value_or(false);
    if (!o.Has("available") && !d.unknown) Fail(p, "\"available\" (true/false) is required");
    d.note = o.Str("note").value_or("");
    if (o.Has("premium_price")) {
      d.premium_price_usd_micros = UsdMicros(o.At("premium_price"), o.PathOf("premium_price"));
    }
    if (o.Has("premium_renewal")) {
      d.premium_renewal_usd_micros =
          UsdMicros(o.At("premium_renewal"), o.PathOf("premium_renewal"));
    }
    if (o.Has("icann_fee"))
      d.icann_fee_usd_micros = UsdMicros(o.At("icann_fee"), o.PathOf("icann_fee"));
    if (o.Has("create")) {
      const json& c = o.At("create");
      if (c.is_array()) {
        if (c.empty()) Fail(o.PathOf("create"), "an empty list: leave \"create\" out instead");
        for (size_t i = 0; i < c.size(); ++i)
          d.create.push_back(Create(c[i], Index(o.PathOf("create"), i)));
      } else {
        d.create.push_back(Create(c, o.PathOf("create")));
      }
    }
    if (o.Has("info")) {
      using IA = FixtureRegistrar::InfoAnswer;
      static const std::map<std::string, IA> kInfo = {{"auto", IA::kAuto},
                                                      {"ours", IA::kOurs},
                                                      {"not_found", IA::kNotFound},
                                                      {"not_ours", IA::kNotOurs},
                                                      {"unavailable", IA::kUnavailable}};
      for (const std::string& answer : StringOrStrings(o.At("info"), o.PathOf("info"))) {
        auto it = kInfo.find(answer);
        if (it == kInfo.end()) {
          Fail(o.PathOf("info"),
               "\"" + answer + "\": expected auto, ours, not_found, not_ours or unavailable");
        }
        d.info.push_back(it->second);
      }
    }
    return d;
  }

  FixtureRegistrar::CreateAnswer Create(const json& j, const std::string& path) {
    using CA = FixtureRegistrar::CreateAnswer;
    CA a;
    if (j.is_string()) {
      std::string s = j.get<std::string>();
      if (s == "success") return a;
      if (s == "timeout_registered" || s == "timeout_not_registered") {
        a.outcome = CA::Outcome::kTimeout;
        a.registered = s == "timeout_registered";
        return a;
      }
      Fail(path,
           "expected \"success\", \"timeout_registered\", \"timeout_not_registered\" or "
           "{\"error_number\": 3019166, \"message\": \"...\"}");
    }
    Object o(j, path, {"outcome", "error_number", "message", "registered"});
    std::string outcome = o.Str("outcome").value_or(o.Has("error_number") ? "failure" : "success");
    a.message = o.Str("message").value_or("");
    if (outcome == "success") {
      a.outcome = CA::Outcome::kSuccess;
    } else if (outcome == "failure") {
      a.outcome = CA::Outcome::kFailure;
      if (!o.Has("error_number")) Fail(path, "a failure needs the registrar's \"error_number\"");
      a.error_number = *o.Int("error_number");
    } else if (outcome == "timeout") {
      a.outcome = CA::Outcome::kTimeout;
      if (!o.Has("registered")) {
        Fail(path, "a timeout must say whether the name was \"registered\" after all");
      }
      a.registered = *o.Bool("registered");
    } else {
      Fail(o.PathOf("outcome"), "expected success, failure or timeout");
    }
    return a;
  }

  int64_t UserRef(const json& j, const std::string& path) {
    if (j.is_number_integer()) {
      int64_t id = strict_json::Int64(j, path);
      if (!fixture_.FindUser(id))
        Fail(path, "no user with telegram_id " + std::to_string(id) + " in $.users");
      return id;
    }
    if (j.is_string()) return UserKey(j.get<std::string>(), path);
    Fail(path, "expected a Telegram id or a user's name");
  }

  // A map key naming a user: the Telegram id as text, or the user's name.
  int64_t UserKey(const std::string& key, const std::string& path) {
    for (const auto& u : fixture_.users) {
      if (u.name == key || std::to_string(u.telegram_id) == key) return u.telegram_id;
    }
    Fail(path, "\"" + key + "\" is neither a Telegram id nor a name listed in $.users");
  }

  void Turn(const json& j, const std::string& path) {
    Object o(j, path,
             {"from", "say", "press", "order", "transaction", "reason", "run", "min_age_seconds",
              "advance_seconds", "model", "expect", "bank_notification", "notification"});
    FixtureTurn t;
    t.path = path;
    if (auto adv = o.Int("advance_seconds")) {
      if (*adv < 0) Fail(o.PathOf("advance_seconds"), "the clock only moves forward");
      if (*adv > kMaxFixtureSeconds) {
        Fail(o.PathOf("advance_seconds"), "must be at most 31536000 (a year) per turn");
      }
      t.advance_seconds = *adv;
    }
    int actions = o.Has("say") + o.Has("press") + o.Has("run") + o.Has("bank_notification");
    if (actions > 1) {
      Fail(path, "a turn does one of \"say\", \"press\", \"run\" or \"bank_notification\"");
    }
    if (actions == 0 && !o.Has("advance_seconds")) {
      Fail(path,
           "a turn needs \"say\", \"press\", \"run\", \"bank_notification\" or "
           "\"advance_seconds\"");
    }
    if (o.Has("say") || o.Has("press")) {
      if (!o.Has("from")) Fail(path, "\"from\" (who speaks) is required");
      t.from = UserRef(o.At("from"), o.PathOf("from"));
    } else if (o.Has("from")) {
      Fail(o.PathOf("from"), "only \"say\" and \"press\" turns have a speaker");
    }
    auto only_for = [&](const char* key, bool allowed, const char* what) {
      if (o.Has(key) && !allowed) Fail(o.PathOf(key), std::string("only for ") + what);
    };
    if (o.Has("say")) {
      t.kind = FixtureTurn::Kind::kMessage;
      t.text = *o.Str("say");
    } else if (o.Has("press")) {
      t.kind = FixtureTurn::Kind::kPress;
      std::string b = *o.Str("press");
      using B = FixtureTurn::Button;
      static const std::map<std::string, B> kButtons = {
          {"confirm_purchase", B::kConfirmPurchase},
          {"cancel_purchase", B::kCancelPurchase},
          {"confirm_deposit", B::kConfirmDeposit},
          {"reject_deposit", B::kRejectDeposit},
          // Admin tools in chat.
          {"confirm_adjustment", B::kConfirmAdjustment},
          {"cancel_adjustment", B::kCancelAdjustment},
          // Bank feed.
          {"pick_bank_match", B::kPickBankMatch},
          {"ignore_bank_notice", B::kIgnoreBankNotice}};
      auto it = kButtons.find(b);
      if (it == kButtons.end()) {
        Fail(o.PathOf("press"), "\"" + b +
                                    "\": expected confirm_purchase, cancel_purchase, "
                                    "confirm_deposit, reject_deposit, confirm_adjustment, "
                                    "cancel_adjustment, pick_bank_match or ignore_bank_notice");
      }
      t.button = it->second;
      bool purchase = t.button == B::kConfirmPurchase || t.button == B::kCancelPurchase;
      // Bank feed: "notification" ("last" or an id); a pick names its deposit.
      const bool bank = t.button == B::kPickBankMatch || t.button == B::kIgnoreBankNotice;
      only_for("notification", bank, "pick_bank_match / ignore_bank_notice");
      if (o.Has("notification")) {
        const json& ref = o.At("notification");
        if (ref.is_number_integer() && ref.get<int64_t>() > 0) {
          t.notification = ref.get<int64_t>();
        } else if (!(ref.is_string() && ref.get<std::string>() == "last")) {
          Fail(o.PathOf("notification"), "expected \"last\" or a positive id");
        }
      }
      if (t.button == B::kPickBankMatch && !o.Has("transaction")) {
        Fail(path, "pick_bank_match needs \"transaction\": the deposit picked");
      }
      only_for("order", purchase, "confirm_purchase / cancel_purchase");
      only_for("transaction", !purchase && t.button != B::kIgnoreBankNotice,
               "confirm_deposit / reject_deposit / confirm_adjustment / cancel_adjustment / "
               "pick_bank_match");
      only_for("reason", t.button == B::kRejectDeposit, "reject_deposit");
      const char* key = purchase ? "order" : "transaction";
      if (o.Has(key)) {
        const json& ref = o.At(key);
        if (ref.is_string() && ref.get<std::string>() == "last") {
          t.target.reset();
        } else if (ref.is_number_integer() && ref.get<int64_t>() > 0) {
          t.target = ref.get<int64_t>();
        } else {
          Fail(o.PathOf(key), "expected \"last\" or a positive id");
        }
      }
      t.reason = o.Str("reason").value_or("");
    } else if (o.Has("bank_notification")) {
      // Bank feed: the body is checked when the turn runs (ParseBankNotice), as the endpoint
      // checks it, so a fixture can pin a refusal.
      t.kind = FixtureTurn::Kind::kBankNotification;
      if (!o.At("bank_notification").is_object()) {
        Fail(o.PathOf("bank_notification"), "expected an object, the notice's JSON body");
      }
      t.bank_notification = o.At("bank_notification");
    } else if (o.Has("run")) {
      if (*o.Str("run") != "recovery") Fail(o.PathOf("run"), "the only job is \"recovery\"");
      t.kind = FixtureTurn::Kind::kRecovery;
      if (auto age = o.Int("min_age_seconds")) {
        if (*age < 0 || *age > kMaxFixtureSeconds) {
          Fail(o.PathOf("min_age_seconds"), "must be between 0 and 31536000 (a year)");
        }
        t.recovery_min_age_seconds = *age;
      }
    } else {
      t.kind = FixtureTurn::Kind::kAdvance;
    }
    if (!o.Has("press")) {
      only_for("order", false, "press turns");
      only_for("transaction", false, "press turns");
      only_for("reason", false, "reject_deposit presses");
      only_for("notification", false, "press turns");
    }
    only_for("min_age_seconds", t.kind == FixtureTurn::Kind::kRecovery, "\"run\": \"recovery\"");
    if (o.Has("model")) {
      if (fixture_.settings.offline_model) {
        Fail(o.PathOf("model"),
             "the fixture runs the offline model (settings.model), which "
             "takes no scripted replies");
      }
      if (t.kind != FixtureTurn::Kind::kMessage) {
        Fail(o.PathOf("model"), "only a \"say\" turn reaches the model");
      }
      const json& replies = o.Array("model");
      for (size_t i = 0; i < replies.size(); ++i) {
        auto parsed = ScriptedChatModel::ParseScript(json::array({replies[i]}));
        if (!parsed) {
          std::string m = parsed.error().message;
          const std::string prefix = "script reply #1";
          if (m.rfind(prefix, 0) == 0) m = m.substr(prefix.size());
          if (!m.empty() && m.front() == ':') m.erase(0, 1);
          while (!m.empty() && m.front() == ' ') m.erase(0, 1);
          Fail(Index(o.PathOf("model"), i), m);
        }
      }
      t.model = replies;
    }
    if (o.Has("expect")) t.expect = Expect(o.At("expect"), o.PathOf("expect"), t.kind);
    fixture_.turns.push_back(std::move(t));
  }

  TurnExpectation Expect(const json& j, const std::string& path, FixtureTurn::Kind kind) {
    Object o(j, path,
             {"reply",
              "reply_contains",
              "reply_not_contains",
              "reply_matches",
              "ok",
              "refused",
              "calls",
              "ui",
              "model_calls",
              "tools_offered",
              "actions_offered",
              "recovery",
              "balances",
              "ledger",
              "orders",
              "order_states",
              "reconciliation",
              "registrar_creates",
              "registered",
              "document_contains",
              "document_not_contains"});
    TurnExpectation e;
    e.reply = o.Str("reply");
    if (o.Has("reply_contains")) {
      e.reply_contains = StringOrStrings(o.At("reply_contains"), o.PathOf("reply_contains"));
    }
    if (o.Has("reply_not_contains")) {
      e.reply_not_contains =
          StringOrStrings(o.At("reply_not_contains"), o.PathOf("reply_not_contains"));
    }
    if (o.Has("reply_matches")) {
      e.reply_matches = StringOrStrings(o.At("reply_matches"), o.PathOf("reply_matches"));
      for (size_t i = 0; i < e.reply_matches.size(); ++i) {
        try {
          std::regex re(e.reply_matches[i]);
        } catch (const std::regex_error& err) {
          Fail(o.PathOf("reply_matches"),
               "\"" + e.reply_matches[i] + "\" is not a valid regular expression: " + err.what());
        }
      }
    }
    e.ok = o.Bool("ok");
    e.refused = o.Bool("refused");
    if (o.Has("calls")) {
      const json& calls = o.Array("calls");
      std::vector<CallExpectation> list;
      for (size_t i = 0; i < calls.size(); ++i) {
        std::string p = Index(o.PathOf("calls"), i);
        Object c(calls[i], p, {"name", "arguments", "ok", "error", "result"});
        CallExpectation ce;
        ce.name = c.Str("name");
        if (c.Has("arguments")) {
          const json& a = c.At("arguments");
          if (!a.is_object() && !a.is_string()) {
            Fail(c.PathOf("arguments"), "expected an object (matched as a subset) or the raw text");
          }
          ce.arguments = a;
        }
        ce.ok = c.Bool("ok");
        ce.error = c.Str("error");
        if (ce.error && ce.ok == true) Fail(p, "a call cannot be ok and fail with an error");
        if (c.Has("result")) {
          if (!c.At("result").is_object()) Fail(c.PathOf("result"), "expected an object");
          ce.result = c.At("result");
        }
        list.push_back(std::move(ce));
      }
      e.calls = std::move(list);
    }
    if (o.Has("ui")) {
      const json& ui = o.Array("ui");
      std::vector<json> list;
      for (size_t i = 0; i < ui.size(); ++i) {
        if (!ui[i].is_object()) Fail(Index(o.PathOf("ui"), i), "expected an object");
        list.push_back(ui[i]);
      }
      e.ui = std::move(list);
    }
    if (o.Has("document_contains")) {
      e.document_contains =
          StringOrStrings(o.At("document_contains"), o.PathOf("document_contains"));
    }
    if (o.Has("document_not_contains")) {
      e.document_not_contains =
          StringOrStrings(o.At("document_not_contains"), o.PathOf("document_not_contains"));
    }
    if (auto n = o.Int("model_calls")) e.model_calls = static_cast<int>(*n);
    if (o.Has("tools_offered")) {
      e.tools_offered = StringOrStrings(o.At("tools_offered"), o.PathOf("tools_offered"));
    }
    if (o.Has("actions_offered")) {
      e.actions_offered = StringOrStrings(o.At("actions_offered"), o.PathOf("actions_offered"));
    }
    // A press may pin model_calls (to 0: a button never asks the model); what was offered to
    // the model exists only for a message.
    if (e.model_calls && kind != FixtureTurn::Kind::kMessage && kind != FixtureTurn::Kind::kPress) {
      Fail(path, "model_calls is for \"say\" and \"press\" turns");
    }
    if ((e.tools_offered || e.actions_offered) && kind != FixtureTurn::Kind::kMessage) {
      Fail(path, "tools_offered / actions_offered are for \"say\" turns");
    }
    if (o.Has("recovery")) {
      if (kind != FixtureTurn::Kind::kRecovery)
        Fail(o.PathOf("recovery"), "only for a recovery run");
      Object r(o.At("recovery"), o.PathOf("recovery"),
               {"checked", "registered", "refunded", "still_unknown"});
      for (const char* k : {"checked", "registered", "refunded", "still_unknown"}) (void)r.Int(k);
      e.recovery = o.At("recovery");
    }
    Books(o, e.books);
    return e;
  }

  void Books(const Object& o, BooksExpectation& b) {
    if (o.Has("balances")) {
      const json& m = o.At("balances");
      std::string p = o.PathOf("balances");
      if (!m.is_object()) Fail(p, "expected an object {\"1001\": \"12.50\", ...}");
      for (const auto& [k, v] : m.items()) {
        b.balances[UserKey(k, p)] = Amount(v, p + "." + k, currency(), false);
      }
    }
    if (o.Has("ledger")) {
      const json& m = o.At("ledger");
      std::string p = o.PathOf("ledger");
      if (!m.is_object()) Fail(p, "expected an object {\"deposit/confirmed\": 1, ...}");
      static const std::set<std::string> kTypes = {"deposit", "purchase", "refund", "adjustment",
                                                   "*"};
      static const std::set<std::string> kStatuses = {"pending", "confirmed", "rejected",
                                                      "cancelled", "*"};
      for (const auto& [k, v] : m.items()) {
        auto slash = k.find('/');
        if (slash == std::string::npos || kTypes.count(k.substr(0, slash)) == 0 ||
            kStatuses.count(k.substr(slash + 1)) == 0) {
          Fail(p + "." + k,
               "expected \"type/status\" such as \"deposit/confirmed\" (\"*\" for any)");
        }
        if (!v.is_number_integer() || v.get<int64_t>() < 0) {
          Fail(p + "." + k, "expected a count of rows");
        }
        b.ledger[k] = v.get<int64_t>();
      }
    }
    if (o.Has("orders")) {
      const json& list = o.Array("orders");
      std::vector<json> out;
      for (size_t i = 0; i < list.size(); ++i) {
        std::string p = Index(o.PathOf("orders"), i);
        Object oo(list[i], p, {"id", "user", "domain", "years", "state", "price"});
        json e = json::object();
        if (auto id = oo.Int("id")) e["id"] = *id;
        if (oo.Has("user")) e["user"] = UserRef(oo.At("user"), oo.PathOf("user"));
        if (auto d = oo.Str("domain")) e["domain"] = *d;
        if (auto y = oo.Int("years")) e["years"] = *y;
        if (auto s = oo.Str("state")) e["state"] = *s;
        if (oo.Has("price"))
          e["price"] = Amount(oo.At("price"), oo.PathOf("price"), currency(), false);
        out.push_back(e);
      }
      b.orders = std::move(out);
    }
    if (o.Has("order_states")) {
      const json& m = o.At("order_states");
      std::string p = o.PathOf("order_states");
      if (!m.is_object()) Fail(p, "expected an object {\"registered\": 1, ...}");
      static const std::set<std::string> kStates = {"quoted",  "charged", "registered", "refunded",
                                                    "unknown", "expired", "cancelled"};
      for (const auto& [k, v] : m.items()) {
        if (kStates.count(k) == 0) Fail(p + "." + k, "not an order state");
        if (!v.is_number_integer() || v.get<int64_t>() < 0) Fail(p + "." + k, "expected a count");
        b.order_states[k] = v.get<int64_t>();
      }
    }
    if (o.Has("reconciliation")) {
      const json& r = o.At("reconciliation");
      std::string p = o.PathOf("reconciliation");
      if (r.is_string()) {
        if (r.get<std::string>() != "clean") Fail(p, "expected \"clean\" or a list of findings");
        b.reconciliation = json("clean");
      } else if (r.is_array()) {
        json list = json::array();
        for (size_t i = 0; i < r.size(); ++i) {
          std::string fp = Index(p, i);
          Object fo(r[i], fp, {"kind", "user", "balance", "ledger_sum"});
          json e = {{"kind", fo.NeedStr("kind")}};
          static const std::set<std::string> kKinds = {"balance_mismatch", "negative_balance",
                                                       "orphan_transaction", "orphan_account",
                                                       "missing_account"};
          if (kKinds.count(e["kind"].get<std::string>()) == 0) {
            Fail(fo.PathOf("kind"), "not a reconciliation finding kind");
          }
          if (fo.Has("user")) e["user"] = UserRef(fo.At("user"), fo.PathOf("user"));
          if (fo.Has("balance")) {
            e["balance"] = Amount(fo.At("balance"), fo.PathOf("balance"), currency(), true);
          }
          if (fo.Has("ledger_sum")) {
            e["ledger_sum"] =
                Amount(fo.At("ledger_sum"), fo.PathOf("ledger_sum"), currency(), true);
          }
          list.push_back(e);
        }
        b.reconciliation = list;
      } else {
        Fail(p, "expected \"clean\" or a list of findings");
      }
    }
    if (auto n = o.Int("registrar_creates")) b.registrar_creates = static_cast<int>(*n);
    if (o.Has("registered")) {
      auto names = StringOrStrings(o.At("registered"), o.PathOf("registered"));
      std::sort(names.begin(), names.end());
      b.registered = names;
    }
  }

  Fixture fixture_;
};

}  // namespace

bool BooksExpectation::empty() const {
  return balances.empty() && ledger.empty() && !orders && order_states.empty() && !reconciliation &&
         !registrar_creates && !registered;
}

const FixtureUser* Fixture::FindUser(int64_t telegram_id) const {
  for (const auto& u : users) {
    if (u.telegram_id == telegram_id) return &u;
  }
  return nullptr;
}

Result<Fixture> ParseFixture(const json& j, const std::string& default_name) {
  try {
    return Parser().Parse(j, default_name);
  } catch (const Bad& bad) {
    return Error::Invalid(bad.message);
  }
}

Result<Fixture> LoadFixture(const std::string& path) {
  auto j = strict_json::ReadFile(path);
  if (!j) return j.error();
  std::string stem = path;
  if (auto slash = stem.find_last_of('/'); slash != std::string::npos) stem.erase(0, slash + 1);
  if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".json") stem.resize(stem.size() - 5);
  auto f = ParseFixture(*j, stem);
  if (!f) return Error::Invalid(path + ": " + f.error().message);
  f->file = path;
  return f;
}

}  // namespace depositbot
