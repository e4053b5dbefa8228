#include "app/replay_steps.h"

#include "agent/scripted_chat_model.h"
#include "app/replay_stack.h"
#include "app/services.h"
#include "tools/bank_feed.h"
#include "tools/decision_handler.h"
#include "tools/purchase_service.h"

namespace depositbot {
namespace {

using nlohmann::json;

std::string DescribeCall(const ExecutedCall& c) {
  std::string out = c.name + " " + c.arguments + " -> ";
  out += c.result.ok ? "ok" : "error " + c.result.error_code();
  return out;
}

}  // namespace

std::string QuoteForReport(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string ShowForReport(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string TurnRunner::Describe(const FixtureTurn& t) const {
  std::string adv;
  if (t.advance_seconds > 0) adv = " (after " + std::to_string(t.advance_seconds) + " s)";
  switch (t.kind) {
    case FixtureTurn::Kind::kMessage:
      return stack_.Who(t.from) + " said: " + QuoteForReport(t.text) + adv;
    case FixtureTurn::Kind::kPress: {
      static const char* kNames[] = {"confirm_purchase", "cancel_purchase",    "confirm_deposit",
                                     "reject_deposit",   "confirm_adjustment", "cancel_adjustment",
                                     "pick_bank_match",  "ignore_bank_notice"};
      std::string target = t.target ? "#" + std::to_string(*t.target) : "the last one";
      if (t.button == FixtureTurn::Button::kPickBankMatch ||
          t.button == FixtureTurn::Button::kIgnoreBankNotice) {
        target = "notification " +
                 (t.notification ? "#" + std::to_string(*t.notification) : "the last one") +
                 (t.target ? ", deposit #" + std::to_string(*t.target) : "");
      }
      return stack_.Who(t.from) + " pressed " + kNames[static_cast<int>(t.button)] + " (" + target +
             ")" + adv;
    }
    case FixtureTurn::Kind::kRecovery:
      return "the recovery job ran" + adv;
    case FixtureTurn::Kind::kAdvance:
      return "the clock moved " + std::to_string(t.advance_seconds) + " s";
    case FixtureTurn::Kind::kBankNotification:
      return "the bank notified " + ShowForReport(t.bank_notification) + adv;
  }
  return "";
}

std::string DescribeHappened(const StepResult& a) {
  std::string out = "    actual reply: " + QuoteForReport(a.turn.reply) + "\n";
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

StepResult TurnRunner::Run(const FixtureTurn& t, std::vector<std::string>& diffs) {
  StepResult a;
  if (t.advance_seconds > 0) stack_.clock.Advance(t.advance_seconds * 1000);
  size_t gaps_before = stack_.registrar.Gaps().size();
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
    case FixtureTurn::Kind::kBankNotification:
      a = BankNotification(t);
      break;
  }
  auto gaps = stack_.registrar.Gaps();
  for (size_t i = gaps_before; i < gaps.size(); ++i) diffs.push_back("registrar: " + gaps[i]);
  for (const auto& ui : a.turn.ui) {
    if (const auto* quote = std::get_if<PurchaseQuoteUi>(&ui)) last_quote_ = quote->order_id;
    if (const auto* request = std::get_if<DepositRequestedUi>(&ui)) {
      last_deposit_ = request->transaction_id;
    }
    if (const auto* adjustment = std::get_if<AdjustmentRequestedUi>(&ui)) {
      last_adjustment_ = adjustment->transaction_id;
    }
    if (const auto* notice = std::get_if<BankNoticeUi>(&ui)) {
      last_bank_notice_ = notice->notification_id;
    }
  }
  return a;
}

StepResult TurnRunner::Say(const FixtureTurn& t, std::vector<std::string>& diffs) {
  StepResult a;
  const ToolContext& ctx = stack_.contexts.at(t.from);
  ChatRequest preview = stack_.agent->BuildRequest(ctx, ctx.telegram_id, t.text);
  a.offered_known = true;
  for (const auto& tool : preview.Tools()) {
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
  for (auto& r : *replies) stack_.scripted.Enqueue(std::move(r));
  const size_t before = stack_.scripted.RequestCount();
  a.turn = stack_.agent->Handle(ctx, ctx.telegram_id, t.text);
  const size_t asked = stack_.scripted.RequestCount() - before;
  if (asked > given) {
    diffs.push_back("model: the code asked the model for reply #" + std::to_string(given + 1) +
                    " of this turn (request #" + std::to_string(before + given + 1) +
                    " overall), but the turn's \"model\" has only " + std::to_string(given) +
                    " — scripted model has no reply for that request");
  } else if (asked < given) {
    diffs.push_back("model: the turn's \"model\" has " + std::to_string(given) +
                    " replies but the code asked for only " + std::to_string(asked) + "; reply #" +
                    std::to_string(asked + 1) + " (" + ShowForReport(t.model[asked]) +
                    ") was never asked for");
  }
  return a;
}

// A button press, through the handler a Telegram callback and the terminal's y/N use.
TurnResult TurnRunner::Press(const FixtureTurn& t, std::vector<std::string>& diffs) {
  TurnResult r;
  const ToolContext& ctx = stack_.contexts.at(t.from);
  using B = FixtureTurn::Button;
  if (t.button == B::kPickBankMatch || t.button == B::kIgnoreBankNotice) {
    const int64_t notice = t.notification.value_or(last_bank_notice_);
    if (notice == 0) {
      diffs.push_back("press: there is no bank notice from an earlier turn; name it by id");
      return r;
    }
    Decision d;
    d.kind = t.button == B::kPickBankMatch ? Decision::Kind::kPickBankMatch
                                           : Decision::Kind::kIgnoreBankNotice;
    d.id = notice;
    d.transaction_id = t.target.value_or(0);
    DecisionOutcome outcome = stack_.decisions->Decide(ctx, d);
    r.reply = std::move(outcome.reply);
    r.calls.push_back(std::move(outcome.call));
    if (outcome.ui) r.ui.push_back(std::move(*outcome.ui));
    return r;
  }
  bool purchase = t.button == B::kConfirmPurchase || t.button == B::kCancelPurchase;
  bool adjustment = t.button == B::kConfirmAdjustment || t.button == B::kCancelAdjustment;
  int64_t id = t.target.value_or(purchase     ? last_quote_
                                 : adjustment ? last_adjustment_
                                              : last_deposit_);
  if (id == 0) {
    diffs.push_back(std::string("press: there is no ") +
                    (purchase     ? "purchase quote"
                     : adjustment ? "adjustment request"
                                  : "deposit request") +
                    " from an earlier turn to press the button of; name it by id");
    return r;
  }
  static constexpr Decision::Kind kKinds[] = {
      Decision::Kind::kConfirmPurchase,   Decision::Kind::kCancelPurchase,
      Decision::Kind::kConfirmDeposit,    Decision::Kind::kRejectDeposit,
      Decision::Kind::kConfirmAdjustment, Decision::Kind::kCancelAdjustment};
  DecisionOutcome outcome =
      stack_.decisions->Decide(ctx, Decision{kKinds[static_cast<int>(t.button)], id, t.reason});
  r.reply = std::move(outcome.reply);
  r.calls.push_back(std::move(outcome.call));
  if (outcome.ui) r.ui.push_back(std::move(*outcome.ui));
  return r;
}

StepResult TurnRunner::Recover(const FixtureTurn& t) {
  StepResult a;
  ExecutedCall call;
  call.name = "run_recovery";
  call.arguments = json{{"min_age_seconds", t.recovery_min_age_seconds}}.dump();
  auto report = stack_.purchases->Recover(t.recovery_min_age_seconds);
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

StepResult TurnRunner::BankNotification(const FixtureTurn& t) {
  StepResult a;
  ExecutedCall call;
  call.name = "bank_notification";
  call.arguments = t.bank_notification.dump();
  auto notice = ParseBankNotice(call.arguments);
  Result<BankFeedResult> r = notice ? stack_.services->bank_feed().Receive(*notice)
                                    : Result<BankFeedResult>(notice.error());
  if (r) {
    json answer = r->ToJson();
    a.turn.reply = answer.dump();
    call.result = ToolResult::Success(std::move(answer));
    for (auto& ui : r->ui) a.turn.ui.push_back(std::move(ui));
  } else {
    // What the endpoint answers with 400 (or 503): nothing was recorded.
    a.turn.reply = "refused: " + r.error().message;
    call.result = ToolResult::FromError(r.error());
  }
  a.turn.calls.push_back(std::move(call));
  return a;
}

}  // namespace depositbot
