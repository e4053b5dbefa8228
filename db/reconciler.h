#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/money.h"
#include "common/result.h"

namespace depositbot {

class AlertOutbox;
class Database;

struct Finding {
  enum class Kind {
    kBalanceMismatch,    // balance != signed sum of confirmed ledger rows
    kNegativeBalance,    // balance < 0 (only possible if the CHECK was bypassed)
    kOrphanTransaction,  // a ledger row whose user does not exist
    kOrphanAccount,      // a balance row whose user does not exist
    kMissingAccount,     // a user without a balance row
    // Orders against the ledger. For these `balance` holds what the order says (its price)
    // and `ledger_sum` what the ledger says (the row's amount, 0 when there is none).
    kOrderPurchaseMissing,     // a charged/unknown/registered/refunded order without a
                               // confirmed purchase row "order:<id>"
    kOrderPurchaseMismatch,    // that purchase row's amount or user is not the order's, or the
                               // order points at another row
    kOrderRefundUnexpected,    // a charged/unknown/registered order whose purchase was refunded
    kOrderRefundMissing,       // a refunded order whose purchase has no confirmed refund
    kOrderRefundMismatch,      // that refund's amount or user is not the purchase's, or the
                               // order points at another row
    kUnconfirmedOrderCharged,  // a quoted/expired/cancelled order with a purchase row
    kPurchaseWithoutOrder,     // a purchase row "order:<id>" whose order does not exist
    // Orders against the registrar account's list (only when the caller supplied it).
    kRefundedButRegistered,     // refunded, yet the registrar holds the name: given for free
    kRegisteredNotAtRegistrar,  // registered, yet the registrar does not list the name
  };
  Kind kind = Kind::kBalanceMismatch;
  int64_t user_id = 0;
  int64_t telegram_id = 0;  // 0 when the user is missing
  int64_t balance = 0;
  int64_t ledger_sum = 0;
  int64_t transaction_id = 0;  // for kOrphanTransaction; the ledger row of an order finding
  int64_t order_id = 0;        // order kinds
  std::string domain;          // order kinds (empty when the order is gone)
  std::string order_state;     // order kinds: "registered", ...
  std::string note;            // order kinds: what else is wrong, readable

  bool IsOrderFinding() const { return order_id != 0 || kind == Kind::kPurchaseWithoutOrder; }
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

// The domains the registrar's account holds, fetched by the caller: db/ knows nothing of the
// registrar. `names` is nullopt when they could not be had (the list failed, or the registrar
// is the demo one, whose list means nothing across processes); `why_not` then says why.
struct RegistrarDomains {
  std::optional<std::vector<std::string>> names;
  std::string why_not;
};
// Called by Reconciler::Run before it reads the books, on Run's thread.
using RegistrarDomainsFn = std::function<RegistrarDomains()>;

struct ReconciliationReport {
  int64_t run_id = 0;
  int64_t started_at = 0;
  int64_t users_checked = 0;
  int64_t transactions_checked = 0;
  int64_t orders_checked = 0;
  // Whether orders were compared with the registrar's list, of how many names, or why not
  // (empty when no registrar was given to the Reconciler at all).
  bool registrar_compared = false;
  int64_t registrar_domains = 0;
  std::string registrar_not_compared;
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

// Compares every balance with its ledger (DESIGN.md money rule 6) and every domain order with
// its ledger rows in one consistent snapshot; with `registrar_domains`, also the orders with the
// names the registrar's account holds. Records the run and its findings, and never changes a
// balance or an order. Thread-safe like the repositories (serialised on the Database).
class Reconciler {
 public:
  // `registrar_domains` may be empty (no registrar checks); it is called once per Run, before
  // the snapshot and without the database lock, so a slow registrar blocks nobody else.
  Reconciler(Database& db, const Clock& clock, RegistrarDomainsFn registrar_domains = {})
      : db_(db), clock_(clock), registrar_domains_(std::move(registrar_domains)) {}
  Result<ReconciliationReport> Run();
  // The findings of Run's books checks (no registrar checks), read in the caller's transaction
  // (begin one for a consistent view) and recorded nowhere: changes nothing, so it may look at
  // a database being copied (copy-db) or one that must stay as it is.
  Result<std::vector<Finding>> Inspect();

  // A registered order is looked for in the registrar's list only once it is this old, so a
  // registrar that lists a new name late (or a list fetched just before the order registered)
  // is not a discrepancy.
  static constexpr int64_t kRegistrarLagSeconds = 3600;

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
  RegistrarDomainsFn registrar_domains_;
};

// A readable multi-line report for the shell.
std::string FormatReport(const ReconciliationReport& report, const Currency& currency);
// One readable message for the admins.
std::string FormatAlert(const AlertDelta& delta, const Currency& currency);
nlohmann::json ReportToJson(const ReconciliationReport& report, const Currency& currency);

}  // namespace depositbot
