#include "db/conversation_repository.h"

#include <algorithm>
#include <mutex>

#include "db/database.h"
#include "db/model_usage_repository.h"

namespace depositbot {

Status ConversationRepository::AppendTurn(int64_t chat_id,
                                          const std::vector<StoredMessage>& messages,
                                          const ModelUsage& usage) {
  if (messages.empty() && usage.tokens == 0) return Status::Ok();
  auto lock = db_.Lock();
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  int64_t now = clock_.NowSeconds();
  for (const auto& m : messages) {
    auto q = db_.Prepare(
        "INSERT INTO conversation_messages(chat_id, role, content, tool_calls, tool_call_id, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?)");
    if (!q) return q.error();
    q->Bind(1, chat_id)
        .Bind(2, std::string_view(m.role))
        .Bind(3, std::string_view(m.content))
        .Bind(4, m.tool_calls_json)
        .Bind(5, m.tool_call_id)
        .Bind(6, now);
    if (auto st = q->Run(); !st) return st;
  }
  // In the turn's transaction: one commit (one fsync) per turn, and a turn is never stored
  // without its cost nor its cost counted without the turn.
  if (auto st = ModelUsageRepository::AddInTransaction(db_, usage, now); !st) return st;
  return tx->Commit();
}

Result<std::vector<StoredMessage>> ConversationRepository::Recent(int64_t chat_id, int max_messages,
                                                                  size_t max_chars) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "SELECT role, content, tool_calls, tool_call_id FROM conversation_messages "
      "WHERE chat_id = ? ORDER BY id DESC LIMIT ?");
  if (!q) return q.error();
  q->Bind(1, chat_id).Bind(2, int64_t{std::max(max_messages, 0)});
  std::vector<StoredMessage> newest_first;
  size_t chars = 0;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    StoredMessage m{q->ColumnText(0), q->ColumnText(1), q->ColumnOptionalText(2),
                    q->ColumnOptionalText(3)};
    chars += m.content.size() + (m.tool_calls_json ? m.tool_calls_json->size() : 0);
    if (chars > max_chars) break;
    newest_first.push_back(std::move(m));
  }
  // Drop the oldest messages until the window opens with a user message.
  while (!newest_first.empty() && newest_first.back().role != "user") newest_first.pop_back();
  std::reverse(newest_first.begin(), newest_first.end());
  return newest_first;
}

Status ConversationRepository::Clear(int64_t chat_id) {
  auto lock = db_.Lock();
  auto q = db_.Prepare("DELETE FROM conversation_messages WHERE chat_id = ?");
  if (!q) return q.error();
  q->Bind(1, chat_id);
  return q->Run();
}

}  // namespace depositbot
