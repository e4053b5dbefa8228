#include "db/order_repository.h"

#include <algorithm>
#include <mutex>

#include "db/database.h"
#include "db/sqlite_store_transaction.h"

namespace depositbot {
namespace {

constexpr const char* kSelectOrder =
    "SELECT id, user_id, domain, years, price, registrar_usd_micros, premium_usd_micros, state, "
    "quote_expires_at, purchase_transaction_id, refund_transaction_id, registrar_order_id, "
    "registrar_domain_id, failure, created_at, updated_at, lease_owner, lease_expires_at, "
    "create_sent_at FROM domain_orders ";

std::optional<DomainOrder::State> ParseState(std::string_view s) {
  using S = DomainOrder::State;
  for (S st : {S::kQuoted, S::kCharged, S::kRegistered, S::kRefunded, S::kUnknown, S::kExpired,
               S::kCancelled}) {
    if (ToString(st) == s) return st;
  }
  return std::nullopt;
}

DomainOrder RowToOrder(const Statement& q) {
  DomainOrder o;
  o.id = q.ColumnInt(0);
  o.user_id = q.ColumnInt(1);
  o.domain = q.ColumnText(2);
  o.years = static_cast<int>(q.ColumnInt(3));
  o.price = q.ColumnInt(4);
  o.registrar_usd_micros = q.ColumnInt(5);
  o.premium_usd_micros = q.ColumnInt(6);
  o.state = ParseState(q.ColumnText(7)).value_or(DomainOrder::State::kUnknown);
  o.quote_expires_at = q.ColumnInt(8);
  o.purchase_transaction_id = q.ColumnOptionalInt(9);
  o.refund_transaction_id = q.ColumnOptionalInt(10);
  o.registrar_order_id = q.ColumnOptionalText(11);
  o.registrar_domain_id = q.ColumnOptionalText(12);
  o.failure = q.ColumnOptionalText(13);
  o.created_at = q.ColumnInt(14);
  o.updated_at = q.ColumnInt(15);
  o.lease_owner = q.ColumnOptionalText(16);
  o.lease_expires_at = q.ColumnOptionalInt(17);
  o.create_sent_at = q.ColumnOptionalInt(18);
  return o;
}

Result<std::vector<DomainOrder>> ReadAll(Statement& q) {
  std::vector<DomainOrder> out;
  while (true) {
    auto row = q.Step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(RowToOrder(q));
  }
}

Result<DomainOrder> ReadOrder(Database& db, int64_t id) {
  auto q = db.Prepare(std::string(kSelectOrder) + "WHERE id = ?");
  if (!q) return q.error();
  q->Bind(1, id);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return Error::NotFound("there is no order #" + std::to_string(id));
  return RowToOrder(*q);
}

Error NotInState(Database& db, int64_t id, std::string_view wanted) {
  auto o = ReadOrder(db, id);
  if (!o) return o.error();
  return Error::FailedPrecondition("order #" + std::to_string(id) + " is " +
                                   std::string(ToString(o->state)) + ", not " +
                                   std::string(wanted) + "; nothing was changed");
}

}  // namespace

Result<DomainOrder> OrderRepository::CreateQuote(int64_t user_id, std::string_view domain,
                                                 int years, int64_t price,
                                                 int64_t registrar_usd_micros,
                                                 int64_t premium_usd_micros, int64_t expires_at) {
  if (price <= 0 || registrar_usd_micros <= 0) return Error::Invalid("a quote needs a price");
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "INSERT INTO domain_orders(user_id, domain, years, price, registrar_usd_micros, "
      "premium_usd_micros, state, quote_expires_at, created_at, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, 'quoted', ?, ?, ?)");
  if (!q) return q.error();
  int64_t now = clock_.NowSeconds();
  q->Bind(1, user_id)
      .Bind(2, domain)
      .Bind(3, int64_t{years})
      .Bind(4, price)
      .Bind(5, registrar_usd_micros)
      .Bind(6, premium_usd_micros)
      .Bind(7, expires_at)
      .Bind(8, now)
      .Bind(9, now);
  if (auto st = q->Run(); !st) return st.error();
  return ReadOrder(db_, db_.LastInsertRowId());
}

Result<DomainOrder> OrderRepository::Get(int64_t order_id) {
  auto lock = db_.Lock();
  return ReadOrder(db_, order_id);
}

Result<std::vector<DomainOrder>> OrderRepository::ForUser(int64_t user_id, int limit) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(std::string(kSelectOrder) + "WHERE user_id = ? ORDER BY id DESC LIMIT ?");
  if (!q) return q.error();
  q->Bind(1, user_id).Bind(2, int64_t{std::clamp(limit, 1, 100)});
  return ReadAll(*q);
}

Result<std::vector<DomainOrder>> OrderRepository::InState(DomainOrder::State state,
                                                          int64_t updated_before) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(std::string(kSelectOrder) +
                       "WHERE state = ? AND updated_at <= ? ORDER BY id ASC");
  if (!q) return q.error();
  q->Bind(1, ToString(state)).Bind(2, updated_before);
  return ReadAll(*q);
}

Status OrderRepository::MarkChargedIn(StoreTransaction& tx, int64_t order_id,
                                      std::string_view owner, int64_t lease_expires_at) {
  Database& db = SqliteStoreTransaction::Of(tx);
  auto q = db.Prepare(
      "UPDATE domain_orders SET state = 'charged', updated_at = ?, purchase_transaction_id = "
      "(SELECT id FROM deposit_transactions WHERE type = 'purchase' AND reference = ?), "
      "lease_owner = ?, lease_expires_at = ? "
      "WHERE id = ? AND state = 'quoted'");
  if (!q) return q.error();
  q->Bind(1, clock_.NowSeconds())
      .Bind(2, std::string_view(OrderReference(order_id)))
      .Bind(3, owner)
      .Bind(4, lease_expires_at)
      .Bind(5, order_id);
  if (auto st = q->Run(); !st) {
    if (st.code() == ErrorCode::kInvalid) {
      // idx_orders_live_domain: another order for this name is being bought or is bought.
      return Error::FailedPrecondition(
          "this domain is already being bought in another order; nothing was charged");
    }
    return st;
  }
  if (db.Changes() != 1) return NotInState(db, order_id, "a quote");
  return Status::Ok();
}

Status OrderRepository::MarkRefundedIn(StoreTransaction& tx, int64_t order_id,
                                       std::string_view owner, std::string_view failure) {
  Database& db = SqliteStoreTransaction::Of(tx);
  auto q = db.Prepare(
      "UPDATE domain_orders SET state = 'refunded', updated_at = ?, failure = ?, "
      "refund_transaction_id = (SELECT id FROM deposit_transactions WHERE type = 'refund' AND "
      "reference = 'purchase:' || domain_orders.purchase_transaction_id), "
      "lease_owner = NULL, lease_expires_at = NULL "
      "WHERE id = ? AND state IN ('charged', 'unknown') AND lease_owner = ?");
  if (!q) return q.error();
  q->Bind(1, clock_.NowSeconds()).Bind(2, failure).Bind(3, order_id).Bind(4, owner);
  if (auto st = q->Run(); !st) return st;
  if (db.Changes() != 1) return NotInState(db, order_id, "charged or unknown under this lease");
  return Status::Ok();
}

Status OrderRepository::RenewLease(int64_t order_id, std::string_view owner,
                                   int64_t lease_expires_at) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "UPDATE domain_orders SET lease_expires_at = ? "
      "WHERE id = ? AND lease_owner = ? AND state IN ('charged', 'unknown')");
  if (!q) return q.error();
  q->Bind(1, lease_expires_at).Bind(2, order_id).Bind(3, owner);
  if (auto st = q->Run(); !st) return st;
  if (db_.Changes() != 1) return NotInState(db_, order_id, "leased to this execution");
  return Status::Ok();
}

Status OrderRepository::MarkCreateSent(int64_t order_id, std::string_view owner,
                                       int64_t lease_expires_at) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "UPDATE domain_orders SET create_sent_at = ?, lease_expires_at = ? "
      "WHERE id = ? AND lease_owner = ? AND state = 'charged'");
  if (!q) return q.error();
  q->Bind(1, clock_.NowSeconds()).Bind(2, lease_expires_at).Bind(3, order_id).Bind(4, owner);
  if (auto st = q->Run(); !st) return st;
  if (db_.Changes() != 1) return NotInState(db_, order_id, "charged under this lease");
  return Status::Ok();
}

Result<bool> OrderRepository::TakeLease(int64_t order_id, std::string_view owner,
                                        int64_t lease_expires_at,
                                        const std::optional<std::string>& gone_owner) {
  auto lock = db_.Lock();
  // One conditional UPDATE: of two recoveries racing for the order, one wins.
  auto q = db_.Prepare(
      "UPDATE domain_orders SET lease_owner = ?, lease_expires_at = ? "
      "WHERE id = ? AND state IN ('charged', 'unknown') AND (lease_owner IS NULL OR "
      "lease_expires_at IS NULL OR lease_expires_at <= ? OR lease_owner = ?)");
  if (!q) return q.error();
  q->Bind(1, owner)
      .Bind(2, lease_expires_at)
      .Bind(3, order_id)
      .Bind(4, clock_.NowSeconds())
      .Bind(5, gone_owner);
  if (auto st = q->Run(); !st) return st.error();
  return db_.Changes() == 1;
}

Status OrderRepository::ReleaseLease(int64_t order_id, std::string_view owner) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "UPDATE domain_orders SET lease_owner = NULL, lease_expires_at = NULL "
      "WHERE id = ? AND lease_owner = ?");
  if (!q) return q.error();
  q->Bind(1, order_id).Bind(2, owner);
  return q->Run();
}

Result<DomainOrder> OrderRepository::RecordLateRegistration(int64_t order_id,
                                                            std::string_view registrar_order_id,
                                                            std::string_view registrar_domain_id,
                                                            std::string_view note) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "UPDATE domain_orders SET updated_at = ?, registrar_order_id = ?, registrar_domain_id = ?, "
      "failure = ? WHERE id = ? AND state = 'refunded'");
  if (!q) return q.error();
  q->Bind(1, clock_.NowSeconds())
      .Bind(2, registrar_order_id)
      .Bind(3, registrar_domain_id)
      .Bind(4, note)
      .Bind(5, order_id);
  if (auto st = q->Run(); !st) return st.error();
  if (db_.Changes() != 1) return NotInState(db_, order_id, "refunded");
  return ReadOrder(db_, order_id);
}

Result<DomainOrder> OrderRepository::Transition(
    int64_t order_id, std::initializer_list<DomainOrder::State> from, DomainOrder::State to,
    const std::optional<std::string>& owner, std::optional<std::string> registrar_order_id,
    std::optional<std::string> registrar_domain_id, std::optional<std::string> failure) {
  auto lock = db_.Lock();
  std::string states, wanted;
  for (auto s : from) {
    states += std::string(states.empty() ? "" : ", ") + "'" + std::string(ToString(s)) + "'";
    wanted += std::string(wanted.empty() ? "" : " or ") + std::string(ToString(s));
  }
  // A transition under a lease releases it: the order is decided, or (unknown)
  // handed to recovery.
  std::string lease_sql = owner ? ", lease_owner = NULL, lease_expires_at = NULL" : "";
  std::string owner_sql = owner ? " AND lease_owner = ?" : "";
  if (owner) wanted += " under this lease";
  auto q = db_.Prepare(
      "UPDATE domain_orders SET state = ?, updated_at = ?, "
      "registrar_order_id = COALESCE(?, registrar_order_id), "
      "registrar_domain_id = COALESCE(?, registrar_domain_id), "
      "failure = COALESCE(?, failure)" +
      lease_sql + " WHERE id = ? AND state IN (" + states + ")" + owner_sql);
  if (!q) return q.error();
  q->Bind(1, ToString(to))
      .Bind(2, clock_.NowSeconds())
      .Bind(3, registrar_order_id)
      .Bind(4, registrar_domain_id)
      .Bind(5, failure)
      .Bind(6, order_id);
  if (owner) q->Bind(7, std::string_view(*owner));
  if (auto st = q->Run(); !st) return st.error();
  if (db_.Changes() != 1) return NotInState(db_, order_id, wanted);
  return ReadOrder(db_, order_id);
}

Result<DomainOrder> OrderRepository::MarkRegistered(int64_t order_id, std::string_view owner,
                                                    std::string_view registrar_order_id,
                                                    std::string_view registrar_domain_id) {
  return Transition(order_id, {DomainOrder::State::kCharged, DomainOrder::State::kUnknown},
                    DomainOrder::State::kRegistered, std::string(owner),
                    std::string(registrar_order_id), std::string(registrar_domain_id),
                    std::nullopt);
}

Result<DomainOrder> OrderRepository::MarkUnknown(int64_t order_id, std::string_view owner,
                                                 std::string_view why) {
  return Transition(order_id, {DomainOrder::State::kCharged}, DomainOrder::State::kUnknown,
                    std::string(owner), std::nullopt, std::nullopt, std::string(why));
}

Result<DomainOrder> OrderRepository::MarkExpired(int64_t order_id) {
  return Transition(order_id, {DomainOrder::State::kQuoted}, DomainOrder::State::kExpired,
                    std::nullopt, std::nullopt, std::nullopt, std::nullopt);
}

Result<DomainOrder> OrderRepository::MarkCancelled(int64_t order_id) {
  return Transition(order_id, {DomainOrder::State::kQuoted}, DomainOrder::State::kCancelled,
                    std::nullopt, std::nullopt, std::nullopt, std::nullopt);
}

}  // namespace depositbot
