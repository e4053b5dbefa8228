#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "db/store_transaction.h"

namespace depositbot {

// A domain purchase (table domain_orders). Prices: `price` in deposit-currency
// minor units (what the user pays), registrar amounts in USD micro-dollars.
struct DomainOrder {
  enum class State { kQuoted, kCharged, kRegistered, kRefunded, kUnknown, kExpired, kCancelled };
  int64_t id = 0;
  int64_t user_id = 0;
  std::string domain;
  int years = 1;
  int64_t price = 0;
  int64_t registrar_usd_micros = 0;
  int64_t premium_usd_micros = 0;
  State state = State::kQuoted;
  int64_t quote_expires_at = 0;
  std::optional<int64_t> purchase_transaction_id;
  std::optional<int64_t> refund_transaction_id;
  std::optional<std::string> registrar_order_id;
  std::optional<std::string> registrar_domain_id;
  std::optional<std::string> failure;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // The execution that owns the order while it runs (see OrderRepository).
  std::optional<std::string> lease_owner;
  std::optional<int64_t> lease_expires_at;  // unix seconds
  // When the registrar create was sent; unset: it never was.
  std::optional<int64_t> create_sent_at;

  // A lease that has not expired at `now` (its owner may still be working on it).
  bool LeaseLive(int64_t now) const {
    return lease_owner.has_value() && lease_expires_at.has_value() && *lease_expires_at > now;
  }
};

std::string_view ToString(DomainOrder::State state);

// Orders and their state transitions. Every transition is conditional on the
// state it leaves (`UPDATE ... WHERE id = ? AND state = ?`), so two racing
// transitions cannot both happen: the loser gets kFailedPrecondition. The
// *In(StoreTransaction&) forms run inside a caller's transaction (e.g. together
// with the debit in DepositStore::Purchase). Implementations are thread-safe,
// also across processes sharing the store.
//
// Leases (DESIGN.md money rule 5): from the debit on, an order is owned by the
// execution that charged it (`owner`, see common/lease_owner.h) until
// `lease_expires_at`; that execution renews the lease while the registrar call
// runs. Every transition of a charged or unknown order names its owner and
// fails with kFailedPrecondition when the lease is held by someone else, so a
// recovery that took over an abandoned order and the original execution can
// never both decide its outcome. Registered and refunded orders hold no lease.
class OrderStore {
 public:
  virtual ~OrderStore() = default;

  virtual Result<DomainOrder> CreateQuote(int64_t user_id, std::string_view domain, int years,
                                          int64_t price, int64_t registrar_usd_micros,
                                          int64_t premium_usd_micros, int64_t expires_at) = 0;
  virtual Result<DomainOrder> Get(int64_t order_id) = 0;
  // Newest first, limit clamped to 1..100.
  virtual Result<std::vector<DomainOrder>> ForUser(int64_t user_id, int limit) = 0;
  // Orders in `state` last updated at or before `updated_before`, oldest first.
  virtual Result<std::vector<DomainOrder>> InState(DomainOrder::State state,
                                                   int64_t updated_before) = 0;

  // quoted -> charged, recording the purchase row of reference "order:<id>" and
  // giving `owner` the lease until `lease_expires_at`. `tx` is the debit's transaction.
  virtual Status MarkChargedIn(StoreTransaction& tx, int64_t order_id, std::string_view owner,
                               int64_t lease_expires_at) = 0;
  // Extends `owner`'s lease; kFailedPrecondition when it is no longer theirs.
  virtual Status RenewLease(int64_t order_id, std::string_view owner, int64_t lease_expires_at) = 0;
  // Records, durably and before the create is sent, that it is about to be;
  // kFailedPrecondition (send nothing) when `owner` lost the lease.
  virtual Status MarkCreateSent(int64_t order_id, std::string_view owner,
                                int64_t lease_expires_at) = 0;
  // Recovery takes a charged or unknown order whose lease expired, was never
  // taken, or belongs to `gone_owner` (an owner known to have died). False when
  // another execution holds it.
  virtual Result<bool> TakeLease(int64_t order_id, std::string_view owner, int64_t lease_expires_at,
                                 const std::optional<std::string>& gone_owner) = 0;
  // Gives the lease up without deciding the order (it stays for a later recovery).
  virtual Status ReleaseLease(int64_t order_id, std::string_view owner) = 0;

  // charged|unknown -> refunded, recording the refund row of the purchase. `tx` is the
  // refund's transaction.
  virtual Status MarkRefundedIn(StoreTransaction& tx, int64_t order_id, std::string_view owner,
                                std::string_view failure) = 0;
  // charged|unknown -> registered.
  virtual Result<DomainOrder> MarkRegistered(int64_t order_id, std::string_view owner,
                                             std::string_view registrar_order_id,
                                             std::string_view registrar_domain_id) = 0;
  // charged -> unknown, releasing the lease so recovery can take the order.
  virtual Result<DomainOrder> MarkUnknown(int64_t order_id, std::string_view owner,
                                          std::string_view why) = 0;
  // A registrar create that succeeded on an order already refunded: recorded on
  // the order (registrar ids and `note`), never dropped. The state stays refunded.
  virtual Result<DomainOrder> RecordLateRegistration(int64_t order_id,
                                                     std::string_view registrar_order_id,
                                                     std::string_view registrar_domain_id,
                                                     std::string_view note) = 0;
  // quoted -> expired / cancelled.
  virtual Result<DomainOrder> MarkExpired(int64_t order_id) = 0;
  virtual Result<DomainOrder> MarkCancelled(int64_t order_id) = 0;
};

// "order:17": the reference of an order's purchase row in the ledger.
std::string OrderReference(int64_t order_id);

}  // namespace depositbot
