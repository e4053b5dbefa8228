#include "db/ledger_report_repository.h"

#include <tuple>
#include <vector>

#include "db/database.h"

namespace depositbot {
namespace {

// Runs `sql` (binding `args` in order) and reads its one row's integer columns into `out`.
Status ReadInts(Database& db, const std::string& sql, const std::vector<int64_t>& args,
                std::vector<int64_t*> out) {
  auto q = db.Prepare(sql);
  if (!q) return q.error();
  for (size_t i = 0; i < args.size(); ++i) q->Bind(static_cast<int>(i + 1), args[i]);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return Error{ErrorCode::kInternal, "an aggregate returned no row"};
  for (size_t i = 0; i < out.size(); ++i) *out[i] = q->ColumnInt(static_cast<int>(i));
  return {};
}

}  // namespace

Result<LedgerStats> LedgerReportRepository::Stats(int64_t day_start, int64_t day_end,
                                                  int64_t adjustments_since) {
  LedgerStats s;
  auto lock = db_.Lock();
  // One snapshot (PostgreSQL: REPEATABLE READ), so the balances and the ledger are compared as
  // of the same moment, not across a deposit confirmed between two statements.
  auto tx = Transaction::Begin(db_, Transaction::Kind::kDeferred);
  if (!tx) return tx.error();
  if (auto st = ReadInts(db_, "SELECT COUNT(*) FROM users", {}, {&s.users}); !st) {
    return st.error();
  }
  if (auto st = ReadInts(db_, "SELECT COALESCE(SUM(balance), 0) FROM user_deposits", {},
                         {&s.balance_sum});
      !st) {
    return st.error();
  }
  if (auto st = ReadInts(db_,
                         "SELECT COALESCE(SUM(amount * direction), 0) FROM deposit_transactions "
                         "WHERE status = 'confirmed'",
                         {}, {&s.ledger_sum});
      !st) {
    return st.error();
  }
  if (auto st = ReadInts(db_,
                         "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM deposit_transactions "
                         "WHERE type = 'deposit' AND status = 'pending'",
                         {}, {&s.pending_deposits, &s.pending_deposit_total});
      !st) {
    return st.error();
  }
  if (auto st = ReadInts(db_,
                         "SELECT COUNT(*) FROM deposit_transactions "
                         "WHERE type = 'adjustment' AND status = 'pending' AND created_at >= ?",
                         {adjustments_since}, {&s.pending_adjustments});
      !st) {
    return st.error();
  }
  const std::string today =
      "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM deposit_transactions "
      "WHERE type = ? AND status = 'confirmed' AND decided_at >= ? AND decided_at < ?";
  for (auto [type, count, total] :
       {std::tuple{TransactionType::kDeposit, &s.deposits_today, &s.deposits_today_total},
        std::tuple{TransactionType::kPurchase, &s.purchases_today, &s.purchases_today_total}}) {
    auto q = db_.Prepare(today);
    if (!q) return q.error();
    q->Bind(1, ToString(type)).Bind(2, day_start).Bind(3, day_end);
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) return Error{ErrorCode::kInternal, "an aggregate returned no row"};
    *count = q->ColumnInt(0);
    *total = q->ColumnInt(1);
  }
  if (auto st = tx->Commit(); !st) return st.error();
  return s;
}

Status LedgerReportRepository::ForEachLedgerRow(
    int64_t from, int64_t to, const std::function<bool(const LedgerExportRow&)>& row) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "SELECT t.id, t.user_id, t.type, t.amount, t.direction, t.status, t.depositor_name, "
      "t.reason, t.reference, t.created_at, t.decided_at, t.decided_by, t.requested_by, "
      "t.decided_via, u.telegram_id, u.display_name "
      "FROM deposit_transactions t JOIN users u ON u.id = t.user_id "
      "WHERE t.created_at >= ? AND t.created_at < ? ORDER BY t.id");
  if (!q) return q.error();
  q->Bind(1, from).Bind(2, to);
  while (true) {
    auto more = q->Step();
    if (!more) return more.error();
    if (!*more) break;
    LedgerExportRow r;
    DepositTransaction& t = r.transaction;
    t.id = q->ColumnInt(0);
    t.user_id = q->ColumnInt(1);
    t.type = ParseTransactionType(q->ColumnText(2)).value_or(TransactionType::kAdjustment);
    t.amount = q->ColumnInt(3);
    t.direction = static_cast<int>(q->ColumnInt(4));
    t.status = ParseTransactionStatus(q->ColumnText(5)).value_or(TransactionStatus::kRejected);
    t.depositor_name = q->ColumnOptionalText(6);
    t.reason = q->ColumnOptionalText(7);
    t.reference = q->ColumnOptionalText(8);
    t.created_at = q->ColumnInt(9);
    t.decided_at = q->ColumnOptionalInt(10);
    t.decided_by = q->ColumnOptionalInt(11);
    t.requested_by = q->ColumnOptionalInt(12);
    t.decided_via = q->ColumnOptionalText(13);
    r.user_telegram_id = q->ColumnInt(14);
    r.user_name = q->ColumnText(15);
    if (!row(r)) break;
  }
  return {};
}

}  // namespace depositbot
