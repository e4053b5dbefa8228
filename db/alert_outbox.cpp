#include "db/alert_outbox.h"

#include <mutex>

#include "db/database.h"

namespace depositbot {

Result<bool> AlertOutbox::Enqueue(std::string_view key, std::string_view text) {
  std::lock_guard<std::mutex> lock(db_.mutex());
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

}  // namespace depositbot
