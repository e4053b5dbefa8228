#include "db/update_inbox.h"

#include <algorithm>
#include <mutex>

#include "common/lease_owner.h"
#include "db/database.h"

namespace depositbot {

Result<bool> UpdateInbox::InsertLocked(int64_t update_id, int64_t chat_id, std::string_view payload,
                                       int64_t now) {
  auto q = db_.Prepare(
      "INSERT INTO telegram_updates(update_id, chat_id, payload, state, received_at, updated_at) "
      "VALUES (?, ?, ?, 'received', ?, ?) ON CONFLICT(update_id) DO NOTHING");
  if (!q) return q.error();
  q->Bind(1, update_id).Bind(2, chat_id).Bind(3, payload).Bind(4, now).Bind(5, now);
  if (auto st = q->Run(); !st) return st.error();
  return db_.Changes() == 1;
}

Result<bool> UpdateInbox::Receive(int64_t update_id, int64_t chat_id, std::string_view payload) {
  auto lock = db_.Lock();
  return InsertLocked(update_id, chat_id, payload, clock_.NowSeconds());
}

Result<std::vector<bool>> UpdateInbox::ReceiveBatch(const std::vector<InboxUpdate>& updates) {
  std::vector<bool> fresh;
  if (updates.empty()) return fresh;
  auto lock = db_.Lock();
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  const int64_t now = clock_.NowSeconds();
  for (const auto& u : updates) {
    auto r = InsertLocked(u.update_id, u.chat_id, u.payload, now);
    if (!r) return r.error();  // the transaction rolls back: none is recorded
    fresh.push_back(*r);
  }
  if (auto st = tx->Commit(); !st) return st.error();
  return fresh;
}

Result<std::vector<int64_t>> UpdateInbox::Refuse(const std::vector<int64_t>& update_ids) {
  return LeaveReceived(update_ids, "done");
}

UpdateInbox::UpdateInbox(Database& db, const Clock& clock)
    : db_(db), clock_(clock), handler_(NewLeaseOwner()) {}

Result<bool> UpdateInbox::LeaveReceivedLocked(int64_t update_id, std::string_view state,
                                              int64_t now) {
  // A started update records its handler; a refused ('done') one keeps none.
  // Starting also waits its turn in the chat (see InboxStore): an earlier update of the chat
  // still received, or started by another handler, keeps this one received.
  auto q = db_.Prepare(
      "UPDATE telegram_updates SET state = ?1, updated_at = ?2, "
      "handler = CASE WHEN ?1 = 'started' THEN ?3 ELSE handler END "
      "WHERE update_id = ?4 AND state = 'received' AND (?1 <> 'started' OR NOT EXISTS ("
      "  SELECT 1 FROM telegram_updates e WHERE e.chat_id = telegram_updates.chat_id "
      "  AND e.update_id < ?4 AND (e.state = 'received' OR "
      "  (e.state = 'started' AND COALESCE(e.handler, '') <> ?3))))");
  if (!q) return q.error();
  q->Bind(1, state).Bind(2, now).Bind(3, std::string_view(handler_)).Bind(4, update_id);
  if (auto st = q->Run(); !st) return st.error();
  return db_.Changes() == 1;
}

Result<std::vector<int64_t>> UpdateInbox::LeaveReceived(const std::vector<int64_t>& update_ids,
                                                        std::string_view state) {
  std::vector<int64_t> moved;
  if (update_ids.empty()) return moved;
  auto lock = db_.Lock();
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  const int64_t now = clock_.NowSeconds();
  for (int64_t id : update_ids) {
    auto r = LeaveReceivedLocked(id, state, now);
    if (!r) return r.error();  // the transaction rolls back: none is moved
    if (*r) moved.push_back(id);
  }
  if (auto st = tx->Commit(); !st) return st.error();
  return moved;
}

Result<bool> UpdateInbox::Start(int64_t update_id) {
  auto lock = db_.Lock();
  return LeaveReceivedLocked(update_id, "started", clock_.NowSeconds());
}

Result<std::vector<int64_t>> UpdateInbox::StartBatch(const std::vector<int64_t>& update_ids) {
  return LeaveReceived(update_ids, "started");
}

Status UpdateInbox::Finish(int64_t update_id) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "UPDATE telegram_updates SET state = 'done', updated_at = ? "
      "WHERE update_id = ? AND state = 'started'");
  if (!q) return q.error();
  q->Bind(1, clock_.NowSeconds()).Bind(2, update_id);
  return q->Run();
}

Result<std::vector<InboxUpdate>> UpdateInbox::ClaimEach(const std::vector<int64_t>& candidates) {
  std::vector<InboxUpdate> out;
  if (candidates.empty()) return out;
  auto started = LeaveReceived(candidates, "started");
  if (!started) return started.error();
  auto lock = db_.Lock();
  for (int64_t id : *started) {
    auto q = db_.Prepare(
        "SELECT update_id, chat_id, payload FROM telegram_updates "
        "WHERE update_id = ?");
    if (!q) return q.error();
    q->Bind(1, id);
    auto row = q->Step();
    if (!row) return row.error();
    if (*row) out.push_back({q->ColumnInt(0), q->ColumnInt(1), q->ColumnText(2)});
  }
  return out;
}

Result<std::optional<InboxUpdate>> UpdateInbox::ClaimNext(int64_t chat_id) {
  std::vector<int64_t> candidate;
  {
    // A read first: most finished updates have no successor waiting, and this costs no commit.
    auto lock = db_.Lock();
    auto q = db_.Prepare(
        "SELECT MIN(update_id) FROM telegram_updates WHERE state = 'received' AND chat_id = ?");
    if (!q) return q.error();
    q->Bind(1, chat_id);
    auto row = q->Step();
    if (!row) return row.error();
    if (*row && !q->ColumnIsNull(0)) candidate.push_back(q->ColumnInt(0));
  }
  auto claimed = ClaimEach(candidate);
  if (!claimed) return claimed.error();
  if (claimed->empty()) return std::optional<InboxUpdate>();
  return std::optional<InboxUpdate>(std::move(claimed->front()));
}

Result<std::vector<InboxUpdate>> UpdateInbox::ClaimStranded(int64_t older_than_seconds, int limit) {
  std::vector<int64_t> candidates;
  {
    auto lock = db_.Lock();
    // The first received update of each chat (its turn is checked again when it is claimed).
    auto q = db_.Prepare(
        "SELECT MIN(update_id) FROM telegram_updates WHERE state = 'received' "
        "AND received_at < ? GROUP BY chat_id ORDER BY 1 LIMIT ?");
    if (!q) return q.error();
    q->Bind(1, clock_.NowSeconds() - older_than_seconds).Bind(2, int64_t{std::max(limit, 1)});
    while (true) {
      auto row = q->Step();
      if (!row) return row.error();
      if (!*row) break;
      candidates.push_back(q->ColumnInt(0));
    }
  }
  return ClaimEach(candidates);
}

Result<UpdateInbox::Recovered> UpdateInbox::Recover() {
  auto lock = db_.Lock();
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  Recovered out;
  const int64_t now = clock_.NowSeconds();
  auto q = db_.Prepare(
      "SELECT update_id, chat_id, payload, state, handler, updated_at FROM telegram_updates "
      "WHERE state IN ('received', 'started') ORDER BY update_id");
  if (!q) return q.error();
  std::vector<int64_t> interrupted;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    InboxUpdate u{q->ColumnInt(0), q->ColumnInt(1), q->ColumnText(2)};
    if (q->ColumnText(3) == "received") {
      out.to_handle.push_back(std::move(u));
      continue;
    }
    // A started update is interrupted only when its handler is gone: another serve still
    // running beside this one (a restart that overlaps) is finishing it. An owner we cannot
    // check (another host, an older binary) gets kHandlerSilentSeconds before we decide.
    auto handler = q->ColumnOptionalText(4);
    const bool silent = q->ColumnInt(5) <= now - kHandlerSilentSeconds;
    if (!handler || silent || LeaseOwnerIsGone(*handler)) {
      interrupted.push_back(u.update_id);
      out.abandoned.push_back(std::move(u));
    } else {
      ++out.left_to_live_handler;
    }
  }
  for (int64_t id : interrupted) {
    auto mark = db_.Prepare(
        "UPDATE telegram_updates SET state = 'abandoned', updated_at = ? "
        "WHERE update_id = ? AND state = 'started'");
    if (!mark) return mark.error();
    mark->Bind(1, now).Bind(2, id);
    if (auto st = mark->Run(); !st) return st.error();
  }
  if (auto st = tx->Commit(); !st) return st.error();
  return out;
}

Result<int64_t> UpdateInbox::Prune(int64_t before) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(
      "DELETE FROM telegram_updates WHERE state IN ('done', 'abandoned') AND updated_at < ?");
  if (!q) return q.error();
  q->Bind(1, before);
  if (auto st = q->Run(); !st) return st.error();
  return int64_t{db_.Changes()};
}

}  // namespace depositbot
