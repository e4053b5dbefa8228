#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/clock.h"
#include "common/money.h"
#include "common/result.h"

namespace depositbot {

class AlertOutbox;
class Database;

struct Finding {
  enum class Kind {
    kBalanceMismatch,     // balance != signed sum of confirmed ledger rows
    kNegativeBalance,     // balance < 0 (only possible if the CHECK was bypassed)
    kOrphanTransaction,   // a ledger row whose user does not exist
    kOrphanAccount,       // a balance row whose user does not exist
    kMissingAccount,      // a user without a balance row
  };
  Kind kind = Kind::kBalanceMismatch;
  int64_t user_id = 0;
  int64_t telegram_id = 0;  // 0 when the user is missing
  int64_t balance = 0;
  int64_t ledger_sum = 0;
  int64_t transaction_id = 0;  // for kOrphanTransaction

  int64_t Difference() const { return balance - ledger_sum; }
  // Identifies "the same discrepancy" across runs.
  std::string Key() const;
  // Whether two findings with the same key differ in their figures.
  bool SameFigures(const Finding& other) const {
    return balance == other.balance && ledger_sum == other.ledger_sum;
  }
  std::string Describe(const Currency& currency) const;
};

std::string_view ToString(Finding::Kind kind);

struct ReconciliationReport {
  int64_t run_id = 0;
  int64_t started_at = 0;
  int64_t users_checked = 0;
  int64_t transactions_checked = 0;
  std::vector<Finding> findings;
  // Compared with the previous recorded run: what an alert should mention.
  std::vector<Finding> new_or_changed;
  std::vector<Finding> resolved;

  bool clean() const { return findings.empty(); }
};

// What the admins must be told after a run: findings they were not told
// about yet (or whose figures changed), and ones they were told about that
// are gone.
struct AlertDelta {
  std::vector<Finding> new_or_changed;
  struct Resolved {
    std::string key;
    std::string description;  // as it was alerted
  };
  std::vector<Resolved> resolved;
  bool empty() const { return new_or_changed.empty() && resolved.empty(); }
};

// Compares every balance with its ledger (DESIGN.md money rule 6) in one
// consistent snapshot, records the run and its findings, and never changes a
// balance. Thread-safe like the repositories (serialised on the Database).
class Reconciler {
 public:
  Reconciler(Database& db, const Clock& clock) : db_(db), clock_(clock) {}
  Result<ReconciliationReport> Run();

  // Compares a report with what admins were already told (table
  // reconciliation_alerts); independent of how many runs happened between.
  Result<AlertDelta> PendingAlerts(const ReconciliationReport& report);
  // Records that `delta` was delivered, so it is not repeated.
  Status MarkAlerted(const AlertDelta& delta, const Currency& currency);
  // What the admins must be told after `report`, queued in `outbox` (FormatAlert's text under
  // a key derived from the delta and the alerts queued before it) and recorded as alerted in
  // the same transaction: a crash never leaves it queued but unrecorded (told twice) or
  // recorded but not queued (never told), and two processes queue it once. Delivery is the
  // outbox's business. Returns the delta queued; empty when there was nothing new to say.
  Result<AlertDelta> QueueAlerts(const ReconciliationReport& report, const Currency& currency,
                                 AlertOutbox& outbox);

 private:
  // The bodies of PendingAlerts / MarkAlerted; the caller holds db_'s mutex (and, for the
  // second, a write transaction).
  Result<AlertDelta> PendingAlertsLocked(const ReconciliationReport& report);
  Status MarkAlertedLocked(const AlertDelta& delta, const Currency& currency);

  Database& db_;
  const Clock& clock_;
};

// A readable multi-line report for the shell.
std::string FormatReport(const ReconciliationReport& report, const Currency& currency);
// One readable message for the admins.
std::string FormatAlert(const AlertDelta& delta, const Currency& currency);
nlohmann::json ReportToJson(const ReconciliationReport& report, const Currency& currency);

}  // namespace depositbot
