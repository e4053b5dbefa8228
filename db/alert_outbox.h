#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace depositbot {

class Database;

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
// Thread-safe; several processes may share the database.
class AlertOutbox {
 public:
  struct Options {
    int64_t first_retry_seconds = 30;          // after the first failure; doubles with each one
    int64_t max_retry_seconds = 3600;          // the cap of that wait
    int64_t claim_seconds = 60;                // a claimed send is not offered again for this long
    int64_t retry_window_seconds = 7 * 86400;  // an alert older than this is not sent any more
  };

  AlertOutbox(Database& db, const Clock& clock) : db_(db), clock_(clock) {}
  AlertOutbox(Database& db, const Clock& clock, Options options)
      : db_(db), clock_(clock), options_(options) {}

  // Queues `text` under `key`. Returns false (and changes nothing) when `key`
  // was queued before.
  Result<bool> Enqueue(std::string_view key, std::string_view text);
  // The same inside a caller's transaction (db's mutex held by the caller).
  Result<bool> EnqueueIn(Database& db, std::string_view key, std::string_view text);

  // Deliveries due now to the given admins, oldest alert first, at most `limit`: pairs never
  // tried, and failed ones whose backoff has passed, of alerts younger than the retry window.
  // A pair delivered before is never due again.
  Result<std::vector<AlertDelivery>> Due(const std::set<int64_t>& admins, int limit);
  // Takes a due pair for one send: true when this caller got it, false when it is not due any
  // more (delivered, or claimed by another process meanwhile). A claimed pair is not due for
  // claim_seconds, so two processes delivering at once do not both send it; a sender that dies
  // before MarkDelivered/MarkFailed leaves it due again after that.
  Result<bool> Claim(int64_t alert_id, int64_t admin_id);
  // The alert reached `admin_id`; it is never sent to them again.
  Status MarkDelivered(int64_t alert_id, int64_t admin_id);
  // The send failed; the next attempt waits longer each time (capped). Changes nothing on a
  // pair already delivered.
  Status MarkFailed(int64_t alert_id, int64_t admin_id, std::string_view error);
  // Alerts that reached none of `admins` yet.
  Result<int64_t> UndeliveredCount(const std::set<int64_t>& admins);
  // True when the send of `alert_id` failed for every one of `admins` (each tried at least
  // once) and reached none of them.
  Result<bool> ReachedNoAdmin(int64_t alert_id, const std::set<int64_t>& admins);

  // The wait after the `failures`-th failed attempt (1, 2, ...).
  int64_t RetryDelaySeconds(int failures) const;

 private:
  Database& db_;
  const Clock& clock_;
  Options options_;
};

}  // namespace depositbot
