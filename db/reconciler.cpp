#include "db/reconciler.h"

#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "db/alert_outbox.h"
#include "db/database.h"

namespace depositbot {
namespace {

std::optional<Finding::Kind> ParseKind(std::string_view s) {
  for (auto k : {Finding::Kind::kBalanceMismatch, Finding::Kind::kNegativeBalance,
                 Finding::Kind::kOrphanTransaction, Finding::Kind::kOrphanAccount,
                 Finding::Kind::kMissingAccount}) {
    if (ToString(k) == s) return k;
  }
  return std::nullopt;
}

// Runs `sql` and calls `on_row` for each row.
template <typename F>
Status ForEachRow(Database& db, const std::string& sql, F on_row) {
  auto q = db.Prepare(sql);
  if (!q) return q.error();
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) return Status::Ok();
    on_row(*q);
  }
}

}  // namespace

std::string_view ToString(Finding::Kind kind) {
  switch (kind) {
    case Finding::Kind::kBalanceMismatch: return "balance_mismatch";
    case Finding::Kind::kNegativeBalance: return "negative_balance";
    case Finding::Kind::kOrphanTransaction: return "orphan_transaction";
    case Finding::Kind::kOrphanAccount: return "orphan_account";
    case Finding::Kind::kMissingAccount: return "missing_account";
  }
  return "balance_mismatch";
}

std::string Finding::Key() const {
  return std::string(ToString(kind)) + ":" + std::to_string(user_id) + ":" +
         std::to_string(transaction_id);
}

std::string Finding::Describe(const Currency& c) const {
  std::string who = "user " + std::to_string(user_id) +
                    (telegram_id ? " (Telegram " + std::to_string(telegram_id) + ")" : "");
  switch (kind) {
    case Kind::kBalanceMismatch:
      return who + ": balance " + FormatAmount(balance, c) + ", ledger sum " +
             FormatAmount(ledger_sum, c) + ", difference " + FormatAmount(Difference(), c);
    case Kind::kNegativeBalance:
      return who + ": negative balance " + FormatAmount(balance, c);
    case Kind::kOrphanTransaction:
      return "transaction #" + std::to_string(transaction_id) + " belongs to user " +
             std::to_string(user_id) + ", who does not exist (" + FormatAmount(ledger_sum, c) +
             ")";
    case Kind::kOrphanAccount:
      return "a balance of " + FormatAmount(balance, c) + " belongs to user " +
             std::to_string(user_id) + ", who does not exist";
    case Kind::kMissingAccount:
      return who + " has no balance row (ledger sum " + FormatAmount(ledger_sum, c) + ")";
  }
  return who;
}

Result<ReconciliationReport> Reconciler::Run() {
  std::lock_guard<std::mutex> lock(db_.mutex());
  // One IMMEDIATE transaction: the scan sees one consistent state and the run
  // is recorded atomically with it.
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  ReconciliationReport report;
  report.started_at = clock_.NowSeconds();

  std::map<std::string, Finding> previous;
  auto st = ForEachRow(
      db_,
      "SELECT kind, user_id, transaction_id, balance, ledger_sum FROM reconciliation_findings "
      "WHERE run_id = (SELECT MAX(id) FROM reconciliation_runs)",
      [&](const Statement& q) {
        auto kind = ParseKind(q.ColumnText(0));
        if (!kind) return;
        Finding f;
        f.kind = *kind;
        f.user_id = q.ColumnInt(1);
        f.transaction_id = q.ColumnInt(2);
        f.balance = q.ColumnInt(3);
        f.ledger_sum = q.ColumnInt(4);
        previous[f.Key()] = f;
      });
  if (!st) return st.error();

  st = ForEachRow(
      db_,
      "SELECT u.id, u.telegram_id, d.balance, d.user_id IS NULL, "
      " (SELECT COALESCE(SUM(t.amount * t.direction), 0) FROM deposit_transactions t "
      "  WHERE t.user_id = u.id AND t.status = 'confirmed') "
      "FROM users u LEFT JOIN user_deposits d ON d.user_id = u.id ORDER BY u.id",
      [&](const Statement& q) {
        ++report.users_checked;
        Finding f;
        f.user_id = q.ColumnInt(0);
        f.telegram_id = q.ColumnInt(1);
        f.balance = q.ColumnInt(2);
        f.ledger_sum = q.ColumnInt(4);
        if (q.ColumnInt(3) != 0) {
          if (f.ledger_sum != 0) {
            f.kind = Finding::Kind::kMissingAccount;
            report.findings.push_back(f);
          }
          return;
        }
        if (f.balance != f.ledger_sum) {
          f.kind = Finding::Kind::kBalanceMismatch;
          report.findings.push_back(f);
        }
        if (f.balance < 0) {
          f.kind = Finding::Kind::kNegativeBalance;
          report.findings.push_back(f);
        }
      });
  if (!st) return st.error();

  st = ForEachRow(db_,
                  "SELECT t.id, t.user_id, t.amount * t.direction FROM deposit_transactions t "
                  "LEFT JOIN users u ON u.id = t.user_id WHERE u.id IS NULL ORDER BY t.id",
                  [&](const Statement& q) {
                    Finding f;
                    f.kind = Finding::Kind::kOrphanTransaction;
                    f.transaction_id = q.ColumnInt(0);
                    f.user_id = q.ColumnInt(1);
                    f.ledger_sum = q.ColumnInt(2);
                    report.findings.push_back(f);
                  });
  if (!st) return st.error();
  st = ForEachRow(db_,
                  "SELECT d.user_id, d.balance FROM user_deposits d "
                  "LEFT JOIN users u ON u.id = d.user_id WHERE u.id IS NULL ORDER BY d.user_id",
                  [&](const Statement& q) {
                    Finding f;
                    f.kind = Finding::Kind::kOrphanAccount;
                    f.user_id = q.ColumnInt(0);
                    f.balance = q.ColumnInt(1);
                    report.findings.push_back(f);
                  });
  if (!st) return st.error();
  st = ForEachRow(db_, "SELECT COUNT(*) FROM deposit_transactions",
                  [&](const Statement& q) { report.transactions_checked = q.ColumnInt(0); });
  if (!st) return st.error();

  auto run = db_.Prepare(
      "INSERT INTO reconciliation_runs(started_at, users_checked, transactions_checked, findings) "
      "VALUES (?, ?, ?, ?)");
  if (!run) return run.error();
  run->Bind(1, report.started_at)
      .Bind(2, report.users_checked)
      .Bind(3, report.transactions_checked)
      .Bind(4, static_cast<int64_t>(report.findings.size()));
  if (auto r = run->Run(); !r) return r.error();
  report.run_id = db_.LastInsertRowId();

  for (const auto& f : report.findings) {
    auto ins = db_.Prepare(
        "INSERT INTO reconciliation_findings(run_id, kind, user_id, transaction_id, balance, "
        "ledger_sum, detail) VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!ins) return ins.error();
    ins->Bind(1, report.run_id)
        .Bind(2, ToString(f.kind))
        .Bind(3, f.user_id)
        .Bind(4, f.transaction_id)
        .Bind(5, f.balance)
        .Bind(6, f.ledger_sum)
        .Bind(7, std::string_view(f.Key()));
    if (auto r = ins->Run(); !r) return r.error();
    auto it = previous.find(f.Key());
    if (it == previous.end() || !it->second.SameFigures(f)) report.new_or_changed.push_back(f);
    if (it != previous.end()) previous.erase(it);
  }
  for (const auto& [key, f] : previous) report.resolved.push_back(f);
  if (auto c = tx->Commit(); !c) return c.error();
  Log(report.clean() ? LogLevel::kInfo : LogLevel::kWarn, "reconcile.run",
      {{"run_id", std::to_string(report.run_id)},
       {"users", std::to_string(report.users_checked)},
       {"findings", std::to_string(report.findings.size())},
       {"new_or_changed", std::to_string(report.new_or_changed.size())},
       {"resolved", std::to_string(report.resolved.size())}});
  return report;
}

Result<AlertDelta> Reconciler::PendingAlerts(const ReconciliationReport& report) {
  std::lock_guard<std::mutex> lock(db_.mutex());
  return PendingAlertsLocked(report);
}

Result<AlertDelta> Reconciler::PendingAlertsLocked(const ReconciliationReport& report) {
  std::map<std::string, std::pair<Finding, std::string>> alerted;  // key -> figures, description
  auto st = ForEachRow(db_,
                       "SELECT finding_key, balance, ledger_sum, description FROM "
                       "reconciliation_alerts",
                       [&](const Statement& q) {
                         Finding f;
                         f.balance = q.ColumnInt(1);
                         f.ledger_sum = q.ColumnInt(2);
                         alerted[q.ColumnText(0)] = {f, q.ColumnText(3)};
                       });
  if (!st) return st.error();
  AlertDelta delta;
  for (const auto& f : report.findings) {
    auto it = alerted.find(f.Key());
    if (it == alerted.end() || !it->second.first.SameFigures(f)) delta.new_or_changed.push_back(f);
    if (it != alerted.end()) alerted.erase(it);
  }
  for (const auto& [key, entry] : alerted) delta.resolved.push_back({key, entry.second});
  return delta;
}

Status Reconciler::MarkAlerted(const AlertDelta& delta, const Currency& currency) {
  std::lock_guard<std::mutex> lock(db_.mutex());
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  if (auto st = MarkAlertedLocked(delta, currency); !st) return st;
  return tx->Commit();
}

Status Reconciler::MarkAlertedLocked(const AlertDelta& delta, const Currency& currency) {
  for (const auto& f : delta.new_or_changed) {
    auto q = db_.Prepare(
        "INSERT INTO reconciliation_alerts(finding_key, balance, ledger_sum, description, "
        "alerted_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(finding_key) DO UPDATE SET "
        "balance = excluded.balance, ledger_sum = excluded.ledger_sum, "
        "description = excluded.description, alerted_at = excluded.alerted_at");
    if (!q) return q.error();
    q->Bind(1, std::string_view(f.Key()))
        .Bind(2, f.balance)
        .Bind(3, f.ledger_sum)
        .Bind(4, std::string_view(f.Describe(currency)))
        .Bind(5, clock_.NowSeconds());
    if (auto st = q->Run(); !st) return st;
  }
  for (const auto& r : delta.resolved) {
    auto q = db_.Prepare("DELETE FROM reconciliation_alerts WHERE finding_key = ?");
    if (!q) return q.error();
    q->Bind(1, std::string_view(r.key));
    if (auto st = q->Run(); !st) return st;
  }
  return Status::Ok();
}

Result<AlertDelta> Reconciler::QueueAlerts(const ReconciliationReport& report,
                                           const Currency& currency, AlertOutbox& outbox) {
  std::lock_guard<std::mutex> lock(db_.mutex());
  // Immediate: the delta is computed against what was alerted, and recorded, under one write
  // lock, so a second process reconciling at the same time sees this one's record.
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  auto delta = PendingAlertsLocked(report);
  if (!delta) return delta.error();
  if (delta->empty()) return delta;
  // The key names the delta and the reconciliation alert queued before it: the same delta
  // against the same history is one alert, while a discrepancy that is resolved and then
  // comes back with the same figures is a new one (DESIGN.md rule 6: once per new or changed).
  int64_t previous = 0;
  auto st = ForEachRow(db_,
                       "SELECT COALESCE(MAX(id), 0) FROM admin_alerts "
                       "WHERE alert_key LIKE 'reconcile:%'",
                       [&](const Statement& q) { previous = q.ColumnInt(0); });
  if (!st) return st.error();
  std::string canonical;
  for (const auto& f : delta->new_or_changed) {
    canonical += "+" + f.Key() + "=" + std::to_string(f.balance) + "/" +
                 std::to_string(f.ledger_sum) + ";";
  }
  for (const auto& r : delta->resolved) canonical += "-" + r.key + ";";
  uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64 bits
  for (unsigned char ch : canonical) hash = (hash ^ ch) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  std::string key = "reconcile:after-" + std::to_string(previous) + ":" + hex;
  auto queued = outbox.EnqueueIn(db_, key, FormatAlert(*delta, currency));
  if (!queued) return queued.error();
  if (auto m = MarkAlertedLocked(*delta, currency); !m) return m.error();
  if (auto c = tx->Commit(); !c) return c.error();
  Log(LogLevel::kWarn, "reconcile.alert_queued",
      {{"key", key},
       {"new_or_changed", std::to_string(delta->new_or_changed.size())},
       {"resolved", std::to_string(delta->resolved.size())}});
  return delta;
}

std::string FormatAlert(const AlertDelta& delta, const Currency& c) {
  std::string out;
  if (!delta.new_or_changed.empty()) {
    out += "⚠️ Reconciliation: " + std::to_string(delta.new_or_changed.size()) +
           " discrepanc" + (delta.new_or_changed.size() == 1 ? "y" : "ies") +
           " between balances and the ledger (nothing was changed automatically):\n";
    for (const auto& f : delta.new_or_changed) out += "• " + f.Describe(c) + "\n";
  }
  if (!delta.resolved.empty()) {
    out += "✅ Resolved since the last alert:\n";
    for (const auto& r : delta.resolved) out += "• " + r.description + "\n";
  }
  return out;
}

std::string FormatReport(const ReconciliationReport& r, const Currency& c) {
  std::string out = "Reconciliation run #" + std::to_string(r.run_id) + " at " +
                    FormatUtc(r.started_at) + ": " + std::to_string(r.users_checked) +
                    " users, " + std::to_string(r.transactions_checked) + " ledger rows checked.\n";
  if (r.clean()) {
    out += "The books are clean: every balance equals its confirmed ledger sum.\n";
  } else {
    out += std::to_string(r.findings.size()) + " discrepanc" +
           (r.findings.size() == 1 ? "y" : "ies") + " found:\n";
    for (const auto& f : r.findings) out += "  - " + f.Describe(c) + "\n";
  }
  for (const auto& f : r.resolved) out += "  resolved since the last run: " + f.Describe(c) + "\n";
  return out;
}

nlohmann::json ReportToJson(const ReconciliationReport& r, const Currency& c) {
  auto finding_json = [&](const Finding& f) {
    return nlohmann::json{{"kind", ToString(f.kind)},
                          {"user_id", f.user_id},
                          {"telegram_id", f.telegram_id},
                          {"transaction_id", f.transaction_id},
                          {"balance", f.balance},
                          {"ledger_sum", f.ledger_sum},
                          {"difference", f.Difference()},
                          {"description", f.Describe(c)}};
  };
  nlohmann::json findings = nlohmann::json::array(), changed = nlohmann::json::array(),
                 resolved = nlohmann::json::array();
  for (const auto& f : r.findings) findings.push_back(finding_json(f));
  for (const auto& f : r.new_or_changed) changed.push_back(finding_json(f));
  for (const auto& f : r.resolved) resolved.push_back(finding_json(f));
  return {{"run_id", r.run_id},
          {"started_at", r.started_at},
          {"currency", c.code},
          {"users_checked", r.users_checked},
          {"transactions_checked", r.transactions_checked},
          {"clean", r.clean()},
          {"findings", findings},
          {"new_or_changed", changed},
          {"resolved", resolved}};
}

}  // namespace depositbot
