#include "tools/decision_handler.h"

#include <cctype>
#include <iterator>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/text.h"
#include "tools/admin_commands.h"
#include "tools/bank_feed.h"
#include "tools/purchase_service.h"
#include "tools/tool_registry.h"

namespace depositbot {
namespace {

using nlohmann::json;

constexpr std::string_view kKindNames[] = {"confirm_deposit", "reject_deposit", "confirm_purchase",
                                           "cancel_purchase",
                                           // Admin tools in chat.
                                           "confirm_adjustment", "cancel_adjustment",
                                           // Bank feed.
                                           "pick_bank_match", "ignore_bank_notice"};

// The admin's view of a decided deposit, the same sentence a typed /confirm or /reject gets.
std::string DecidedReply(const DepositDecidedUi& d) {
  std::string out = "Deposit #" + std::to_string(d.transaction_id) + " of " + d.amount_formatted +
                    (d.confirmed ? " confirmed" : " rejected");
  if (!d.user_name.empty()) out += " for " + d.user_name;
  out += ".";
  if (d.confirmed && !d.user_balance_formatted.empty()) {
    out += " Their balance is now " + d.user_balance_formatted + ".";
  }
  return out;
}

// "Sorry, that did not work: Deposit #2 is already confirmed."
std::string RefusalReply(const ToolResult& r) {
  std::string message = r.payload.value("message", r.error_code());
  if (!message.empty()) {
    message[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(message[0])));
  }
  return EndSentence("Sorry, that did not work: " + message);
}

DecisionOutcome Refused(ExecutedCall call, const Error& error, std::string reply) {
  DecisionOutcome out;
  out.code = error.code;
  out.reply = std::move(reply);
  call.result = ToolResult::FromError(error);
  out.call = std::move(call);
  return out;
}

// The call a purchase decision reports: `name` with {"order_id": order_id}.
ExecutedCall PurchaseCall(std::string name, int64_t order_id) {
  ExecutedCall call;
  call.name = std::move(name);
  call.arguments = json{{"order_id", order_id}}.dump();
  return call;
}

json OrderPayload(const DomainOrder& order) {
  return {{"order_id", order.id},
          {"domain", order.domain},
          {"state", std::string(ToString(order.state))}};
}

DecisionOutcome Succeeded(ExecutedCall call, json payload, std::string reply) {
  DecisionOutcome out;
  out.ok = true;
  out.reply = std::move(reply);
  call.result = ToolResult::Success(std::move(payload));
  out.call = std::move(call);
  return out;
}

}  // namespace

std::string_view ToString(Decision::Kind kind) { return kKindNames[static_cast<int>(kind)]; }

std::optional<Decision::Kind> DecisionKindFromString(std::string_view name) {
  for (int i = 0; i < static_cast<int>(std::size(kKindNames)); ++i) {
    if (kKindNames[i] == name) return static_cast<Decision::Kind>(i);
  }
  return std::nullopt;
}

DecisionHandler::DecisionHandler(const ToolRegistry& tools, PurchaseService& purchases,
                                 const AdminCommands* admin, BankFeed* bank_feed)
    : tools_(tools), purchases_(purchases), admin_(admin), bank_feed_(bank_feed) {}

DecisionOutcome DecisionHandler::Decide(const ToolContext& who, const Decision& decision) const {
  DecisionOutcome out;
  switch (decision.kind) {
    case Decision::Kind::kConfirmDeposit:
    case Decision::Kind::kRejectDeposit:
      out = DecideDeposit(who, decision);
      break;
    case Decision::Kind::kConfirmPurchase:
      out = ConfirmPurchase(who, decision.id);
      break;
    case Decision::Kind::kCancelPurchase:
      out = CancelPurchase(who, decision.id);
      break;
    case Decision::Kind::kConfirmAdjustment:
    case Decision::Kind::kCancelAdjustment:
      out = DecideAdjustment(who, decision);
      break;
    // Bank feed.
    case Decision::Kind::kPickBankMatch:
    case Decision::Kind::kIgnoreBankNotice:
      out = DecideBankNotice(who, decision);
      break;
  }
  // Someone else's decision (an admin's button, another user's quote) is refused and kept for
  // them: nothing changed, and the buttons still work for the one who may press them.
  if (!out.ok && out.code == ErrorCode::kForbidden) {
    out.buttons_stay = true;
    Log(LogLevel::kWarn, "decision.refused_forbidden",
        {{"decision", std::string(ToString(decision.kind))},
         {"id", std::to_string(decision.id)},
         {"telegram_id", std::to_string(who.telegram_id)}});
  }
  return out;
}

DecisionOutcome DecisionHandler::DecideDeposit(const ToolContext& who,
                                               const Decision& decision) const {
  const bool confirm = decision.kind == Decision::Kind::kConfirmDeposit;
  json args = {{"action", confirm ? "confirm" : "reject"}, {"transaction_id", decision.id}};
  if (!confirm) args["reason"] = decision.reason.empty() ? "rejected by an admin" : decision.reason;
  ExecutedCall call;
  call.name = "manage_deposit";
  call.arguments = args.dump();
  if (!who.is_admin) {
    // Refused before the tool: its schema would hide the action from a non-admin anyway.
    return Refused(std::move(call), Error::Forbidden("only admins can decide deposits"),
                   "Only admins can decide deposits.");
  }
  call.result = tools_.Invoke(who, call.name, call.arguments);
  DecisionOutcome out;
  out.ok = call.result.ok;
  if (!out.ok) {
    out.code = ErrorCodeFromName(call.result.error_code());
    out.reply = RefusalReply(call.result);
  } else {
    out.ui = call.result.ui;
    const auto* decided = out.ui ? std::get_if<DepositDecidedUi>(&*out.ui) : nullptr;
    out.reply = decided ? DecidedReply(*decided) : "Done.";
  }
  out.call = std::move(call);
  return out;
}

DecisionOutcome DecisionHandler::DecideBankNotice(const ToolContext& who,
                                                  const Decision& decision) const {
  if (!bank_feed_) {
    ExecutedCall call;
    call.name = "bank_notification";
    return Refused(std::move(call), Error::FailedPrecondition("the bank feed is not running"),
                   "Sorry, the bank feed is not running here.");
  }
  if (decision.kind == Decision::Kind::kPickBankMatch) {
    return bank_feed_->Pick(who, decision.id, decision.transaction_id);
  }
  return bank_feed_->Ignore(who, decision.id);
}

DecisionOutcome DecisionHandler::ConfirmPurchase(const ToolContext& who, int64_t order_id) const {
  auto outcome = purchases_.Confirm(who.user_id, order_id);
  std::string reply = ConfirmReply(outcome, purchases_.IsDemo());
  if (!outcome) {
    DecisionOutcome out =
        Refused(PurchaseCall("confirm_purchase", order_id), outcome.error(), std::move(reply));
    // Quoted and unpaid: a top-up makes the same button work.
    out.buttons_stay = outcome.code() == ErrorCode::kInsufficientFunds;
    return out;
  }
  json order = OrderPayload(outcome->order);
  order["message"] = outcome->message;
  return Succeeded(PurchaseCall("confirm_purchase", order_id), std::move(order), std::move(reply));
}

DecisionOutcome DecisionHandler::CancelPurchase(const ToolContext& who, int64_t order_id) const {
  auto cancelled = purchases_.Cancel(who.user_id, order_id);
  std::string reply = CancelReply(order_id, cancelled);
  if (!cancelled) {
    return Refused(PurchaseCall("cancel_purchase", order_id), cancelled.error(), std::move(reply));
  }
  return Succeeded(PurchaseCall("cancel_purchase", order_id), OrderPayload(*cancelled),
                   std::move(reply));
}

DecisionOutcome DecisionHandler::DecideAdjustment(const ToolContext& who,
                                                  const Decision& decision) const {
  const bool confirm = decision.kind == Decision::Kind::kConfirmAdjustment;
  if (!admin_) {
    ExecutedCall call;
    call.name = std::string(ToString(decision.kind));
    call.arguments = json{{"transaction_id", decision.id}}.dump();
    return Refused(std::move(call), Error::Unavailable("admin tools are not set up here"),
                   "Sorry, adjustments cannot be decided here.");
  }
  return confirm ? admin_->ConfirmAdjustment(who, decision.id)
                 : admin_->CancelAdjustment(who, decision.id);
}

}  // namespace depositbot
