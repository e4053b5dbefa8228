#pragma once

#include "common/clock.h"
#include "db/bank_notification_store.h"

namespace depositbot {

class Database;

// The BankNotificationStore on SQLite or PostgreSQL (the SQL is shared). Thread-safe. `db` and
// `clock` must outlive the repository.
class BankNotificationRepository final : public BankNotificationStore {
 public:
  BankNotificationRepository(Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  Result<std::pair<BankNotification, bool>> Record(const BankNotification& notice) override;
  Result<BankNotification> Get(int64_t id) override;
  Result<std::vector<BankNotification>> Unmatched(std::string_view currency,
                                                  std::optional<int64_t> amount,
                                                  int limit) override;
  Status MarkAmbiguous(int64_t id) override;
  Result<BankNotification> Ignore(int64_t id, int64_t admin_telegram_id) override;
  Status MarkMatchedIn(StoreTransaction& tx, int64_t id, int64_t transaction_id,
                       std::optional<int64_t> admin_telegram_id) override;
  Status SaveMessage(int64_t id, int64_t chat_id, int64_t message_id) override;
  Result<std::vector<std::pair<int64_t, int64_t>>> Messages(int64_t id) override;
  Result<std::unique_ptr<BankMatchLock>> LockMatching() override;

 private:
  Result<BankNotification> GetLocked(int64_t id);
  // kFailedPrecondition for a notice that is not open ("already matched with deposit #3").
  Error NotOpen(int64_t id);

  Database& db_;
  const Clock& clock_;
};

}  // namespace depositbot
