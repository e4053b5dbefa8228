#include "db/alert_outbox.h"

#include <algorithm>
#include <mutex>

#include "db/database.h"

namespace depositbot {
namespace {

// "WITH admins(admin_id) AS (VALUES (?), (?), ...)" for a non-empty set, bound from
// `first_index` on; the ids are bound, never spliced into the SQL.
std::string AdminsCte(size_t n) {
  std::string sql = "WITH admins(admin_id) AS (VALUES ";
  for (size_t i = 0; i < n; ++i) sql += i == 0 ? "(CAST(? AS BIGINT))" : ", (CAST(? AS BIGINT))";
  return sql + ") ";
}

int BindAdmins(Statement& q, const std::set<int64_t>& admins, int first_index) {
  int i = first_index;
  for (int64_t a : admins) q.Bind(i++, a);
  return i;
}

}  // namespace

Result<bool> AlertOutbox::Enqueue(std::string_view key, std::string_view text) {
  auto lock = db_.Lock();
  return EnqueueIn(db_, key, text);
}

Result<bool> AlertOutbox::EnqueueIn(Database& db, std::string_view key, std::string_view text) {
  auto q = db.Prepare(
      "INSERT INTO admin_alerts(alert_key, text, created_at) VALUES (?, ?, ?) "
      "ON CONFLICT(alert_key) DO NOTHING");
  if (!q) return q.error();
  q->Bind(1, key).Bind(2, text).Bind(3, clock_.NowSeconds());
  if (auto st = q->Run(); !st) return st.error();
  return db.Changes() == 1;
}

int64_t AlertOutbox::RetryDelaySeconds(int failures) const {
  int64_t delay = std::max<int64_t>(options_.first_retry_seconds, 1);
  int64_t cap = std::max(options_.max_retry_seconds, delay);
  for (int i = 1; i < failures && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

Result<std::vector<AlertDelivery>> AlertOutbox::Due(const std::set<int64_t>& admins, int limit) {
  std::vector<AlertDelivery> due;
  if (admins.empty() || limit <= 0) return due;
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      AdminsCte(admins.size()) +
      "SELECT a.id, a.alert_key, a.text, a.created_at, ad.admin_id, COALESCE(d.attempts, 0) "
      "FROM admin_alerts a CROSS JOIN admins ad "
      "LEFT JOIN admin_alert_deliveries d ON d.alert_id = a.id AND d.admin_id = ad.admin_id "
      "WHERE a.created_at >= ? AND (d.alert_id IS NULL OR "
      "  (d.delivered_at IS NULL AND d.next_attempt_at <= ?)) "
      "ORDER BY a.id, ad.admin_id LIMIT ?");
  if (!q) return q.error();
  int64_t now = clock_.NowSeconds();
  int i = BindAdmins(*q, admins, 1);
  q->Bind(i, now - options_.retry_window_seconds).Bind(i + 1, now).Bind(i + 2, int64_t{limit});
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    AlertDelivery d;
    d.alert.id = q->ColumnInt(0);
    d.alert.key = q->ColumnText(1);
    d.alert.text = q->ColumnText(2);
    d.alert.created_at = q->ColumnInt(3);
    d.admin_id = q->ColumnInt(4);
    d.attempts = static_cast<int>(q->ColumnInt(5));
    due.push_back(std::move(d));
  }
  return due;
}

Result<bool> AlertOutbox::Claim(int64_t alert_id, int64_t admin_id) {
  auto lock = db_.Lock();
  int64_t now = clock_.NowSeconds();
  // One statement: the insert (never tried) or the conditional update (due again) takes the
  // pair; a pair another process claimed or delivered meanwhile changes nothing.
  auto q = db_.Prepare(
      "INSERT INTO admin_alert_deliveries(alert_id, admin_id, attempts, next_attempt_at) "
      "VALUES (?, ?, 0, ?) ON CONFLICT(alert_id, admin_id) DO UPDATE SET "
      "next_attempt_at = excluded.next_attempt_at "
      "WHERE admin_alert_deliveries.delivered_at IS NULL AND "
      "admin_alert_deliveries.next_attempt_at <= ?");
  if (!q) return q.error();
  q->Bind(1, alert_id).Bind(2, admin_id).Bind(3, now + options_.claim_seconds).Bind(4, now);
  if (auto st = q->Run(); !st) return st.error();
  return db_.Changes() == 1;
}

Status AlertOutbox::MarkDelivered(int64_t alert_id, int64_t admin_id) {
  auto lock = db_.Lock();
  int64_t now = clock_.NowSeconds();
  auto q = db_.Prepare(
      "INSERT INTO admin_alert_deliveries(alert_id, admin_id, attempts, delivered_at, "
      "next_attempt_at, last_error) VALUES (?, ?, 0, ?, ?, NULL) "
      "ON CONFLICT(alert_id, admin_id) DO UPDATE SET "
      "delivered_at = COALESCE(admin_alert_deliveries.delivered_at, excluded.delivered_at)");
  if (!q) return q.error();
  q->Bind(1, alert_id).Bind(2, admin_id).Bind(3, now).Bind(4, now);
  return q->Run();
}

Status AlertOutbox::MarkFailed(int64_t alert_id, int64_t admin_id, std::string_view error) {
  auto lock = db_.Lock();
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  int failures = 1;
  {
    auto q = db_.Prepare(
        "SELECT attempts, delivered_at IS NOT NULL FROM admin_alert_deliveries "
        "WHERE alert_id = ? AND admin_id = ?");
    if (!q) return q.error();
    q->Bind(1, alert_id).Bind(2, admin_id);
    auto row = q->Step();
    if (!row) return row.error();
    if (*row) {
      if (q->ColumnInt(1) != 0) return Status::Ok();  // delivered: never again
      failures = static_cast<int>(std::min<int64_t>(q->ColumnInt(0), 1 << 20)) + 1;
    }
  }
  auto q = db_.Prepare(
      "INSERT INTO admin_alert_deliveries(alert_id, admin_id, attempts, next_attempt_at, "
      "last_error) VALUES (?, ?, ?, ?, ?) ON CONFLICT(alert_id, admin_id) DO UPDATE SET "
      "attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, "
      "last_error = excluded.last_error");
  if (!q) return q.error();
  q->Bind(1, alert_id)
      .Bind(2, admin_id)
      .Bind(3, int64_t{failures})
      .Bind(4, clock_.NowSeconds() + RetryDelaySeconds(failures))
      .Bind(5, error);
  if (auto st = q->Run(); !st) return st;
  return tx->Commit();
}

Result<int64_t> AlertOutbox::UndeliveredCount(const std::set<int64_t>& admins) {
  auto lock = db_.Lock();
  if (admins.empty()) {
    auto q = db_.Prepare("SELECT COUNT(*) FROM admin_alerts");
    if (!q) return q.error();
    auto row = q->Step();
    if (!row) return row.error();
    return q->ColumnInt(0);
  }
  auto q = db_.Prepare(AdminsCte(admins.size()) +
                       "SELECT COUNT(*) FROM admin_alerts a WHERE NOT EXISTS ("
                       "  SELECT 1 FROM admin_alert_deliveries d JOIN admins ad "
                       "  ON ad.admin_id = d.admin_id "
                       "  WHERE d.alert_id = a.id AND d.delivered_at IS NOT NULL)");
  if (!q) return q.error();
  BindAdmins(*q, admins, 1);
  auto row = q->Step();
  if (!row) return row.error();
  return q->ColumnInt(0);
}

Result<bool> AlertOutbox::ReachedNoAdmin(int64_t alert_id, const std::set<int64_t>& admins) {
  if (admins.empty()) return false;
  auto lock = db_.Lock();
  // Over the admins: how many were tried and failed, how many got it.
  auto q = db_.Prepare(AdminsCte(admins.size()) +
                       "SELECT COALESCE(SUM(CASE WHEN d.delivered_at IS NULL AND d.attempts > 0 "
                       "                    THEN 1 ELSE 0 END), 0), "
                       "       COALESCE(SUM(CASE WHEN d.delivered_at IS NOT NULL THEN 1 ELSE 0 "
                       "                    END), 0) "
                       "FROM admins ad JOIN admin_alert_deliveries d "
                       "ON d.admin_id = ad.admin_id AND d.alert_id = ?");
  if (!q) return q.error();
  int i = BindAdmins(*q, admins, 1);
  q->Bind(i, alert_id);
  auto row = q->Step();
  if (!row) return row.error();
  return q->ColumnInt(1) == 0 && q->ColumnInt(0) == static_cast<int64_t>(admins.size());
}

}  // namespace depositbot
