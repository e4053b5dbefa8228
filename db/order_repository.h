#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "db/order_store.h"

namespace depositbot {

class Database;

// The OrderStore on SQLite: each transition is one conditional UPDATE. Thread-safe like the
// other repositories.
class OrderRepository final : public OrderStore {
 public:
  OrderRepository(Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  Result<DomainOrder> CreateQuote(int64_t user_id, std::string_view domain, int years,
                                  int64_t price, int64_t registrar_usd_micros,
                                  int64_t premium_usd_micros, int64_t expires_at) override;
  Result<DomainOrder> Get(int64_t order_id) override;
  Result<std::vector<DomainOrder>> ForUser(int64_t user_id, int limit) override;
  Result<std::vector<DomainOrder>> InState(DomainOrder::State state,
                                           int64_t updated_before) override;

  // `tx` must be a SqliteStoreTransaction (std::logic_error otherwise).
  Status MarkChargedIn(StoreTransaction& tx, int64_t order_id, std::string_view owner,
                       int64_t lease_expires_at) override;
  Status RenewLease(int64_t order_id, std::string_view owner, int64_t lease_expires_at) override;
  Status MarkCreateSent(int64_t order_id, std::string_view owner,
                        int64_t lease_expires_at) override;
  Result<bool> TakeLease(int64_t order_id, std::string_view owner, int64_t lease_expires_at,
                         const std::optional<std::string>& gone_owner) override;
  Status ReleaseLease(int64_t order_id, std::string_view owner) override;

  // `tx` must be a SqliteStoreTransaction (std::logic_error otherwise).
  Status MarkRefundedIn(StoreTransaction& tx, int64_t order_id, std::string_view owner,
                        std::string_view failure) override;
  Result<DomainOrder> MarkRegistered(int64_t order_id, std::string_view owner,
                                     std::string_view registrar_order_id,
                                     std::string_view registrar_domain_id) override;
  Result<DomainOrder> MarkUnknown(int64_t order_id, std::string_view owner,
                                  std::string_view why) override;
  Result<DomainOrder> RecordLateRegistration(int64_t order_id, std::string_view registrar_order_id,
                                             std::string_view registrar_domain_id,
                                             std::string_view note) override;
  Result<DomainOrder> MarkExpired(int64_t order_id) override;
  Result<DomainOrder> MarkCancelled(int64_t order_id) override;

 private:
  Result<DomainOrder> Transition(int64_t order_id, std::initializer_list<DomainOrder::State> from,
                                 DomainOrder::State to, const std::optional<std::string>& owner,
                                 std::optional<std::string> a, std::optional<std::string> b,
                                 std::optional<std::string> failure);
  Database& db_;
  const Clock& clock_;
};

}  // namespace depositbot
