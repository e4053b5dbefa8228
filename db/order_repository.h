#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace depositbot {

class Database;

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
// *In(Database&) forms run inside a caller's transaction (e.g. together with
// the debit in DepositRepository::Purchase). Thread-safe like the others.
//
// Leases (DESIGN.md money rule 5): from the debit on, an order is owned by the
// execution that charged it (`owner`, see common/lease_owner.h) until
// `lease_expires_at`; that execution renews the lease while the registrar call
// runs. Every transition of a charged or unknown order names its owner and
// fails with kFailedPrecondition when the lease is held by someone else, so a
// recovery that took over an abandoned order and the original execution can
// never both decide its outcome. Registered and refunded orders hold no lease.
class OrderRepository {
 public:
  OrderRepository(Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  Result<DomainOrder> CreateQuote(int64_t user_id, std::string_view domain, int years,
                                  int64_t price, int64_t registrar_usd_micros,
                                  int64_t premium_usd_micros, int64_t expires_at);
  Result<DomainOrder> Get(int64_t order_id);
  // Newest first, limit clamped to 1..100.
  Result<std::vector<DomainOrder>> ForUser(int64_t user_id, int limit);
  // Orders in `state` last updated at or before `updated_before`, oldest first.
  Result<std::vector<DomainOrder>> InState(DomainOrder::State state, int64_t updated_before);

  // quoted -> charged, recording the purchase row of reference "order:<id>" and
  // giving `owner` the lease until `lease_expires_at`.
  Status MarkChargedIn(Database& db, int64_t order_id, std::string_view owner,
                       int64_t lease_expires_at);
  // Extends `owner`'s lease; kFailedPrecondition when it is no longer theirs.
  Status RenewLease(int64_t order_id, std::string_view owner, int64_t lease_expires_at);
  // Records, durably and before the create is sent, that it is about to be;
  // kFailedPrecondition (send nothing) when `owner` lost the lease.
  Status MarkCreateSent(int64_t order_id, std::string_view owner, int64_t lease_expires_at);
  // Recovery takes a charged or unknown order whose lease expired, was never
  // taken, or belongs to `gone_owner` (an owner known to have died). False when
  // another execution holds it.
  Result<bool> TakeLease(int64_t order_id, std::string_view owner, int64_t lease_expires_at,
                         const std::optional<std::string>& gone_owner);
  // Gives the lease up without deciding the order (it stays for a later recovery).
  Status ReleaseLease(int64_t order_id, std::string_view owner);

  // charged|unknown -> refunded, recording the refund row of the purchase.
  Status MarkRefundedIn(Database& db, int64_t order_id, std::string_view owner,
                        std::string_view failure);
  // charged|unknown -> registered.
  Result<DomainOrder> MarkRegistered(int64_t order_id, std::string_view owner,
                                     std::string_view registrar_order_id,
                                     std::string_view registrar_domain_id);
  // charged -> unknown, releasing the lease so recovery can take the order.
  Result<DomainOrder> MarkUnknown(int64_t order_id, std::string_view owner, std::string_view why);
  // A registrar create that succeeded on an order already refunded: recorded on
  // the order (registrar ids and `note`), never dropped. The state stays refunded.
  Result<DomainOrder> RecordLateRegistration(int64_t order_id, std::string_view registrar_order_id,
                                             std::string_view registrar_domain_id,
                                             std::string_view note);
  // quoted -> expired / cancelled.
  Result<DomainOrder> MarkExpired(int64_t order_id);
  Result<DomainOrder> MarkCancelled(int64_t order_id);

 private:
  Result<DomainOrder> Transition(int64_t order_id, std::initializer_list<DomainOrder::State> from,
                                 DomainOrder::State to, const std::optional<std::string>& owner,
                                 std::optional<std::string> a, std::optional<std::string> b,
                                 std::optional<std::string> failure);
  Database& db_;
  const Clock& clock_;
};

// "order:17": the reference of an order's purchase row in the ledger.
std::string OrderReference(int64_t order_id);

}  // namespace depositbot
