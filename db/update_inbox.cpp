#include "db/update_inbox.h"

#include <mutex>

#include "db/database.h"

namespace depositbot {

Result<bool> UpdateInbox::Receive(int64_t update_id, int64_t chat_id, std::string_view payload) {
  std::lock_guard<std::mutex> lock(db_.mutex());
  auto q = db_.Prepare(
      "INSERT INTO telegram_updates(update_id, chat_id, payload, state, received_at, updated_at) "
      "VALUES (?, ?, ?, 'received', ?, ?) ON CONFLICT(update_id) DO NOTHING");
  if (!q) return q.error();
  int64_t now = clock_.NowSeconds();
  q->Bind(1, update_id).Bind(2, chat_id).Bind(3, payload).Bind(4, now).Bind(5, now);
  if (auto st = q->Run(); !st) return st.error();
  return db_.Changes() == 1;
}

Result<bool> UpdateInbox::Start(int64_t update_id) {
  std::lock_guard<std::mutex> lock(db_.mutex());
  auto q = db_.Prepare(
      "UPDATE telegram_updates SET state = 'started', updated_at = ? "
      "WHERE update_id = ? AND state = 'received'");
  if (!q) return q.error();
  q->Bind(1, clock_.NowSeconds()).Bind(2, update_id);
  if (auto st = q->Run(); !st) return st.error();
  return db_.Changes() == 1;
}

Status UpdateInbox::Finish(int64_t update_id) {
  std::lock_guard<std::mutex> lock(db_.mutex());
  auto q = db_.Prepare(
      "UPDATE telegram_updates SET state = 'done', updated_at = ? "
      "WHERE update_id = ? AND state = 'started'");
  if (!q) return q.error();
  q->Bind(1, clock_.NowSeconds()).Bind(2, update_id);
  return q->Run();
}

Result<UpdateInbox::Recovered> UpdateInbox::Recover() {
  std::lock_guard<std::mutex> lock(db_.mutex());
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  Recovered out;
  auto q = db_.Prepare(
      "SELECT update_id, chat_id, payload, state FROM telegram_updates "
      "WHERE state IN ('received', 'started') ORDER BY update_id");
  if (!q) return q.error();
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    InboxUpdate u{q->ColumnInt(0), q->ColumnInt(1), q->ColumnText(2)};
    (q->ColumnText(3) == "received" ? out.to_handle : out.abandoned).push_back(std::move(u));
  }
  auto mark = db_.Prepare(
      "UPDATE telegram_updates SET state = 'abandoned', updated_at = ? WHERE state = 'started'");
  if (!mark) return mark.error();
  mark->Bind(1, clock_.NowSeconds());
  if (auto st = mark->Run(); !st) return st.error();
  if (auto st = tx->Commit(); !st) return st.error();
  return out;
}

Result<int64_t> UpdateInbox::Prune(int64_t before) {
  std::lock_guard<std::mutex> lock(db_.mutex());
  auto q = db_.Prepare(
      "DELETE FROM telegram_updates WHERE state IN ('done', 'abandoned') AND updated_at < ?");
  if (!q) return q.error();
  q->Bind(1, before);
  if (auto st = q->Run(); !st) return st.error();
  return int64_t{db_.Changes()};
}

}  // namespace depositbot
