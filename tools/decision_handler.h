#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "tools/tool.h"
#include "tools/tool_context.h"
#include "tools/ui_event.h"

namespace depositbot {

class AdminCommands;
class BankFeed;
class PurchaseService;
class ToolRegistry;

// A decision a person makes outside the model: a Telegram button, the terminal's y/N, or a
// fixture's "press". Every transport turns its input into one of these and hands it to the
// one DecisionHandler, so a replayed press runs the code a Telegram press runs.
struct Decision {
  enum class Kind {
    kConfirmDeposit,
    kRejectDeposit,
    kConfirmPurchase,
    kCancelPurchase,
    // Admin tools in chat: an adjustment an admin asked for with /adjust (AdminCommands).
    kConfirmAdjustment,
    kCancelAdjustment,
    // Bank feed (tools/bank_feed.h): `id` is the bank notification.
    kPickBankMatch,     // confirm deposit `transaction_id` for the notification
    kIgnoreBankNotice,  // the notification confirms nothing
  };
  Kind kind = Kind::kConfirmDeposit;
  int64_t id = 0;  // the deposit or adjustment transaction, the purchase order or the bank notice
  std::string reason;          // a rejection's reason; empty: "rejected by an admin"
  int64_t transaction_id = 0;  // kPickBankMatch: the deposit picked
};

// "confirm_deposit", "reject_deposit", "confirm_purchase", "cancel_purchase",
// "confirm_adjustment", "cancel_adjustment", "pick_bank_match", "ignore_bank_notice" (the fixture
// and recording vocabulary); FromString is its inverse, nullopt for anything else.
std::string_view ToString(Decision::Kind kind);
std::optional<Decision::Kind> DecisionKindFromString(std::string_view name);

// What a decision came to. A refusal changed nothing; `reply` says why.
struct DecisionOutcome {
  bool ok = false;
  ErrorCode code = ErrorCode::kInternal;  // the refusal's code when !ok
  std::string reply;                      // what the person who decided is told
  ExecutedCall call;                      // what ran, for observers, metrics and replay
  std::optional<UiEvent> ui;              // e.g. DepositDecidedUi for the transport to announce
  // The buttons still mean something after this answer: the presser may not decide (someone
  // else may), or a confirm that lacked funds may be pressed again after a top-up.
  bool buttons_stay = false;
};

// The one handler of decisions. Deposits go through the manage_deposit tool (as an admin's
// typed /confirm would), purchases through PurchaseService, whose owner check decides who may
// press a quote, adjustments through AdminCommands (admins only; without `admin` they are
// refused as unavailable), bank notices through `bank_feed` (may be null: its decisions are then
// refused). Admin rights come from `who`, which the transport authenticated. Thread-safe as its
// parts are; it keeps no state. Holds references to `tools`, `purchases`, `admin` and
// `bank_feed`, which must outlive it.
class DecisionHandler {
 public:
  DecisionHandler(const ToolRegistry& tools, PurchaseService& purchases,
                  const AdminCommands* admin = nullptr, BankFeed* bank_feed = nullptr);

  DecisionOutcome Decide(const ToolContext& who, const Decision& decision) const;

 private:
  DecisionOutcome DecideDeposit(const ToolContext& who, const Decision& decision) const;
  DecisionOutcome ConfirmPurchase(const ToolContext& who, int64_t order_id) const;
  DecisionOutcome CancelPurchase(const ToolContext& who, int64_t order_id) const;
  DecisionOutcome DecideAdjustment(const ToolContext& who, const Decision& decision) const;
  DecisionOutcome DecideBankNotice(const ToolContext& who, const Decision& decision) const;

  const ToolRegistry& tools_;
  PurchaseService& purchases_;
  const AdminCommands* admin_;
  BankFeed* bank_feed_;
};

}  // namespace depositbot
