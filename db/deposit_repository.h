#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/environment.h"
#include "common/result.h"
#include "db/deposit_store.h"
#include "db/ledger_types.h"

namespace depositbot {

class Database;

// How a version conflict is retried: at most `max_attempts` tries, waiting
// base * 2^(attempt-1) plus a random jitter below the same amount between (the wait and
// the jitter come from the repository's Environment, so tests run without waiting).
struct RetryPolicy {
  int max_attempts = 3;
  std::chrono::microseconds base_backoff{2000};
  // Test seam, unset in production: called with the attempt number (1-based)
  // after the optimistic read of (balance, version) and before the write
  // transaction begins, so a test can change the row from another connection
  // and provoke a version conflict deterministically.
  std::function<void(int attempt)> before_write;
};

struct RepositoryStats {
  int64_t applied = 0;            // balance changes committed
  int64_t conflicts = 0;          // version mismatches seen (each one retried or given up)
  int64_t retries = 0;            // attempts after the first
  int64_t conflict_failures = 0;  // operations that gave up after max_attempts
};

// The DepositStore on SQLite. Each change reads (balance, version), then in one
// IMMEDIATE transaction runs `UPDATE user_deposits ... WHERE user_id=? AND version=?`
// plus its ledger row; a version mismatch rolls back and is retried as `retry` says.
// Thread-safe: calls on one repository are serialised on its Database; use a
// repository per connection for parallelism (also across processes).
class DepositRepository final : public DepositStore {
 public:
  // `clock` stamps the rows, as in the other repositories; `env` waits and draws the jitter
  // between conflict retries. `db`, `clock` and `env` must outlive the repository.
  DepositRepository(Database& db, const Clock& clock, RetryPolicy retry = {},
                    Environment& env = SystemEnvironment());

  Result<Account> GetAccount(int64_t user_id) override;
  Result<DepositTransaction> GetTransaction(int64_t transaction_id) override;
  Result<std::vector<DepositTransaction>> History(int64_t user_id, int limit) override;
  Result<std::vector<DepositTransaction>> Pending(int limit) override;

  Result<DepositTransaction> RequestDeposit(int64_t user_id, int64_t amount,
                                            std::string_view depositor_name) override;
  Result<DepositTransaction> Confirm(int64_t transaction_id, int64_t admin_telegram_id) override;
  Result<DepositTransaction> Reject(int64_t transaction_id, int64_t admin_telegram_id,
                                    std::string_view reason) override;
  Result<DepositTransaction> Cancel(int64_t transaction_id, int64_t owner_user_id) override;
  // `also` receives a SqliteStoreTransaction on this repository's Database.
  Result<DepositTransaction> Purchase(int64_t user_id, int64_t amount, std::string_view reference,
                                      std::string_view description,
                                      InTransaction also = {}) override;
  Result<DepositTransaction> Refund(int64_t purchase_transaction_id, std::string_view reason,
                                    InTransaction also = {}) override;
  Result<DepositTransaction> Adjust(int64_t user_id, int64_t signed_amount, std::string_view reason,
                                    int64_t admin_telegram_id) override;
  Result<DepositTransaction> RequestAdjustment(int64_t user_id, int64_t signed_amount,
                                               std::string_view reason,
                                               int64_t requested_by) override;
  Result<DepositTransaction> ConfirmAdjustment(int64_t transaction_id, int64_t admin_telegram_id,
                                               int64_t valid_seconds) override;
  Result<DepositTransaction> CancelAdjustment(int64_t transaction_id,
                                              int64_t admin_telegram_id) override;

  Result<std::vector<DepositTransaction>> PendingOfAmount(int64_t amount, int limit) override;
  Result<DepositTransaction> ConfirmFromBank(int64_t transaction_id,
                                             std::string_view bank_reference,
                                             std::optional<int64_t> admin_telegram_id,
                                             InTransaction also) override;

  RepositoryStats stats() const;
  Database& database() { return db_; }

 private:
  // Confirm and ConfirmFromBank: one version-checked credit of a pending deposit, by an admin
  // and/or (with `bank_reference`) the bank feed; `also` runs in the same transaction.
  Result<DepositTransaction> ConfirmDeposit(int64_t transaction_id,
                                            std::optional<int64_t> admin_telegram_id,
                                            std::optional<std::string> bank_reference,
                                            InTransaction also);
  struct Change {
    int64_t delta = 0;
    // Writes the ledger row / status change inside the transaction; returns the row id.
    std::function<Result<int64_t>()> write;
  };
  using Planner = std::function<Result<Change>(const Account&)>;

  Result<DepositTransaction> ApplyVersioned(int64_t user_id, const Planner& plan,
                                            const InTransaction& also);
  Result<Account> ReadAccount(int64_t user_id);
  Result<DepositTransaction> ReadTransaction(int64_t transaction_id);
  Result<int64_t> InsertRow(const DepositTransaction& row);
  // The id of the row of `type` with this reference, if any (db mutex held).
  Result<std::optional<int64_t>> FindByReference(TransactionType type,
                                                 const std::string& reference);
  Result<DepositTransaction> Decide(int64_t transaction_id, TransactionStatus to,
                                    int64_t decided_by, std::optional<std::string> reason,
                                    std::optional<int64_t> owner_user_id, TransactionType type);
  void Backoff(int attempt);

  Database& db_;
  const Clock& clock_;
  RetryPolicy retry_;
  Environment& env_;
  std::atomic<int64_t> applied_{0}, conflicts_{0}, retries_{0}, conflict_failures_{0};
};

}  // namespace depositbot
