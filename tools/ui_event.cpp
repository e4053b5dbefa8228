#include "tools/ui_event.h"

#include <nlohmann/json.hpp>

namespace depositbot {
namespace {

using nlohmann::json;

json ToJson(const DepositRequestedUi& e) {
  return {{"kind", "deposit_requested"},
          {"transaction_id", e.transaction_id},
          {"user_telegram_id", e.user_telegram_id},
          {"user_name", e.user_name},
          {"amount_formatted", e.amount_formatted},
          {"depositor_name", e.depositor_name}};
}

json ToJson(const DepositDecidedUi& e) {
  json j = {{"kind", "deposit_decided"},
            {"transaction_id", e.transaction_id},
            {"status", e.confirmed ? "confirmed" : "rejected"},
            {"amount_formatted", e.amount_formatted},
            {"admin_telegram_id", e.admin_telegram_id},
            {"admin_name", e.admin_name}};
  if (e.user_telegram_id != 0) j["user_telegram_id"] = e.user_telegram_id;
  if (!e.user_name.empty()) j["user_name"] = e.user_name;
  if (!e.user_balance_formatted.empty()) j["user_balance_formatted"] = e.user_balance_formatted;
  if (e.reason) j["reason"] = *e.reason;
  if (!e.decided_via.empty()) j["decided_via"] = e.decided_via;
  if (!e.bank_reference.empty()) j["bank_reference"] = e.bank_reference;
  return j;
}

json ToJson(const PurchaseQuoteUi& e) {
  return {{"kind", "purchase_quote"},
          {"order_id", e.order_id},
          {"domain", e.domain},
          {"years", e.years},
          {"price_formatted", e.price_formatted},
          {"expires_at", e.expires_at}};
}

json ToJson(const AdjustmentRequestedUi& e) {
  return {{"kind", "adjustment_requested"},         {"transaction_id", e.transaction_id},
          {"user_telegram_id", e.user_telegram_id}, {"user_name", e.user_name},
          {"amount_formatted", e.amount_formatted}, {"reason", e.reason},
          {"requested_by", e.requested_by},         {"expires_at", e.expires_at}};
}

json ToJson(const AdjustmentDecidedUi& e) {
  json j = {{"kind", "adjustment_decided"},
            {"transaction_id", e.transaction_id},
            {"status", e.confirmed ? "confirmed" : "cancelled"},
            {"amount_formatted", e.amount_formatted},
            {"reason", e.reason},
            {"admin_telegram_id", e.admin_telegram_id},
            {"admin_name", e.admin_name}};
  if (e.user_telegram_id != 0) j["user_telegram_id"] = e.user_telegram_id;
  if (!e.user_name.empty()) j["user_name"] = e.user_name;
  if (!e.user_balance_formatted.empty()) j["user_balance_formatted"] = e.user_balance_formatted;
  return j;
}

json ToJson(const DocumentUi& e) {
  return {{"kind", "document"},   {"filename", e.filename}, {"mime_type", e.mime_type},
          {"caption", e.caption}, {"rows", e.rows},         {"bytes", e.content.size()},
          {"content", e.content}};
}

json ToJson(const BankNoticeUi& e) {
  json candidates = json::array();
  for (const auto& c : e.candidates) {
    candidates.push_back({{"transaction_id", c.transaction_id},
                          {"user_telegram_id", c.user_telegram_id},
                          {"user_name", c.user_name},
                          {"depositor_name", c.depositor_name}});
  }
  return {{"kind", "bank_notice"},
          {"notification_id", e.notification_id},
          {"reference", e.reference},
          {"amount_formatted", e.amount_formatted},
          {"depositor_name", e.depositor_name},
          {"reason", e.reason},
          {"candidates", candidates},
          {"decidable", e.decidable}};
}

json ToJson(const BankNoticeDecidedUi& e) {
  json j = {{"kind", "bank_notice_decided"},
            {"notification_id", e.notification_id},
            {"reference", e.reference},
            {"state", e.state}};
  if (e.admin_telegram_id != 0) {
    j["admin_telegram_id"] = e.admin_telegram_id;
    j["admin_name"] = e.admin_name;
  }
  if (e.deposit) j["deposit"] = ToJson(*e.deposit);
  return j;
}

}  // namespace

json UiEventToJson(const UiEvent& event) {
  return std::visit([](const auto& e) { return ToJson(e); }, event);
}

}  // namespace depositbot
