#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace depositbot {

// One alert the admins must hear about (table admin_alerts).
struct AdminAlert {
  int64_t id = 0;
  std::string key;  // what it is about, e.g. "order:17:registered_after_refund"
  std::string text;
  int64_t created_at = 0;
};

// One (alert, admin) pair whose delivery is due.
struct AlertDelivery {
  AdminAlert alert;
  int64_t admin_id = 0;
  int attempts = 0;  // failed attempts so far
};

// Alerts queued by any process (a purchase, recovery, reconciliation) and
// delivered to every admin by the process that talks to Telegram. Queuing is
// durable and idempotent per key; delivery is recorded per admin, so one admin
// who blocked the bot does not make the others receive the alert again.
// Implementations are thread-safe; several processes may share the store.
class AlertStore {
 public:
  virtual ~AlertStore() = default;

  // Queues `text` under `key`. Returns false (and changes nothing) when `key`
  // was queued before.
  virtual Result<bool> Enqueue(std::string_view key, std::string_view text) = 0;

  // Deliveries due now to the given admins, oldest alert first, at most `limit`: pairs never
  // tried, and failed ones whose backoff has passed, of alerts younger than the retry window.
  // A pair delivered before is never due again.
  virtual Result<std::vector<AlertDelivery>> Due(const std::set<int64_t>& admins, int limit) = 0;
  // Takes a due pair for one send: true when this caller got it, false when it is not due any
  // more (delivered, or claimed by another process meanwhile). A claimed pair is not due for
  // a while, so two processes delivering at once do not both send it; a sender that dies
  // before MarkDelivered/MarkFailed leaves it due again after that.
  virtual Result<bool> Claim(int64_t alert_id, int64_t admin_id) = 0;
  // The alert reached `admin_id`; it is never sent to them again.
  virtual Status MarkDelivered(int64_t alert_id, int64_t admin_id) = 0;
  // The send failed; the next attempt waits longer each time (capped). Changes nothing on a
  // pair already delivered.
  virtual Status MarkFailed(int64_t alert_id, int64_t admin_id, std::string_view error) = 0;
  // Alerts that reached none of `admins` yet.
  virtual Result<int64_t> UndeliveredCount(const std::set<int64_t>& admins) = 0;
  // True when the send of `alert_id` failed for every one of `admins` (each tried at least
  // once) and reached none of them.
  virtual Result<bool> ReachedNoAdmin(int64_t alert_id, const std::set<int64_t>& admins) = 0;
};

}  // namespace depositbot
