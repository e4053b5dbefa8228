#include "db/bank_notification_repository.h"

#include <algorithm>

#include "common/log.h"
#include "db/database.h"
#include "db/sqlite_store_transaction.h"

namespace depositbot {
namespace {

constexpr const char* kSelect =
    "SELECT id, reference, amount, currency, depositor_name, depositor_key, received_at, "
    "recorded_at, state, transaction_id, decided_by, decided_at, body FROM bank_notifications ";

BankNotification::State ParseState(const std::string& s) {
  for (auto state : {BankNotification::State::kUnmatched, BankNotification::State::kAmbiguous,
                     BankNotification::State::kMatched}) {
    if (ToString(state) == s) return state;
  }
  return BankNotification::State::kIgnored;  // the CHECK constraint admits nothing else
}

BankNotification RowToNotification(const Statement& q) {
  BankNotification n;
  n.id = q.ColumnInt(0);
  n.reference = q.ColumnText(1);
  n.amount = q.ColumnInt(2);
  n.currency = q.ColumnText(3);
  n.depositor_name = q.ColumnText(4);
  n.depositor_key = q.ColumnText(5);
  n.received_at = q.ColumnInt(6);
  n.recorded_at = q.ColumnInt(7);
  n.state = ParseState(q.ColumnText(8));
  n.transaction_id = q.ColumnOptionalInt(9);
  n.decided_by = q.ColumnOptionalInt(10);
  n.decided_at = q.ColumnOptionalInt(11);
  n.body = q.ColumnText(12);
  return n;
}

// The matching lock: the caller's Session (so the stores it calls meanwhile share the
// connection) plus, on PostgreSQL, a session advisory lock on that connection. A transaction-
// scoped lock cannot be used: the match spans the search and the confirm's own transaction.
// SQLite needs nothing more: its write lock serialises the commits, and each side commits its
// own row before it searches for the other's.
class SessionMatchLock final : public BankMatchLock {
 public:
  SessionMatchLock(Database& db, Database::Session session)
      : db_(db), session_(std::move(session)) {}
  ~SessionMatchLock() override {
    if (db_.backend() != Database::Backend::kPostgres) return;
    if (auto st = db_.Exec("SELECT pg_advisory_unlock(hashtext('depositbot.bank_match'))"); !st) {
      // The connection is broken; the server released the lock with it.
      Log(LogLevel::kWarn, "bank_feed.unlock_failed", {{"error", st.error().message}});
    }
  }

 private:
  Database& db_;
  Database::Session session_;
};

}  // namespace

Result<BankNotification> BankNotificationRepository::GetLocked(int64_t id) {
  auto q = db_.Prepare(std::string(kSelect) + "WHERE id = ?");
  if (!q) return q.error();
  q->Bind(1, id);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return Error::NotFound("there is no bank notification #" + std::to_string(id));
  return RowToNotification(*q);
}

Result<BankNotification> BankNotificationRepository::Get(int64_t id) {
  auto lock = db_.Lock();
  return GetLocked(id);
}

Error BankNotificationRepository::NotOpen(int64_t id) {
  auto n = GetLocked(id);
  if (!n) return n.error();
  std::string what =
      "bank notification #" + std::to_string(id) + " is already " + std::string(ToString(n->state));
  if (n->transaction_id) what += " with deposit #" + std::to_string(*n->transaction_id);
  return Error::FailedPrecondition(what + "; nothing was changed");
}

Result<std::pair<BankNotification, bool>> BankNotificationRepository::Record(
    const BankNotification& n) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "INSERT INTO bank_notifications(reference, amount, currency, depositor_name, "
      "depositor_key, received_at, recorded_at, state, body) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, 'unmatched', ?) ON CONFLICT(reference) DO NOTHING");
  if (!q) return q.error();
  q->Bind(1, std::string_view(n.reference))
      .Bind(2, n.amount)
      .Bind(3, std::string_view(n.currency))
      .Bind(4, std::string_view(n.depositor_name))
      .Bind(5, std::string_view(n.depositor_key))
      .Bind(6, n.received_at)
      .Bind(7, clock_.NowSeconds())
      .Bind(8, std::string_view(n.body));
  if (auto st = q->Run(); !st) return st.error();
  const bool inserted = db_.Changes() == 1;
  auto find = db_.Prepare(std::string(kSelect) + "WHERE reference = ?");
  if (!find) return find.error();
  find->Bind(1, std::string_view(n.reference));
  auto row = find->Step();
  if (!row) return row.error();
  if (!*row) return Error::Internal("bank notification " + n.reference + " vanished");
  return std::make_pair(RowToNotification(*find), inserted);
}

Result<std::vector<BankNotification>> BankNotificationRepository::Unmatched(
    std::string_view currency, std::optional<int64_t> amount, int limit) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(std::string(kSelect) + "WHERE state = 'unmatched' AND currency = ? AND " +
                       (amount ? "amount = ? " : "? = 0 ") + "ORDER BY id DESC LIMIT ?");
  if (!q) return q.error();
  q->Bind(1, currency).Bind(2, amount.value_or(0)).Bind(3, int64_t{std::clamp(limit, 1, 100)});
  std::vector<BankNotification> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(RowToNotification(*q));
  }
  return out;
}

Status BankNotificationRepository::MarkAmbiguous(int64_t id) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "UPDATE bank_notifications SET state = 'ambiguous' WHERE id = ? AND state = 'unmatched'");
  if (!q) return q.error();
  q->Bind(1, id);
  if (auto st = q->Run(); !st) return st;
  if (db_.Changes() != 1) return NotOpen(id);
  return Status::Ok();
}

Result<BankNotification> BankNotificationRepository::Ignore(int64_t id, int64_t admin_telegram_id) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "UPDATE bank_notifications SET state = 'ignored', decided_by = ?, decided_at = ? "
      "WHERE id = ? AND state IN ('unmatched', 'ambiguous')");
  if (!q) return q.error();
  q->Bind(1, admin_telegram_id).Bind(2, clock_.NowSeconds()).Bind(3, id);
  if (auto st = q->Run(); !st) return st.error();
  if (db_.Changes() != 1) return NotOpen(id);
  return GetLocked(id);
}

Status BankNotificationRepository::MarkMatchedIn(StoreTransaction& tx, int64_t id,
                                                 int64_t transaction_id,
                                                 std::optional<int64_t> admin_telegram_id) {
  Database& db = SqliteStoreTransaction::Of(tx);
  auto q = db.Prepare(
      "UPDATE bank_notifications SET state = 'matched', transaction_id = ?, decided_by = ?, "
      "decided_at = ? WHERE id = ? AND state IN ('unmatched', 'ambiguous')");
  if (!q) return q.error();
  q->Bind(1, transaction_id).Bind(2, admin_telegram_id).Bind(3, clock_.NowSeconds()).Bind(4, id);
  if (auto st = q->Run(); !st) {
    // idx_bank_notifications_transaction: the deposit was matched by another notice.
    if (st.code() == ErrorCode::kInvalid) {
      return Error::FailedPrecondition("deposit #" + std::to_string(transaction_id) +
                                       " is already matched with another bank notification");
    }
    return st;
  }
  if (db.Changes() != 1) return NotOpen(id);
  return Status::Ok();
}

Status BankNotificationRepository::SaveMessage(int64_t id, int64_t chat_id, int64_t message_id) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "INSERT INTO bank_notification_messages(notification_id, chat_id, message_id) "
      "VALUES (?, ?, ?) ON CONFLICT(notification_id, chat_id) DO UPDATE SET "
      "message_id = excluded.message_id");
  if (!q) return q.error();
  q->Bind(1, id).Bind(2, chat_id).Bind(3, message_id);
  return q->Run();
}

Result<std::vector<std::pair<int64_t, int64_t>>> BankNotificationRepository::Messages(int64_t id) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "SELECT chat_id, message_id FROM bank_notification_messages WHERE notification_id = ? "
      "ORDER BY chat_id");
  if (!q) return q.error();
  q->Bind(1, id);
  std::vector<std::pair<int64_t, int64_t>> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.emplace_back(q->ColumnInt(0), q->ColumnInt(1));
  }
  return out;
}

Result<std::unique_ptr<BankMatchLock>> BankNotificationRepository::LockMatching() {
  auto session = db_.Lock();
  if (db_.backend() == Database::Backend::kPostgres) {
    if (auto st = db_.Exec("SELECT pg_advisory_lock(hashtext('depositbot.bank_match'))"); !st) {
      return st.error();
    }
  }
  return std::unique_ptr<BankMatchLock>(new SessionMatchLock(db_, std::move(session)));
}

}  // namespace depositbot
