#pragma once

#include <cstdint>
#include <set>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "db/alert_store.h"

namespace depositbot {

class Database;

// The AlertStore on SQLite. Thread-safe; several processes may share the database.
class AlertOutbox final : public AlertStore {
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

  Result<bool> Enqueue(std::string_view key, std::string_view text) override;
  // The same inside a caller's transaction (db's mutex held by the caller).
  Result<bool> EnqueueIn(Database& db, std::string_view key, std::string_view text);

  Result<std::vector<AlertDelivery>> Due(const std::set<int64_t>& admins, int limit) override;
  // A claimed pair is not due for claim_seconds.
  Result<bool> Claim(int64_t alert_id, int64_t admin_id) override;
  Status MarkDelivered(int64_t alert_id, int64_t admin_id) override;
  Status MarkFailed(int64_t alert_id, int64_t admin_id, std::string_view error) override;
  Result<int64_t> UndeliveredCount(const std::set<int64_t>& admins) override;
  Result<bool> ReachedNoAdmin(int64_t alert_id, const std::set<int64_t>& admins) override;

  // The wait after the `failures`-th failed attempt (1, 2, ...).
  int64_t RetryDelaySeconds(int failures) const;

 private:
  Database& db_;
  const Clock& clock_;
  Options options_;
};

}  // namespace depositbot
