#include "app/replay_checks.h"

#include <algorithm>
#include <map>
#include <regex>

#include "app/replay_stack.h"
#include "db/database.h"
#include "db/deposit_repository.h"
#include "db/reconciler.h"

namespace depositbot {
namespace {

using nlohmann::json;

// Expected `expected` to be contained in `actual`: objects by key (extra keys ignored), arrays
// element by element with the same length, everything else equal.
void MatchSubset(const json& expected, const json& actual, const std::string& path,
                 std::vector<std::string>& diffs) {
  if (expected.is_object()) {
    if (!actual.is_object()) {
      diffs.push_back(path + ": expected an object " + ShowForReport(expected) + ", got " +
                      ShowForReport(actual));
      return;
    }
    for (const auto& [k, v] : expected.items()) {
      auto it = actual.find(k);
      if (it == actual.end()) {
        diffs.push_back(path + "." + k + ": expected " + ShowForReport(v) +
                        ", got nothing (no such key)");
        continue;
      }
      MatchSubset(v, *it, path + "." + k, diffs);
    }
    return;
  }
  if (expected.is_array()) {
    if (!actual.is_array() || actual.size() != expected.size()) {
      diffs.push_back(path + ": expected " + ShowForReport(expected) + ", got " +
                      ShowForReport(actual));
      return;
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      MatchSubset(expected[i], actual[i], path + "[" + std::to_string(i) + "]", diffs);
    }
    return;
  }
  if (expected != actual) {
    diffs.push_back(path + ": expected " + ShowForReport(expected) + ", got " +
                    ShowForReport(actual));
  }
}

json ParsedArguments(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

}  // namespace

void ExpectationChecker::CheckTurn(const TurnExpectation& e, const StepResult& a,
                                   std::vector<std::string>& diffs) {
  const std::string& reply = a.turn.reply;
  if (e.reply && *e.reply != reply) {
    diffs.push_back("reply: expected " + QuoteForReport(*e.reply) + "\n      got      " +
                    QuoteForReport(reply));
  }
  for (const auto& s : e.reply_contains) {
    if (reply.find(s) == std::string::npos) {
      diffs.push_back("reply_contains: expected the reply to contain " + QuoteForReport(s) +
                      "\n      got " + QuoteForReport(reply));
    }
  }
  for (const auto& s : e.reply_not_contains) {
    if (reply.find(s) != std::string::npos) {
      diffs.push_back("reply_not_contains: expected the reply NOT to contain " + QuoteForReport(s) +
                      "\n      got " + QuoteForReport(reply));
    }
  }
  for (const auto& pattern : e.reply_matches) {
    if (!std::regex_search(reply, std::regex(pattern))) {
      diffs.push_back("reply_matches: expected the reply to match /" + pattern + "/\n      got " +
                      QuoteForReport(reply));
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
                      std::to_string(a.turn.ui.size()) + ": " + ShowForReport(actual));
    } else {
      for (size_t i = 0; i < e.ui->size(); ++i) {
        MatchSubset((*e.ui)[i], actual[i], "ui[" + std::to_string(i) + "]", diffs);
      }
    }
  }
  if (!e.document_contains.empty() || !e.document_not_contains.empty()) {
    const DocumentUi* doc = nullptr;
    for (const auto& ui : a.turn.ui) {
      if (const auto* d = std::get_if<DocumentUi>(&ui)) doc = d;
    }
    if (!doc) {
      diffs.push_back("document_contains: expected the turn to send a document, it sent none");
    } else {
      for (const auto& s : e.document_contains) {
        if (doc->content.find(s) == std::string::npos) {
          diffs.push_back("document_contains: expected " + doc->filename + " to contain " +
                          QuoteForReport(s) + "\n      got " + QuoteForReport(doc->content));
        }
      }
      for (const auto& s : e.document_not_contains) {
        if (doc->content.find(s) != std::string::npos) {
          diffs.push_back("document_not_contains: expected " + doc->filename + " NOT to contain " +
                          QuoteForReport(s) + "\n      got " + QuoteForReport(doc->content));
        }
      }
    }
  }
  if (e.model_calls && *e.model_calls != a.turn.model_calls) {
    diffs.push_back("model_calls: expected " + std::to_string(*e.model_calls) + ", got " +
                    std::to_string(a.turn.model_calls));
  }
  if (e.tools_offered && *e.tools_offered != a.tools_offered) {
    diffs.push_back("tools_offered: expected " + ShowForReport(json(*e.tools_offered)) + ", got " +
                    ShowForReport(json(a.tools_offered)));
  }
  if (e.actions_offered && *e.actions_offered != a.actions_offered) {
    diffs.push_back("actions_offered: expected " + ShowForReport(json(*e.actions_offered)) +
                    ", got " + ShowForReport(json(a.actions_offered)));
  }
  if (e.recovery) MatchSubset(*e.recovery, a.recovery, "recovery", diffs);
  CheckBooks(e.books, diffs, "");
}

void ExpectationChecker::CheckCalls(const std::vector<CallExpectation>& expected,
                                    const std::vector<ExecutedCall>& actual,
                                    std::vector<std::string>& diffs) {
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
      diffs.push_back(p + ".name: expected " + QuoteForReport(*e.name) + ", got " +
                      QuoteForReport(c.name));
    }
    if (e.arguments) {
      if (e.arguments->is_string()) {
        if (e.arguments->get<std::string>() != c.arguments) {
          diffs.push_back(p + ".arguments: expected " + ShowForReport(*e.arguments) + ", got " +
                          QuoteForReport(c.arguments));
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
      diffs.push_back(
          p + ".error: expected " + QuoteForReport(*e.error) + ", got " +
          (c.result.ok ? std::string("success") : QuoteForReport(c.result.error_code())));
    }
    if (e.result) MatchSubset(*e.result, c.result.payload, p + ".result", diffs);
  }
}

std::string ExpectationChecker::Money(int64_t minor) const {
  return FormatAmount(minor, settings_.currency);
}

void ExpectationChecker::CheckBooks(const BooksExpectation& b, std::vector<std::string>& diffs,
                                    const std::string& prefix) {
  for (const auto& [telegram_id, expected] : b.balances) {
    auto it = stack_.contexts.find(telegram_id);
    if (it == stack_.contexts.end()) continue;  // validated at parse time
    auto acct = stack_.deposits->GetAccount(it->second.user_id);
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
    auto st = stack_.db->Prepare("SELECT type, status FROM deposit_transactions");
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
    auto st = stack_.db->Prepare(
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
                        {"user", stack_.telegram_of.count(user) ? stack_.telegram_of[user] : 0},
                        {"domain", st->ColumnText(2)},
                        {"years", st->ColumnInt(3)},
                        {"state", st->ColumnText(4)},
                        {"price", st->ColumnInt(5)}});
      ++states[st->ColumnText(4)];
    }
    if (b.orders) {
      if (b.orders->size() != orders.size()) {
        diffs.push_back(prefix + "orders: expected " + std::to_string(b.orders->size()) +
                        " orders, got " + std::to_string(orders.size()) + ": " +
                        ShowForReport(orders));
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
    Reconciler reconciler(*stack_.db, stack_.clock);
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
            list += "\n      " + finding.Describe(settings_.currency);
          }
          diffs.push_back(prefix + "reconciliation: expected clean, got " +
                          std::to_string(actual.size()) + " finding(s):" + list);
        }
      } else {
        MatchSubset(*b.reconciliation, actual, prefix + "reconciliation", diffs);
      }
    }
  }
  if (b.registrar_creates && *b.registrar_creates != stack_.registrar.creates()) {
    diffs.push_back(prefix + "registrar_creates: expected " + std::to_string(*b.registrar_creates) +
                    ", got " + std::to_string(stack_.registrar.creates()));
  }
  if (b.registered && *b.registered != stack_.registrar.Registered()) {
    diffs.push_back(prefix + "registered: expected " + ShowForReport(json(*b.registered)) +
                    ", got " + ShowForReport(json(stack_.registrar.Registered())));
  }
}

}  // namespace depositbot
