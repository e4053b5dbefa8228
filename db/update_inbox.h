#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "db/inbox_store.h"

namespace depositbot {

class Database;

// The InboxStore on SQLite (table telegram_updates). Thread-safe like the other repositories.
class UpdateInbox final : public InboxStore {
 public:
  // A started update whose handler cannot be checked counts as interrupted after this long
  // without a change (a turn never takes that long: its model and registrar calls time out).
  static constexpr int64_t kHandlerSilentSeconds = 900;

  UpdateInbox(Database& db, const Clock& clock);

  Result<bool> Receive(int64_t update_id, int64_t chat_id, std::string_view payload) override;
  Result<std::vector<bool>> ReceiveBatch(const std::vector<InboxUpdate>& updates) override;
  Result<std::vector<int64_t>> Refuse(const std::vector<int64_t>& update_ids) override;
  Result<bool> Start(int64_t update_id) override;
  Result<std::vector<int64_t>> StartBatch(const std::vector<int64_t>& update_ids) override;
  Status Finish(int64_t update_id) override;
  Result<std::optional<InboxUpdate>> ClaimNext(int64_t chat_id) override;
  Result<std::vector<InboxUpdate>> ClaimStranded(int64_t older_than_seconds, int limit) override;
  Result<Recovered> Recover() override;
  Result<int64_t> Prune(int64_t before) override;

 private:
  Result<bool> InsertLocked(int64_t update_id, int64_t chat_id, std::string_view payload,
                            int64_t now);
  // received -> `state` ('started' with this handler, or 'done' when refused): true when this
  // call moved it. LeaveReceived moves many in one transaction and returns those it moved.
  Result<bool> LeaveReceivedLocked(int64_t update_id, std::string_view state, int64_t now);
  Result<std::vector<int64_t>> LeaveReceived(const std::vector<int64_t>& update_ids,
                                             std::string_view state);
  // Claims the candidates (in order) and returns those this call started, with their payloads.
  Result<std::vector<InboxUpdate>> ClaimEach(const std::vector<int64_t>& candidates);

  Database& db_;
  const Clock& clock_;
  const std::string handler_;  // this process's name in Start()'s `handler` column
};

}  // namespace depositbot
