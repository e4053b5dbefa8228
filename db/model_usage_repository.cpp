#include "db/model_usage_repository.h"

#include <mutex>

#include "db/database.h"

namespace depositbot {

Result<int64_t> ModelUsageRepository::TokensOn(int64_t user_id, std::string_view day) {
  auto lock = db_.Lock();
  auto q = db_.Prepare("SELECT tokens FROM model_usage WHERE user_id = ? AND day = ?");
  if (!q) return q.error();
  q->Bind(1, user_id).Bind(2, day);
  auto row = q->Step();
  if (!row) return row.error();
  return *row ? q->ColumnInt(0) : int64_t{0};
}

Status ModelUsageRepository::AddInTransaction(Database& db, const ModelUsage& usage, int64_t now) {
  if (usage.tokens == 0) return Status::Ok();
  if (usage.tokens < 0) return Error::Invalid("model usage cannot be negative");
  auto q = db.Prepare(
      "INSERT INTO model_usage(user_id, day, tokens, turns, updated_at) VALUES (?, ?, ?, 1, ?) "
      "ON CONFLICT(user_id, day) DO UPDATE SET tokens = model_usage.tokens + excluded.tokens, "
      "turns = model_usage.turns + 1, updated_at = excluded.updated_at");
  if (!q) return q.error();
  q->Bind(1, usage.user_id).Bind(2, std::string_view(usage.day)).Bind(3, usage.tokens).Bind(4, now);
  return q->Run();
}

}  // namespace depositbot
