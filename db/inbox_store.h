#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace depositbot {

struct InboxUpdate {
  int64_t update_id = 0;
  int64_t chat_id = 0;
  std::string payload;  // the update's JSON as Telegram sent it
};

// The record of Telegram updates that makes handling at-most-once
// (DESIGN.md money rule 4). Receive() stores an update before anything acts
// on it; Start() claims it for handling (only once, whatever the number of
// deliveries or workers); Finish() marks it done. At start-up, Recover()
// returns updates received but never started (to handle now) and abandons
// those started but never finished whose handler is gone (a crash mid-way:
// not run twice). Start() records this inbox's handler (common/lease_owner.h),
// so a serve starting beside another that is still handling an update leaves
// it to that one instead of telling the user it was interrupted.
// Implementations are thread-safe, also across processes sharing the store.
class InboxStore {
 public:
  virtual ~InboxStore() = default;

  // True when the update is new; false for a repeated delivery.
  virtual Result<bool> Receive(int64_t update_id, int64_t chat_id, std::string_view payload) = 0;
  // Records a whole getUpdates batch in one transaction (one durable commit): element i is true
  // when updates[i] is new. All or nothing: on an error none of them is recorded.
  virtual Result<std::vector<bool>> ReceiveBatch(const std::vector<InboxUpdate>& updates) = 0;
  // Marks received updates as done without handling them (the bot was at capacity and told the
  // user so), in one transaction. Returns the ids it marked: an update another handler already
  // started is left to that one.
  virtual Result<std::vector<int64_t>> Refuse(const std::vector<int64_t>& update_ids) = 0;
  // True when this caller may handle it (received -> started).
  virtual Result<bool> Start(int64_t update_id) = 0;
  // Start() for many updates in one transaction (one durable commit): returns the ids this
  // caller claimed; one another handler started first is left out.
  virtual Result<std::vector<int64_t>> StartBatch(const std::vector<int64_t>& update_ids) = 0;
  virtual Status Finish(int64_t update_id) = 0;

  // Per-chat order across every handler sharing the store (several serve processes): Start()
  // and StartBatch() claim an update only when no earlier update of its chat is still
  // 'received', or 'started' by another handler. One left 'received' that way is taken by
  // ClaimNext() from the handler that finishes the earlier one, or by ClaimStranded().

  // Claims the oldest 'received' update of `chat_id` when it is its turn; nullopt otherwise.
  virtual Result<std::optional<InboxUpdate>> ClaimNext(int64_t chat_id) = 0;
  // Claims, oldest first and at most `limit`, 'received' updates recorded more than
  // `older_than_seconds` ago whose turn it is: those whose receiver died before claiming
  // them, or whose earlier update's handler did not hand them on.
  virtual Result<std::vector<InboxUpdate>> ClaimStranded(int64_t older_than_seconds, int limit) = 0;

  struct Recovered {
    std::vector<InboxUpdate> to_handle;  // received, never started
    std::vector<InboxUpdate> abandoned;  // started, never finished, handler gone
    int left_to_live_handler = 0;        // started by a process that still runs
  };
  virtual Result<Recovered> Recover() = 0;
  // Forgets finished updates older than `before` (seconds); returns how many.
  virtual Result<int64_t> Prune(int64_t before) = 0;
};

}  // namespace depositbot
