#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "db/store_transaction.h"

namespace depositbot {

// One signed "transfer received" notice of the bank (table bank_notifications, migration 008).
// `amount` is in minor units of `currency`; `depositor_key` is the name as matching compares it
// (tools/bank_feed.h, NormalizeDepositorName).
struct BankNotification {
  enum class State { kUnmatched, kAmbiguous, kMatched, kIgnored };
  int64_t id = 0;
  std::string reference;
  int64_t amount = 0;
  std::string currency;
  std::string depositor_name;
  std::string depositor_key;
  int64_t received_at = 0;
  int64_t recorded_at = 0;
  State state = State::kUnmatched;
  std::optional<int64_t> transaction_id;  // the deposit it confirmed (kMatched)
  std::optional<int64_t> decided_by;      // the admin who picked or ignored; unset: automatic
  std::optional<int64_t> decided_at;
  std::string body;  // the notice as the bank sent it

  // Still waiting for a deposit or an admin (unmatched or ambiguous).
  bool open() const { return state == State::kUnmatched || state == State::kAmbiguous; }
};

// "unmatched", "ambiguous", "matched", "ignored".
std::string_view ToString(BankNotification::State state);

// Held while the bank feed matches (see BankNotificationStore::LockMatching); released when
// destroyed. Must be destroyed on the thread that took it.
class BankMatchLock {
 public:
  virtual ~BankMatchLock() = default;
};

// Bank notifications and the admin messages about them. Every state change is conditional on
// the state it leaves, so two processes deciding one notice at once cannot both succeed: the
// loser gets kFailedPrecondition naming the state it found. Implementations are thread-safe,
// also across processes sharing the store.
class BankNotificationStore {
 public:
  virtual ~BankNotificationStore() = default;

  // Stores `notice` (its id, state, recorded_at and decision fields are ignored: a new notice is
  // 'unmatched', recorded now) unless a notice with its reference exists. Returns the stored
  // row and whether this call stored it. Insert-or-ignore: two processes recording one
  // reference at once store one row, and both get it back.
  virtual Result<std::pair<BankNotification, bool>> Record(const BankNotification& notice) = 0;
  virtual Result<BankNotification> Get(int64_t id) = 0;
  // Unmatched notices in `currency`, newest first (a sweep past `limit` still sees the new
  // ones); of `amount` only when given. limit 1..100.
  virtual Result<std::vector<BankNotification>> Unmatched(std::string_view currency,
                                                          std::optional<int64_t> amount,
                                                          int limit) = 0;
  // unmatched -> ambiguous. kFailedPrecondition when it is no longer unmatched.
  virtual Status MarkAmbiguous(int64_t id) = 0;
  // unmatched or ambiguous -> ignored, by `admin_telegram_id`. kFailedPrecondition otherwise.
  virtual Result<BankNotification> Ignore(int64_t id, int64_t admin_telegram_id) = 0;
  // unmatched or ambiguous -> matched with `transaction_id`, inside `tx` (the confirm of that
  // deposit, see DepositStore::ConfirmFromBank). kFailedPrecondition otherwise, which rolls the
  // confirm back.
  virtual Status MarkMatchedIn(StoreTransaction& tx, int64_t id, int64_t transaction_id,
                               std::optional<int64_t> admin_telegram_id) = 0;

  // The message each admin got about a notice (one per admin chat; a later one replaces it).
  virtual Status SaveMessage(int64_t id, int64_t chat_id, int64_t message_id) = 0;
  // (chat_id, message_id) pairs, by chat.
  virtual Result<std::vector<std::pair<int64_t, int64_t>>> Messages(int64_t id) = 0;

  // Serialises matching among all processes sharing the store: a notice's search for its
  // deposit and a new deposit's search for its notice must not both run before either saw the
  // other. Held until the returned lock is destroyed; store calls of the same thread meanwhile
  // run on the lock's connection. kUnavailable when no connection is free.
  virtual Result<std::unique_ptr<BankMatchLock>> LockMatching() = 0;
};

}  // namespace depositbot
