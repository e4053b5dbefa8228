#include "db/ledger_types.h"

namespace depositbot {

std::string_view ToString(TransactionType type) {
  switch (type) {
    case TransactionType::kDeposit:
      return "deposit";
    case TransactionType::kPurchase:
      return "purchase";
    case TransactionType::kRefund:
      return "refund";
    case TransactionType::kAdjustment:
      return "adjustment";
  }
  return "adjustment";
}

std::string_view ToString(TransactionStatus status) {
  switch (status) {
    case TransactionStatus::kPending:
      return "pending";
    case TransactionStatus::kConfirmed:
      return "confirmed";
    case TransactionStatus::kRejected:
      return "rejected";
    case TransactionStatus::kCancelled:
      return "cancelled";
  }
  return "rejected";
}

std::optional<TransactionType> ParseTransactionType(std::string_view text) {
  for (auto t : {TransactionType::kDeposit, TransactionType::kPurchase, TransactionType::kRefund,
                 TransactionType::kAdjustment}) {
    if (ToString(t) == text) return t;
  }
  return std::nullopt;
}

std::optional<TransactionStatus> ParseTransactionStatus(std::string_view text) {
  for (auto s : {TransactionStatus::kPending, TransactionStatus::kConfirmed,
                 TransactionStatus::kRejected, TransactionStatus::kCancelled}) {
    if (ToString(s) == text) return s;
  }
  return std::nullopt;
}

}  // namespace depositbot
