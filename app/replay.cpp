#include "app/replay.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <regex>

#include "agent/agent.h"
#include "agent/scripted_chat_model.h"
#include "app/services.h"
#include "common/clock.h"
#include "db/database.h"
#include "db/deposit_repository.h"
#include "db/reconciler.h"
#include "db/user_repository.h"
#include "registrar/fixture_registrar.h"
#include "tools/decision_handler.h"
#include "tools/purchase_service.h"

namespace depositbot {
namespace {

using nlohmann::json;

std::string Quote(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Show(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Expected `expected` to be contained in `actual`: objects by key (extra keys ignored), arrays
// element by element with the same length, everything else equal.
void MatchSubset(const json& expected, const json& actual, const std::string& path,
                 std::vector<std::string>& diffs) {
  if (expected.is_object()) {
    if (!actual.is_object()) {
      diffs.push_back(path + ": expected an object " + Show(expected) + ", got " + Show(actual));
      return;
    }
    for (const auto& [k, v] : expected.items()) {
      auto it = actual.find(k);
      if (it == actual.end()) {
        diffs.push_back(path + "." + k + ": expected " + Show(v) + ", got nothing (no such key)");
        continue;
      }
      MatchSubset(v, *it, path + "." + k, diffs);
    }
    return;
  }
  if (expected.is_array()) {
    if (!actual.is_array() || actual.size() != expected.size()) {
      diffs.push_back(path + ": expected " + Show(expected) + ", got " + Show(actual));
      return;
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      MatchSubset(expected[i], actual[i], path + "[" + std::to_string(i) + "]", diffs);
    }
    return;
  }
  if (expected != actual) {
    diffs.push_back(path + ": expected " + Show(expected) + ", got " + Show(actual));
  }
}

json ParsedArguments(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

std::string DescribeCall(const ExecutedCall& c) {
  std::string out = c.name + " " + c.arguments + " -> ";
  out += c.result.ok ? "ok" : "error " + c.result.error_code();
  return out;
}

// The whole stack of one replay: the services `serve` and `chat` run (Services::Create), with
// a fixed clock, the fixture's registrar and a scripted model put in place of the network.
struct Stack {
  explicit Stack(const Fixture& f)
      : clock(f.settings.start_unix_seconds * 1000), registrar(f.registrar) {}

  FixedClock clock;
  FixtureRegistrar registrar;
  ScriptedChatModel scripted;
  std::unique_ptr<Services> services;
  Database* db = nullptr;
  UserRepository* users = nullptr;
  DepositRepository* deposits = nullptr;
  PurchaseService* purchases = nullptr;
  Agent* agent = nullptr;
  const DecisionHandler* decisions = nullptr;
  std::map<int64_t, ToolContext> contexts;  // by Telegram id
  std::map<int64_t, int64_t> telegram_of;   // users.id -> Telegram id

  Status Build(const Fixture& f) {
    Config config;  // the defaults: no network is configured
    config.db_path = ":memory:";
    config.currency = f.settings.currency;
    config.usd_exchange_rate = f.settings.usd_exchange_rate;
    config.price_markup_percent = f.settings.markup_percent;
    ServiceHooks hooks;
    hooks.clock = &clock;
    hooks.registrar = &registrar;
    hooks.model = &scripted;
    hooks.max_deposit_minor = f.settings.max_deposit_minor;
    hooks.quote_ttl_seconds = f.settings.quote_ttl_seconds;
    hooks.max_model_calls = f.settings.max_model_calls;
    auto created = Services::Create(config, hooks);
    if (!created) return created.error();
    services = std::move(*created);
    db = &services->db();
    users = &services->users();
    deposits = &services->deposits();
    purchases = &services->purchases();
    agent = &services->agent();
    decisions = &services->decisions();
    return Seed(f);
  }

  // The starting state, through the repositories so the books start reconciled.
  Status Seed(const Fixture& f) {
    int64_t admin_id = 0;
    for (const auto& u : f.users) {
      if (u.admin) {
        admin_id = u.telegram_id;
        break;
      }
    }
    for (const auto& fu : f.users) {
      auto u = users->FindOrCreate(fu.telegram_id, fu.name);
      if (!u) return u.error();
      contexts[fu.telegram_id] = ToolContext{u->id, fu.telegram_id, fu.name, fu.admin};
      telegram_of[u->id] = fu.telegram_id;
      for (const auto& row : fu.ledger) {
        std::string who = "user " + std::to_string(fu.telegram_id) + ": ";
        if (row.kind == FixtureLedgerRow::Kind::kAdjustment) {
          auto t = deposits->Adjust(u->id, row.amount, row.reason, admin_id);
          if (!t) return Error{t.code(), who + "adjustment: " + t.error().message};
          continue;
        }
        auto t = deposits->RequestDeposit(u->id, row.amount, row.depositor_name);
        if (!t) return Error{t.code(), who + "deposit: " + t.error().message};
        Result<DepositTransaction> decided = *t;
        if (row.status == "confirmed") decided = deposits->Confirm(t->id, admin_id);
        if (row.status == "rejected") decided = deposits->Reject(t->id, admin_id, row.reason);
        if (row.status == "cancelled") decided = deposits->Cancel(t->id, u->id);
        if (!decided)
          return Error{decided.code(), who + row.status + ": " + decided.error().message};
      }
      if (fu.tampered_balance) {
        auto st = db->Prepare("UPDATE user_deposits SET balance = ? WHERE user_id = ?");
        if (!st) return st.error();
        st->Bind(1, *fu.tampered_balance).Bind(2, u->id);
        if (auto r = st->Run(); !r) return r.error();
      }
    }
    return Status::Ok();
  }

  std::string Who(int64_t telegram_id) const {
    auto it = contexts.find(telegram_id);
    std::string name = it == contexts.end() ? "?" : it->second.display_name;
    return name + " (" + std::to_string(telegram_id) + ")";
  }
};

// What one step did, whatever kind of step it was.
struct Actual {
  TurnResult turn;
  json recovery;
  std::vector<std::string> tools_offered;
  std::vector<std::string> actions_offered;
  bool offered_known = false;
};

class Replayer {
 public:
  Replayer(const Fixture& f, const ReplayOptions& options) : f_(f), options_(options), s_(f) {}

  ReplayResult Run() {
    ReplayResult out;
    out.name = f_.name;
    out.file = f_.file;
    if (auto st = s_.Build(f_); !st) {
      out.report = "  starting state: " + st.error().message + "\n";
      return out;
    }
    for (size_t i = 0; i < f_.turns.size(); ++i) {
      const FixtureTurn& t = f_.turns[i];
      std::vector<std::string> diffs;
      Actual actual = Step(t, diffs);
      Check(t.expect, actual, diffs);
      std::string header = "turn " + std::to_string(i + 1) + " of " +
                           std::to_string(f_.turns.size()) + " (" + t.path + ") — " + Describe(t);
      if (!diffs.empty()) {
        out.failed_turn = static_cast<int>(i + 1);
        out.report += "  " + header + "\n";
        for (const auto& d : diffs) out.report += "    " + d + "\n";
        out.report += Happened(actual);
        return out;
      }
      if (options_.verbose) out.report += "  " + header + "\n" + Happened(actual);
    }
    std::vector<std::string> diffs;
    CheckBooks(f_.end, diffs, "");
    if (!diffs.empty()) {
      out.report += "  after the last turn (expect_end)\n";
      for (const auto& d : diffs) out.report += "    " + d + "\n";
      return out;
    }
    out.passed = true;
    return out;
  }

 private:
  std::string Describe(const FixtureTurn& t) const {
    std::string adv;
    if (t.advance_seconds > 0) adv = " (after " + std::to_string(t.advance_seconds) + " s)";
    switch (t.kind) {
      case FixtureTurn::Kind::kMessage:
        return s_.Who(t.from) + " said: " + Quote(t.text) + adv;
      case FixtureTurn::Kind::kPress: {
        static const char* kNames[] = {"confirm_purchase", "cancel_purchase", "confirm_deposit",
                                       "reject_deposit"};
        std::string target = t.target ? "#" + std::to_string(*t.target) : "the last one";
        return s_.Who(t.from) + " pressed " + kNames[static_cast<int>(t.button)] + " (" + target +
               ")" + adv;
      }
      case FixtureTurn::Kind::kRecovery:
        return "the recovery job ran" + adv;
      case FixtureTurn::Kind::kAdvance:
        return "the clock moved " + std::to_string(t.advance_seconds) + " s";
    }
    return "";
  }

  static std::string Happened(const Actual& a) {
    std::string out = "    actual reply: " + Quote(a.turn.reply) + "\n";
    if (a.turn.calls.empty()) {
      out += "    actual calls: none\n";
    } else {
      out += "    actual calls:\n";
      for (size_t i = 0; i < a.turn.calls.size(); ++i) {
        out += "      [" + std::to_string(i) + "] " + DescribeCall(a.turn.calls[i]) + "\n";
      }
    }
    return out;
  }

  Actual Step(const FixtureTurn& t, std::vector<std::string>& diffs) {
    Actual a;
    if (t.advance_seconds > 0) s_.clock.Advance(t.advance_seconds * 1000);
    size_t gaps_before = s_.registrar.Gaps().size();
    switch (t.kind) {
      case FixtureTurn::Kind::kAdvance:
        break;
      case FixtureTurn::Kind::kMessage:
        a = Say(t, diffs);
        break;
      case FixtureTurn::Kind::kPress:
        a.turn = Press(t, diffs);
        break;
      case FixtureTurn::Kind::kRecovery:
        a = Recover(t);
        break;
    }
    auto gaps = s_.registrar.Gaps();
    for (size_t i = gaps_before; i < gaps.size(); ++i) diffs.push_back("registrar: " + gaps[i]);
    for (const auto& ui : a.turn.ui) {
      if (const auto* quote = std::get_if<PurchaseQuoteUi>(&ui)) last_quote_ = quote->order_id;
      if (const auto* request = std::get_if<DepositRequestedUi>(&ui)) {
        last_deposit_ = request->transaction_id;
      }
    }
    return a;
  }

  Actual Say(const FixtureTurn& t, std::vector<std::string>& diffs) {
    Actual a;
    const ToolContext& ctx = s_.contexts.at(t.from);
    ChatRequest preview = s_.agent->BuildRequest(ctx, ctx.telegram_id, t.text);
    a.offered_known = true;
    for (const auto& tool : preview.tools) {
      const json& fn = tool.value("function", json::object());
      a.tools_offered.push_back(fn.value("name", ""));
      if (fn.value("name", "") == "manage_deposit") {
        const json* values = nullptr;
        if (fn.contains("parameters") && fn["parameters"].contains("properties") &&
            fn["parameters"]["properties"].contains("action")) {
          values = &fn["parameters"]["properties"]["action"]["enum"];
        }
        if (values && values->is_array()) {
          for (const auto& v : *values) a.actions_offered.push_back(v.get<std::string>());
        }
      }
    }
    auto replies = ScriptedChatModel::ParseScript(t.model);
    if (!replies) {  // validated when the fixture was parsed
      diffs.push_back("model: " + replies.error().message);
      return a;
    }
    const size_t given = replies->size();
    for (auto& r : *replies) s_.scripted.Enqueue(std::move(r));
    const size_t before = s_.scripted.RequestCount();
    a.turn = s_.agent->Handle(ctx, ctx.telegram_id, t.text);
    const size_t asked = s_.scripted.RequestCount() - before;
    if (asked > given) {
      diffs.push_back("model: the code asked the model for reply #" + std::to_string(given + 1) +
                      " of this turn (request #" + std::to_string(before + given + 1) +
                      " overall), but the turn's \"model\" has only " + std::to_string(given) +
                      " — scripted model has no reply for that request");
    } else if (asked < given) {
      diffs.push_back("model: the turn's \"model\" has " + std::to_string(given) +
                      " replies but the code asked for only " + std::to_string(asked) +
                      "; reply #" + std::to_string(asked + 1) + " (" + Show(t.model[asked]) +
                      ") was never asked for");
    }
    return a;
  }

  // A button press, through the handler a Telegram callback and the terminal's y/N use.
  TurnResult Press(const FixtureTurn& t, std::vector<std::string>& diffs) {
    TurnResult r;
    const ToolContext& ctx = s_.contexts.at(t.from);
    using B = FixtureTurn::Button;
    bool purchase = t.button == B::kConfirmPurchase || t.button == B::kCancelPurchase;
    int64_t id = t.target.value_or(purchase ? last_quote_ : last_deposit_);
    if (id == 0) {
      diffs.push_back(std::string("press: there is no ") +
                      (purchase ? "purchase quote" : "deposit request") +
                      " from an earlier turn to press the button of; name it by id");
      return r;
    }
    static constexpr Decision::Kind kKinds[] = {
        Decision::Kind::kConfirmPurchase, Decision::Kind::kCancelPurchase,
        Decision::Kind::kConfirmDeposit, Decision::Kind::kRejectDeposit};
    DecisionOutcome outcome =
        s_.decisions->Decide(ctx, Decision{kKinds[static_cast<int>(t.button)], id, t.reason});
    r.reply = std::move(outcome.reply);
    r.calls.push_back(std::move(outcome.call));
    if (outcome.ui) r.ui.push_back(std::move(*outcome.ui));
    return r;
  }

  Actual Recover(const FixtureTurn& t) {
    Actual a;
    ExecutedCall call;
    call.name = "run_recovery";
    call.arguments = json{{"min_age_seconds", t.recovery_min_age_seconds}}.dump();
    auto report = s_.purchases->Recover(t.recovery_min_age_seconds);
    if (report) {
      a.recovery = {{"checked", report->checked},
                    {"registered", report->registered},
                    {"refunded", report->refunded},
                    {"still_unknown", report->still_unknown},
                    {"leased", report->leased}};
      a.turn.reply = "recovery: " + std::to_string(report->checked) + " orders checked, " +
                     std::to_string(report->registered) + " registered, " +
                     std::to_string(report->refunded) + " refunded, " +
                     std::to_string(report->still_unknown) + " still unknown";
      call.result = ToolResult::Success(a.recovery);
    } else {
      a.turn.ok = false;
      a.turn.reply = "recovery failed: " + report.error().message;
      call.result = ToolResult::FromError(report.error());
    }
    a.turn.calls.push_back(std::move(call));
    return a;
  }

  void Check(const TurnExpectation& e, const Actual& a, std::vector<std::string>& diffs) {
    const std::string& reply = a.turn.reply;
    if (e.reply && *e.reply != reply) {
      diffs.push_back("reply: expected " + Quote(*e.reply) + "\n      got      " + Quote(reply));
    }
    for (const auto& s : e.reply_contains) {
      if (reply.find(s) == std::string::npos) {
        diffs.push_back("reply_contains: expected the reply to contain " + Quote(s) +
                        "\n      got " + Quote(reply));
      }
    }
    for (const auto& s : e.reply_not_contains) {
      if (reply.find(s) != std::string::npos) {
        diffs.push_back("reply_not_contains: expected the reply NOT to contain " + Quote(s) +
                        "\n      got " + Quote(reply));
      }
    }
    for (const auto& pattern : e.reply_matches) {
      if (!std::regex_search(reply, std::regex(pattern))) {
        diffs.push_back("reply_matches: expected the reply to match /" + pattern + "/\n      got " +
                        Quote(reply));
      }
    }
    if (e.ok && *e.ok != a.turn.ok) {
      diffs.push_back(std::string("ok: expected ") + (*e.ok ? "true" : "false") +
                      " (false: the user got the agent's apology), got " +
                      (a.turn.ok ? "true" : "false"));
    }
    if (e.refused) {
      bool refused = std::any_of(a.turn.calls.begin(), a.turn.calls.end(),
                                 [](const ExecutedCall& c) { return !c.result.ok; });
      if (refused != *e.refused) {
        diffs.push_back(std::string("refused: expected ") +
                        (*e.refused ? "a call to be refused" : "no call to be refused") + ", got " +
                        (refused ? "a refusal" : "none"));
      }
    }
    if (e.calls) CheckCalls(*e.calls, a.turn.calls, diffs);
    if (e.ui) {
      json actual = json::array();
      for (const auto& ui : a.turn.ui) actual.push_back(UiEventToJson(ui));
      if (e.ui->size() != a.turn.ui.size()) {
        diffs.push_back("ui: expected " + std::to_string(e.ui->size()) + " side effects, got " +
                        std::to_string(a.turn.ui.size()) + ": " + Show(actual));
      } else {
        for (size_t i = 0; i < e.ui->size(); ++i) {
          MatchSubset((*e.ui)[i], actual[i], "ui[" + std::to_string(i) + "]", diffs);
        }
      }
    }
    if (e.model_calls && *e.model_calls != a.turn.model_calls) {
      diffs.push_back("model_calls: expected " + std::to_string(*e.model_calls) + ", got " +
                      std::to_string(a.turn.model_calls));
    }
    if (e.tools_offered && *e.tools_offered != a.tools_offered) {
      diffs.push_back("tools_offered: expected " + Show(json(*e.tools_offered)) + ", got " +
                      Show(json(a.tools_offered)));
    }
    if (e.actions_offered && *e.actions_offered != a.actions_offered) {
      diffs.push_back("actions_offered: expected " + Show(json(*e.actions_offered)) + ", got " +
                      Show(json(a.actions_offered)));
    }
    if (e.recovery) MatchSubset(*e.recovery, a.recovery, "recovery", diffs);
    CheckBooks(e.books, diffs, "");
  }

  void CheckCalls(const std::vector<CallExpectation>& expected,
                  const std::vector<ExecutedCall>& actual, std::vector<std::string>& diffs) {
    if (expected.size() != actual.size()) {
      std::string list;
      for (const auto& c : actual) list += (list.empty() ? "" : ", ") + c.name;
      diffs.push_back("calls: expected " + std::to_string(expected.size()) + " tool call" +
                      (expected.size() == 1 ? "" : "s") + ", got " + std::to_string(actual.size()) +
                      (list.empty() ? "" : " (" + list + ")"));
    }
    for (size_t i = 0; i < expected.size() && i < actual.size(); ++i) {
      const CallExpectation& e = expected[i];
      const ExecutedCall& c = actual[i];
      std::string p = "calls[" + std::to_string(i) + "]";
      if (e.name && *e.name != c.name) {
        diffs.push_back(p + ".name: expected " + Quote(*e.name) + ", got " + Quote(c.name));
      }
      if (e.arguments) {
        if (e.arguments->is_string()) {
          if (e.arguments->get<std::string>() != c.arguments) {
            diffs.push_back(p + ".arguments: expected " + Show(*e.arguments) + ", got " +
                            Quote(c.arguments));
          }
        } else {
          MatchSubset(*e.arguments, ParsedArguments(c.arguments), p + ".arguments", diffs);
        }
      }
      if (e.ok && *e.ok != c.result.ok) {
        diffs.push_back(p + ".ok: expected " + (*e.ok ? "true" : "false") + ", got " +
                        (c.result.ok ? "true" : "false") +
                        (c.result.ok ? ""
                                     : " (error " + c.result.error_code() + ": " +
                                           c.result.payload.value("message", "") + ")"));
      }
      if (e.error && *e.error != c.result.error_code()) {
        diffs.push_back(p + ".error: expected " + Quote(*e.error) + ", got " +
                        (c.result.ok ? std::string("success") : Quote(c.result.error_code())));
      }
      if (e.result) MatchSubset(*e.result, c.result.payload, p + ".result", diffs);
    }
  }

  std::string Money(int64_t minor) const { return FormatAmount(minor, f_.settings.currency); }

  void CheckBooks(const BooksExpectation& b, std::vector<std::string>& diffs,
                  const std::string& prefix) {
    for (const auto& [telegram_id, expected] : b.balances) {
      auto it = s_.contexts.find(telegram_id);
      if (it == s_.contexts.end()) continue;  // validated at parse time
      auto acct = s_.deposits->GetAccount(it->second.user_id);
      if (!acct) {
        diffs.push_back(prefix + "balances." + std::to_string(telegram_id) + ": " +
                        acct.error().message);
      } else if (acct->balance != expected) {
        diffs.push_back(prefix + "balances." + std::to_string(telegram_id) + " (" +
                        it->second.display_name + "): expected " + Money(expected) + ", got " +
                        Money(acct->balance));
      }
    }
    if (!b.ledger.empty()) {
      std::map<std::string, int64_t> counts;
      auto st = s_.db->Prepare("SELECT type, status FROM deposit_transactions");
      if (!st) {
        diffs.push_back(prefix + "ledger: " + st.error().message);
        return;
      }
      while (true) {
        auto row = st->Step();
        if (!row || !*row) break;
        std::string type = st->ColumnText(0), status = st->ColumnText(1);
        for (const std::string& k :
             {type + "/" + status, type + "/*", "*/" + status, std::string("*/*")}) {
          ++counts[k];
        }
      }
      for (const auto& [key, expected] : b.ledger) {
        if (counts[key] != expected) {
          diffs.push_back(prefix + "ledger." + key + ": expected " + std::to_string(expected) +
                          " row" + (expected == 1 ? "" : "s") + ", got " +
                          std::to_string(counts[key]));
        }
      }
    }
    if (b.orders || !b.order_states.empty()) {
      json orders = json::array();
      std::map<std::string, int64_t> states;
      auto st = s_.db->Prepare(
          "SELECT id, user_id, domain, years, state, price FROM domain_orders ORDER BY id");
      if (!st) {
        diffs.push_back(prefix + "orders: " + st.error().message);
        return;
      }
      while (true) {
        auto row = st->Step();
        if (!row || !*row) break;
        int64_t user = st->ColumnInt(1);
        orders.push_back({{"id", st->ColumnInt(0)},
                          {"user", s_.telegram_of.count(user) ? s_.telegram_of[user] : 0},
                          {"domain", st->ColumnText(2)},
                          {"years", st->ColumnInt(3)},
                          {"state", st->ColumnText(4)},
                          {"price", st->ColumnInt(5)}});
        ++states[st->ColumnText(4)];
      }
      if (b.orders) {
        if (b.orders->size() != orders.size()) {
          diffs.push_back(prefix + "orders: expected " + std::to_string(b.orders->size()) +
                          " orders, got " + std::to_string(orders.size()) + ": " + Show(orders));
        } else {
          for (size_t i = 0; i < orders.size(); ++i) {
            MatchSubset((*b.orders)[i], orders[i], prefix + "orders[" + std::to_string(i) + "]",
                        diffs);
          }
        }
      }
      for (const auto& [state, expected] : b.order_states) {
        if (states[state] != expected) {
          diffs.push_back(prefix + "order_states." + state + ": expected " +
                          std::to_string(expected) + ", got " + std::to_string(states[state]));
        }
      }
    }
    if (b.reconciliation) {
      Reconciler reconciler(*s_.db, s_.clock);
      auto report = reconciler.Run();
      if (!report) {
        diffs.push_back(prefix + "reconciliation: " + report.error().message);
      } else {
        json actual = json::array();
        for (const auto& finding : report->findings) {
          actual.push_back({{"kind", std::string(ToString(finding.kind))},
                            {"user", finding.telegram_id},
                            {"balance", finding.balance},
                            {"ledger_sum", finding.ledger_sum}});
        }
        if (b.reconciliation->is_string()) {
          if (!actual.empty()) {
            std::string list;
            for (const auto& finding : report->findings) {
              list += "\n      " + finding.Describe(f_.settings.currency);
            }
            diffs.push_back(prefix + "reconciliation: expected clean, got " +
                            std::to_string(actual.size()) + " finding(s):" + list);
          }
        } else {
          MatchSubset(*b.reconciliation, actual, prefix + "reconciliation", diffs);
        }
      }
    }
    if (b.registrar_creates && *b.registrar_creates != s_.registrar.creates()) {
      diffs.push_back(prefix + "registrar_creates: expected " +
                      std::to_string(*b.registrar_creates) + ", got " +
                      std::to_string(s_.registrar.creates()));
    }
    if (b.registered && *b.registered != s_.registrar.Registered()) {
      diffs.push_back(prefix + "registered: expected " + Show(json(*b.registered)) + ", got " +
                      Show(json(s_.registrar.Registered())));
    }
  }

  const Fixture& f_;
  const ReplayOptions& options_;
  Stack s_;
  int64_t last_quote_ = 0;
  int64_t last_deposit_ = 0;
};

}  // namespace

ReplayResult ReplayFixture(const Fixture& fixture, const ReplayOptions& options) {
  auto started = std::chrono::steady_clock::now();
  ReplayResult r;
  try {
    r = Replayer(fixture, options).Run();
  } catch (const std::exception& e) {
    // A bug in the code under replay, not in the fixture: still one failed line, not a crash.
    r.name = fixture.name;
    r.file = fixture.file;
    r.passed = false;
    r.report = std::string("  the replay threw: ") + e.what() + "\n";
  }
  r.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count();
  return r;
}

ReplayResult ReplayFile(const std::string& path, const ReplayOptions& options) {
  auto fixture = LoadFixture(path);
  if (!fixture) {
    ReplayResult r;
    r.name = std::filesystem::path(path).stem().string();
    r.file = path;
    r.report = "  " + fixture.error().message + "\n";
    return r;
  }
  return ReplayFixture(*fixture, options);
}

Result<std::vector<std::string>> FindFixtureFiles(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().extension() == ".json") {
          found.push_back(it->path().string());
        }
      }
      if (ec) return Error::Unavailable(p + ": " + ec.message());
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      out.push_back(p);
    } else {
      return Error::NotFound(p + ": no such file or folder");
    }
  }
  return out;
}

int RunReplayCommand(const std::vector<std::string>& paths, const ReplayCommandOptions& options,
                     std::ostream& out) {
  auto files = FindFixtureFiles(paths);
  if (!files) {
    out << "replay: " << files.error().message << "\n";
    return 2;
  }
  int passed = 0, failed = 0;
  for (const auto& file : *files) {
    auto fixture = LoadFixture(file);
    std::string name = fixture ? fixture->name : std::filesystem::path(file).stem().string();
    if (!options.filter.empty() && name.find(options.filter) == std::string::npos &&
        file.find(options.filter) == std::string::npos) {
      continue;
    }
    ReplayResult r;
    if (fixture) {
      r = ReplayFixture(*fixture, options.replay);
    } else {
      r.name = name;
      r.file = file;
      r.report = "  " + fixture.error().message + "\n";
    }
    out << (r.passed ? "PASS " : "FAIL ") << r.name << " (" << r.elapsed_ms << " ms)\n";
    if (!r.passed) {
      out << "  " << r.file << "\n";
    }
    if (!r.passed || options.replay.verbose) out << r.report;
    (r.passed ? passed : failed)++;
  }
  if (passed + failed == 0) {
    out << "replay: no fixtures selected\n";
    return 2;
  }
  out << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace depositbot
