#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/money.h"
#include "tools/decision_handler.h"
#include "tools/tool.h"
#include "tools/tool_context.h"
#include "tools/ui_event.h"

namespace depositbot {

class DepositStore;
class LedgerReportStore;
class OrderStore;
class UserStore;

struct AdminCommandOptions {
  Currency currency{"USD", 2};
  // How long a pending adjustment may be confirmed after /adjust asked for it.
  int64_t adjustment_ttl_seconds = 15 * 60;
  // A single adjustment above this many minor units (either sign) is refused as a typo.
  int64_t max_adjustment_minor = 100'000'000'00;
  size_t max_reason_length = 200;  // characters (bytes) of an adjustment's reason
  int history_rows = 10;           // /user's last transactions
  // Telegram's limit on a document a bot uploads; a larger export is refused.
  size_t max_export_bytes = 50u * 1000u * 1000u;
};

// What an admin command came to: the reply, what the transport shows besides it, and the one
// call it reports (name "admin_user", "admin_adjust", "admin_export" or "admin_stats",
// arguments {"text": the command}) for logs, metrics and fixtures.
struct AdminCommandResult {
  std::string reply;
  std::vector<UiEvent> ui;
  ExecutedCall call;
};

// The admins' tools in chat, handled before any model sees the message (the model never gets
// these powers: they are in no tool schema):
//   /user ID-or-@name     balance, pending deposits, last transactions, domain orders
//   /adjust ID AMOUNT REASON
//                         records a PENDING adjustment (no balance change) and offers
//                         Confirm / Cancel (AdjustmentRequestedUi); AMOUNT is signed ("+5000",
//                         "-12.50"; unsigned credits) and read by ReadUserAmount, so an
//                         ambiguous amount gets the same question a deposit gets
//   /export [FROM TO]     the ledger as CSV (DocumentUi); dates YYYY-MM-DD, UTC, inclusive,
//                         by the rows' creation time; see LedgerCsvHeader for the columns
//   /stats                users, balances against the ledger, pending deposits, today's figures
// Every command checks who.is_admin (set by the transport from ADMIN_IDS) first; a non-admin
// gets "Sorry, only admins can do that." and nothing runs. Refusals change nothing and say why.
// Thread-safe as its stores are; keeps no state. The references must outlive it.
class AdminCommands {
 public:
  AdminCommands(DepositStore& deposits, UserStore& users, OrderStore& orders,
                LedgerReportStore& reports, const Clock& clock, AdminCommandOptions options);

  // True for text whose first word is /user, /adjust, /export or /stats (also "/stats@MyBot").
  static bool IsAdminCommand(std::string_view text);
  // The help lines for admins.
  static std::string HelpLines();

  // Runs an admin command; nullopt when `text` is none (it then goes to the model as before).
  std::optional<AdminCommandResult> Handle(const ToolContext& who, std::string_view text) const;

  // The buttons of an AdjustmentRequestedUi (through DecisionHandler). Any admin may press
  // them; a non-admin's press is kForbidden and changes nothing. Confirm applies the adjustment
  // through DepositStore::ConfirmAdjustment (version-checked, decided_by = who), refused once
  // adjustment_ttl_seconds have passed or when a debit would take the balance below zero.
  DecisionOutcome ConfirmAdjustment(const ToolContext& who, int64_t transaction_id) const;
  DecisionOutcome CancelAdjustment(const ToolContext& who, int64_t transaction_id) const;

 private:
  AdminCommandResult UserInfo(const std::vector<std::string>& words, ExecutedCall call) const;
  AdminCommandResult RequestAdjustment(const ToolContext& who, std::string_view args,
                                       ExecutedCall call) const;
  AdminCommandResult ExportLedger(const std::vector<std::string>& words, ExecutedCall call) const;
  AdminCommandResult ShowStats(ExecutedCall call) const;
  std::string Money(int64_t minor) const;
  std::string SignedMoney(int64_t minor) const;

  DepositStore& deposits_;
  UserStore& users_;
  OrderStore& orders_;
  LedgerReportStore& reports_;
  const Clock& clock_;
  AdminCommandOptions options_;
};

// The CSV export's header line (without the line break). The columns are stable; new ones are
// only ever appended:
//   id, created_at, decided_at (ISO 8601 UTC; decided_at empty while pending),
//   user_telegram_id, user_name, type, status, direction (credit|debit),
//   amount (plain decimal in the currency's minor-unit precision, no grouping, negative for a
//   debit: "1234.50", "-12.50"), currency, depositor_name, reference, reason,
//   decided_by, decided_via, requested_by.
std::string_view LedgerCsvHeader();
// One CSV field per RFC 4180 (quoted when it holds a comma, a quote, CR or LF; quotes doubled).
// `text` fields that a spreadsheet would run as a formula (first character = + - @ tab or CR)
// get a leading apostrophe first.
std::string CsvField(std::string_view value, bool text);

}  // namespace depositbot
