#include "app/recorder.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <regex>

#include "agent/agent.h"
#include "common/clock.h"
#include "common/log.h"
#include "db/database.h"
#include "tools/decision_handler.h"

namespace depositbot {

using nlohmann::json;

std::string UsdMicrosToDecimal(int64_t micros) {
  std::string whole = std::to_string(micros / 1'000'000);
  std::string frac = std::to_string(micros % 1'000'000);
  frac = std::string(6 - frac.size(), '0') + frac;
  while (frac.size() > 2 && frac.back() == '0') frac.pop_back();
  return whole + "." + frac;
}

std::string LiteralPatternLooseTimes(const std::string& text) {
  static const std::regex kTime(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
  std::string out = "^";
  auto escape = [&out](const std::string& s) {
    for (char c : s) {
      if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) out += '\\';
      out += c;
    }
  };
  std::sregex_iterator it(text.begin(), text.end(), kTime), end;
  size_t pos = 0;
  for (; it != end; ++it) {
    escape(text.substr(pos, static_cast<size_t>(it->position()) - pos));
    out += R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)";
    pos = static_cast<size_t>(it->position() + it->length());
  }
  escape(text.substr(pos));
  return out + "$";
}

class RecordingChatModel final : public ChatModel {
 public:
  RecordingChatModel(ChatModel& inner, SessionRecorder& rec) : inner_(inner), rec_(rec) {}
  // Recorded per thread (SessionRecorder), so the call blocks its thread; marked as such, so
  // that under serve --record other chats get threads meanwhile.
  Result<ChatResponse> Complete(const ChatRequest& request) override {
    Result<ChatResponse> r = [&] {
      BlockingScope blocking;
      return inner_.Complete(request);
    }();
    if (!r) {
      rec_.OnModelReply({{"error", r.error().message}});
      return r;
    }
    json reply = r->message.ToJson();
    reply.erase("role");
    if (reply.contains("content") && reply["content"].is_null()) reply.erase("content");
    if (!r->finish_reason.empty() && r->finish_reason != "stop" &&
        r->finish_reason != "tool_calls") {
      reply["finish_reason"] = r->finish_reason;
    }
    rec_.OnModelReply(reply);
    return r;
  }
  std::string Name() const override { return inner_.Name(); }

 private:
  ChatModel& inner_;
  SessionRecorder& rec_;
};

class RecordingRegistrar final : public Registrar {
 public:
  RecordingRegistrar(Registrar& inner, SessionRecorder& rec) : inner_(inner), rec_(rec) {}

  RegistrarResult<std::vector<DomainAvailability>> Check(
      const std::vector<std::string>& domains) override {
    auto r = inner_.Check(domains);
    if (r) {
      for (const auto& a : *r) {
        json answer;
        if (a.unknown) {
          answer = {{"unknown", true}, {"note", a.note}};
        } else if (a.available && a.premium) {
          answer = {{"available", true},
                    {"premium_price", UsdMicrosToDecimal(a.premium_price_usd_micros)}};
          if (a.premium_renewal_usd_micros) {
            answer["premium_renewal"] = UsdMicrosToDecimal(a.premium_renewal_usd_micros);
          }
          if (a.icann_fee_usd_micros)
            answer["icann_fee"] = UsdMicrosToDecimal(a.icann_fee_usd_micros);
        } else {
          answer = a.available ? "available" : "taken";
        }
        rec_.OnDomain(a.domain, answer);
      }
    }
    return r;
  }
  RegistrarResult<std::vector<TldOffer>> OfferedTlds() override { return inner_.OfferedTlds(); }
  RegistrarResult<PriceQuote> Price(std::string_view tld, int years) override {
    auto r = inner_.Price(tld, years);
    if (r) rec_.OnPrice(std::string(tld), r->per_year_usd_micros, r->icann_fee_per_year_usd_micros);
    return r;
  }
  RegistrarResult<CreateResult> Create(const CreateRequest& request) override {
    auto r = inner_.Create(request);
    if (r) {
      rec_.OnCreate(request.domain, "success");
    } else if (r.error().OutcomeUnknown()) {
      // Whether it registered is learnt by recovery; its getInfo answers are recorded too.
      rec_.OnCreate(request.domain, "timeout_not_registered");
    } else {
      rec_.OnCreate(request.domain,
                    {{"error_number", r.error().number == 0 ? 2011166 : r.error().number},
                     {"message", r.error().message}});
    }
    return r;
  }
  RegistrarResult<DomainInfo> GetInfo(std::string_view domain) override {
    auto r = inner_.GetInfo(domain);
    std::string answer =
        r ? (r->is_ours ? "ours" : "not_ours")
          : (r.error().kind == RegistrarFailure::Kind::kNotFound ? "not_found" : "unavailable");
    rec_.OnInfo(std::string(domain), answer);
    return r;
  }
  RegistrarResult<std::vector<DomainInfo>> List() override { return inner_.List(); }
  RegistrarResult<AccountBalance> Balance() override { return inner_.Balance(); }
  bool IsDemo() const override { return inner_.IsDemo(); }
  std::string Name() const override { return inner_.Name(); }

 private:
  Registrar& inner_;
  SessionRecorder& rec_;
};

namespace {

// An exact decimal without thousands separators: {13505, 1} -> "1350.5".
std::string DecimalText(const Decimal& d) {
  std::string out = FormatMinor(d.units, d.scale);
  out.erase(std::remove(out.begin(), out.end(), ','), out.end());
  return out;
}

}  // namespace

SessionRecorder::SessionRecorder(std::string path, const Config& config, int64_t start_unix)
    : path_(std::move(path)) {
  json settings = {{"currency", config.currency.code},
                   {"usd_exchange_rate", DecimalText(config.usd_exchange_rate)},
                   {"price_markup_percent", DecimalText(config.price_markup_percent)},
                   {"start", FormatUtc(start_unix)}};
  fixture_ = {{"name", "recorded " + FormatUtc(start_unix)},
              {"description", "Recorded by depositbot --record; replays to the same replies."},
              {"settings", settings},
              {"users", json::array()},
              {"registrar", {{"prices", json::object()}, {"domains", json::object()}}},
              {"turns", json::array()}};
}

std::unique_ptr<ChatModel> SessionRecorder::WrapModel(ChatModel& inner) {
  return std::make_unique<RecordingChatModel>(inner, *this);
}

std::unique_ptr<Registrar> SessionRecorder::WrapRegistrar(Registrar& inner) {
  std::lock_guard<std::mutex> lock(mu_);
  if (inner.IsDemo()) fixture_["registrar"]["demo"] = true;
  return std::make_unique<RecordingRegistrar>(inner, *this);
}

void SessionRecorder::AddUser(int64_t telegram_id, const std::string& name, bool admin,
                              int64_t balance, const std::string& username) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!users_.insert(telegram_id).second) return;
  json u = {{"telegram_id", telegram_id}, {"name", name.empty() ? "user" : name}};
  if (admin) u["admin"] = true;
  if (!username.empty()) u["username"] = username;
  if (balance > 0) u["balance"] = balance;
  fixture_["users"].push_back(u);
}

void SessionRecorder::SeenUser(int64_t telegram_id, const std::string& name, bool is_admin) {
  AddUser(telegram_id, name, is_admin, 0);
}

void SessionRecorder::BeginTurn() {
  std::lock_guard<std::mutex> lock(mu_);
  pending_model_[std::this_thread::get_id()] = json::array();
}

void SessionRecorder::OnModelReply(json reply) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_model_[std::this_thread::get_id()].push_back(std::move(reply));
}

void SessionRecorder::OnDomain(const std::string& domain, json answer) {
  std::lock_guard<std::mutex> lock(mu_);
  json& domains = fixture_["registrar"]["domains"];
  if (!domains.contains(domain)) domains[domain] = answer;  // the first answer is the state
}

void SessionRecorder::OnCreate(const std::string& domain, json outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  json& d = fixture_["registrar"]["domains"][domain];
  if (d.is_null() || d.is_string()) d = json{{"available", d != "taken"}};
  if (!d.contains("create")) d["create"] = json::array();
  d["create"].push_back(std::move(outcome));
}

void SessionRecorder::OnInfo(const std::string& domain, const std::string& answer) {
  std::lock_guard<std::mutex> lock(mu_);
  json& d = fixture_["registrar"]["domains"][domain];
  if (d.is_null() || d.is_string()) d = json{{"available", d != "taken"}};
  if (!d.contains("info")) d["info"] = json::array();
  d["info"].push_back(answer);
}

void SessionRecorder::OnPrice(const std::string& tld, int64_t per_year, int64_t icann) {
  std::lock_guard<std::mutex> lock(mu_);
  json p = {{"register", UsdMicrosToDecimal(per_year)}};
  if (icann) p["icann_fee"] = UsdMicrosToDecimal(icann);
  fixture_["registrar"]["prices"][tld] = p;
}

void SessionRecorder::EndMessageTurn(int64_t from, const std::string& text,
                                     const TurnResult& turn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (turn.limited) {
    // Refused by fair use: it changed nothing and reached no model. A recording replays with
    // the limits off (its clock does not follow the session's), so it leaves the message out.
    pending_model_.erase(std::this_thread::get_id());
    return;
  }
  json step = {{"from", from}, {"say", text}};
  auto it = pending_model_.find(std::this_thread::get_id());
  if (it != pending_model_.end()) {
    if (!it->second.empty()) step["model"] = it->second;
    pending_model_.erase(it);
  }
  step["expect"] = {{"reply_matches", LiteralPatternLooseTimes(turn.reply)}};
  fixture_["turns"].push_back(step);
  if (auto st = WriteLocked(); !st) {
    Log(LogLevel::kError, "record.write_failed", {{"error", st.error().message}});
  }
}

void SessionRecorder::EndDecision(int64_t from, const Decision& decision,
                                  const DecisionOutcome& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string press(ToString(decision.kind));
  json step = {{"from", from}, {"press", press}};
  if (decision.kind == Decision::Kind::kPickBankMatch ||
      decision.kind == Decision::Kind::kIgnoreBankNotice) {
    // Bank feed: the notice, and the deposit picked.
    step["notification"] = decision.id;
    if (decision.kind == Decision::Kind::kPickBankMatch) {
      step["transaction"] = decision.transaction_id;
    }
  } else {
    step[press.find("purchase") != std::string::npos ? "order" : "transaction"] = decision.id;
  }
  if (!decision.reason.empty()) step["reason"] = decision.reason;
  step["expect"] = {{"reply_matches", LiteralPatternLooseTimes(outcome.reply)},
                    {"refused", !outcome.ok}};
  pending_model_.erase(std::this_thread::get_id());
  fixture_["turns"].push_back(step);
  if (auto st = WriteLocked(); !st) {
    Log(LogLevel::kError, "record.write_failed", {{"error", st.error().message}});
  }
}

void SessionRecorder::EndBankNotification(const std::string& body, const std::string& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  json notice = json::parse(body, nullptr, false);
  if (!notice.is_object()) return;  // refused before it reached the feed
  json step = {
      {"bank_notification", notice},
      {"expect",
       {{"calls",
         json::array({{{"name", "bank_notification"}, {"result", {{"outcome", outcome}}}}})}}}};
  fixture_["turns"].push_back(step);
  if (auto st = WriteLocked(); !st) {
    Log(LogLevel::kError, "record.write_failed", {{"error", st.error().message}});
  }
}

Status SessionRecorder::Save(const std::map<int64_t, int64_t>& end_balances) {
  std::lock_guard<std::mutex> lock(mu_);
  json balances = json::object();
  for (const auto& [tg, b] : end_balances) {
    if (users_.count(tg)) balances[std::to_string(tg)] = b;
  }
  fixture_["expect_end"] = {{"balances", balances}, {"reconciliation", "clean"}};
  return WriteLocked();
}

Status SessionRecorder::WriteLocked() {
  if (fixture_["turns"].empty()) return Status::Ok();  // a fixture needs at least one turn
  std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) return Error::Internal("cannot write " + tmp);
    out << fixture_.dump(2) << "\n";
    if (!out) return Error::Internal("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    return Error::Internal("cannot rename " + tmp + " to " + path_);
  }
  return Status::Ok();
}

Result<std::map<int64_t, int64_t>> BalancesByTelegramId(Database& db) {
  auto lock = db.Lock();
  auto q = db.Prepare(
      "SELECT u.telegram_id, COALESCE(d.balance, 0) FROM users u "
      "LEFT JOIN user_deposits d ON d.user_id = u.id ORDER BY u.id LIMIT 1000");
  if (!q) return q.error();
  std::map<int64_t, int64_t> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out[q->ColumnInt(0)] = q->ColumnInt(1);
  }
  return out;
}

Status RecordStartingUsers(SessionRecorder& recorder, Database& db,
                           const std::set<int64_t>& admin_ids,
                           const std::map<int64_t, std::string>& extra) {
  std::map<int64_t, std::string> names, usernames;
  {
    auto lock = db.Lock();
    auto q = db.Prepare(
        "SELECT telegram_id, display_name, COALESCE(username, '') FROM users ORDER BY id "
        "LIMIT 1000");
    if (!q) return q.error();
    while (true) {
      auto row = q->Step();
      if (!row) return row.error();
      if (!*row) break;
      names[q->ColumnInt(0)] = q->ColumnText(1);
      usernames[q->ColumnInt(0)] = q->ColumnText(2);
    }
  }
  auto balances = BalancesByTelegramId(db);
  if (!balances) return balances.error();
  for (const auto& [tg, name] : names) {
    recorder.AddUser(tg, name, admin_ids.count(tg) > 0, (*balances)[tg], usernames[tg]);
  }
  for (const auto& [tg, name] : extra) {
    if (!names.count(tg)) recorder.AddUser(tg, name, admin_ids.count(tg) > 0, 0);
  }
  return Status::Ok();
}

}  // namespace depositbot
