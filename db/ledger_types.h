#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace depositbot {

struct User {
  int64_t id = 0;
  int64_t telegram_id = 0;
  std::string display_name;
  int64_t created_at = 0;
};

// A user's balance row with its optimistic-locking version.
struct Account {
  int64_t user_id = 0;
  int64_t balance = 0;  // minor units, never negative
  int64_t version = 0;
};

enum class TransactionType { kDeposit, kPurchase, kRefund, kAdjustment };
enum class TransactionStatus { kPending, kConfirmed, kRejected, kCancelled };

std::string_view ToString(TransactionType type);
std::string_view ToString(TransactionStatus status);
std::optional<TransactionType> ParseTransactionType(std::string_view text);
std::optional<TransactionStatus> ParseTransactionStatus(std::string_view text);

// One row of deposit_transactions. amount > 0; direction is +1 or -1.
struct DepositTransaction {
  int64_t id = 0;
  int64_t user_id = 0;
  TransactionType type = TransactionType::kDeposit;
  int64_t amount = 0;
  int direction = 1;
  TransactionStatus status = TransactionStatus::kPending;
  std::optional<std::string> depositor_name;
  std::optional<std::string> reason;
  std::optional<std::string> reference;
  int64_t created_at = 0;
  std::optional<int64_t> decided_at;
  std::optional<int64_t> decided_by;  // Telegram id of the admin who decided

  int64_t SignedAmount() const { return amount * direction; }
};

}  // namespace depositbot
