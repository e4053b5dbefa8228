#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace depositbot {

// What a tool call or a decision asks the transport to show besides the reply text. Typed so a
// transport reads fields, not JSON keys; never shown to the model.

// A user recorded a deposit request: the admins get it with Confirm/Reject buttons.
struct DepositRequestedUi {
  int64_t transaction_id = 0;
  int64_t user_telegram_id = 0;
  std::string user_name;
  std::string amount_formatted;
  std::string depositor_name;
};

// An admin confirmed or rejected a deposit: the admins' copies of the request are edited and
// the user is told.
struct DepositDecidedUi {
  int64_t transaction_id = 0;
  bool confirmed = false;
  std::string amount_formatted;
  int64_t admin_telegram_id = 0;
  std::string admin_name;
  int64_t user_telegram_id = 0;        // 0 when the user could not be read back
  std::string user_name;               // empty then too
  std::string user_balance_formatted;  // empty when the account could not be read back
  std::optional<std::string> reason;   // a rejection's reason
  // Set when the bank feed confirmed it: "bank-feed", with the bank's reference. admin_* then
  // name the admin who picked the deposit for the notification, or are empty (automatic).
  std::string decided_via;
  std::string bank_reference;
};

// A purchase quote: only its owner may confirm or cancel it, with buttons or y/N.
struct PurchaseQuoteUi {
  int64_t order_id = 0;
  std::string domain;
  int years = 1;
  std::string price_formatted;
  int64_t expires_at = 0;  // unix seconds
};

// Admin tools in chat (tools/admin_commands.h).

// An admin asked for a balance adjustment (/adjust): nothing moved yet; the admin's chat gets
// Confirm / Cancel buttons, which any admin may press until `expires_at`.
struct AdjustmentRequestedUi {
  int64_t transaction_id = 0;
  int64_t user_telegram_id = 0;
  std::string user_name;
  std::string amount_formatted;  // signed: "+50.00 USD", "-12.50 USD"
  std::string reason;
  int64_t requested_by = 0;  // the admin's Telegram id
  int64_t expires_at = 0;    // unix seconds
};

// An adjustment was applied (confirmed) or cancelled: the request's buttons go, and an applied
// one is told to its user.
struct AdjustmentDecidedUi {
  int64_t transaction_id = 0;
  bool confirmed = false;
  std::string amount_formatted;  // signed
  std::string reason;
  int64_t admin_telegram_id = 0;
  std::string admin_name;
  int64_t user_telegram_id = 0;
  std::string user_name;
  std::string user_balance_formatted;  // empty when it could not be read back
};

// A file for the admin who asked (/export): Telegram sends it as a document, the terminal
// writes it into the current directory, replay keeps it for the fixture to check.
struct DocumentUi {
  std::string filename;
  std::string mime_type;
  std::string content;
  std::string caption;
  int64_t rows = 0;
};

// Bank feed (tools/bank_feed.h).
// A pending deposit offered to the admins for a bank notification.
struct BankCandidateUi {
  int64_t transaction_id = 0;
  int64_t user_telegram_id = 0;
  std::string user_name;
  std::string depositor_name;
};

// A bank notification that no single pending deposit matched: every admin gets it, with a
// Confirm button per candidate and an Ignore button when `decidable` (else as information only,
// e.g. a reference sent again with other details).
struct BankNoticeUi {
  int64_t notification_id = 0;
  std::string reference;
  std::string amount_formatted;
  std::string depositor_name;
  std::string reason;  // "no pending deposit matches", "several pending deposits match", ...
  std::vector<BankCandidateUi> candidates;
  bool decidable = true;
};

// A bank notification was decided after the admins were told of it (or matched later): their
// copies are edited; `deposit`, when it confirmed one, is announced as a DepositDecidedUi (to
// its user too, unless `tell_user` is false because the user is being answered already).
struct BankNoticeDecidedUi {
  int64_t notification_id = 0;
  std::string reference;
  std::string state;              // "matched" or "ignored"
  int64_t admin_telegram_id = 0;  // 0: decided automatically
  std::string admin_name;
  std::optional<DepositDecidedUi> deposit;
  bool tell_user = true;
};

using UiEvent =
    std::variant<DepositRequestedUi, DepositDecidedUi, PurchaseQuoteUi, AdjustmentRequestedUi,
                 AdjustmentDecidedUi, DocumentUi, BankNoticeUi, BankNoticeDecidedUi>;

// The event as the JSON object fixtures compare and recordings keep: {"kind": "deposit_requested"
// | "deposit_decided" | "purchase_quote" | "adjustment_requested" | "adjustment_decided" |
// "document" | "bank_notice" | "bank_notice_decided", ...fields}; fields that are unknown (0 or
// empty, as documented above) are left out.
nlohmann::json UiEventToJson(const UiEvent& event);

}  // namespace depositbot
