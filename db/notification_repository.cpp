#include "db/notification_repository.h"

#include <mutex>

#include "db/database.h"

namespace depositbot {

Status NotificationRepository::Save(int64_t transaction_id, int64_t chat_id, int64_t message_id) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "INSERT INTO deposit_notifications(transaction_id, chat_id, message_id) VALUES (?, ?, ?) "
      "ON CONFLICT(transaction_id, chat_id) DO UPDATE SET message_id = excluded.message_id");
  if (!q) return q.error();
  q->Bind(1, transaction_id).Bind(2, chat_id).Bind(3, message_id);
  return q->Run();
}

Result<std::vector<std::pair<int64_t, int64_t>>> NotificationRepository::ForTransaction(
    int64_t transaction_id) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "SELECT chat_id, message_id FROM deposit_notifications WHERE transaction_id = ? "
      "ORDER BY chat_id");
  if (!q) return q.error();
  q->Bind(1, transaction_id);
  std::vector<std::pair<int64_t, int64_t>> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.emplace_back(q->ColumnInt(0), q->ColumnInt(1));
  }
  return out;
}

}  // namespace depositbot
