#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <variant>

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
};

// A purchase quote: only its owner may confirm or cancel it, with buttons or y/N.
struct PurchaseQuoteUi {
  int64_t order_id = 0;
  std::string domain;
  int years = 1;
  std::string price_formatted;
  int64_t expires_at = 0;  // unix seconds
};

using UiEvent = std::variant<DepositRequestedUi, DepositDecidedUi, PurchaseQuoteUi>;

// The event as the JSON object fixtures compare and recordings keep: {"kind": "deposit_requested"
// | "deposit_decided" | "purchase_quote", ...fields}; fields that are unknown (0 or empty, as
// documented above) are left out.
nlohmann::json UiEventToJson(const UiEvent& event);

}  // namespace depositbot
