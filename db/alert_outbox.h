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
  AlertOutbox(Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Queues `text` under `key`. Returns false (and changes nothing) when `key`
  // was queued before.
  Result<bool> Enqueue(std::string_view key, std::string_view text);
  // The same inside a caller's transaction (db's mutex held by the caller).
  Result<bool> EnqueueIn(Database& db, std::string_view key, std::string_view text);

  // Deliveries due now to the given admins, oldest alert first, at most `limit`.
  Result<std::vector<AlertDelivery>> Due(const std::set<int64_t>& admins, int limit);
  // The alert reached `admin_id`; it is never sent to them again.
  Status MarkDelivered(int64_t alert_id, int64_t admin_id);
  // The send failed; the next attempt waits longer each time (capped).
  Status MarkFailed(int64_t alert_id, int64_t admin_id, std::string_view error);
  // Alerts that reached none of `admins` yet.
  Result<int64_t> UndeliveredCount(const std::set<int64_t>& admins);

 private:
  Database& db_;
  const Clock& clock_;
};

}  // namespace depositbot
