#include "db/reconciler.h"

#include <cctype>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "common/log.h"
#include "common/text.h"
#include "db/alert_outbox.h"
#include "db/database.h"

namespace depositbot {
namespace {

using Kind = Finding::Kind;

constexpr Kind kAllKinds[] = {
    Kind::kBalanceMismatch,       Kind::kNegativeBalance,         Kind::kOrphanTransaction,
    Kind::kOrphanAccount,         Kind::kMissingAccount,          Kind::kOrderPurchaseMissing,
    Kind::kOrderPurchaseMismatch, Kind::kOrderRefundUnexpected,   Kind::kOrderRefundMissing,
    Kind::kOrderRefundMismatch,   Kind::kUnconfirmedOrderCharged, Kind::kPurchaseWithoutOrder,
    Kind::kRefundedButRegistered, Kind::kRegisteredNotAtRegistrar};

std::optional<Finding::Kind> ParseKind(std::string_view s) {
  for (auto k : kAllKinds) {
    if (ToString(k) == s) return k;
  }
  return std::nullopt;
}

// The order id inside an order finding's key ("<kind>:order:<id>:<tx>"), 0 when there is none.
int64_t OrderIdFromKey(const std::string& key) {
  const std::string tag = ":order:";
  size_t at = key.find(tag);
  if (at == std::string::npos) return 0;
  int64_t id = 0;
  for (size_t i = at + tag.size();
       i < key.size() && std::isdigit(static_cast<unsigned char>(key[i])); ++i) {
    if (id > (INT64_MAX - 9) / 10) return 0;
    id = id * 10 + (key[i] - '0');
  }
  return id;
}

// One order with the ledger rows that belong to it (the unique (type, reference) index allows
// at most one purchase per order and one refund per purchase).
struct OrderRow {
  int64_t id = 0, user_id = 0, telegram_id = 0, price = 0, updated_at = 0, years = 1;
  std::string domain, state;
  int64_t order_purchase_id = 0, order_refund_id = 0;  // what the order row points at
  int64_t purchase_id = 0, purchase_user = 0, purchase_amount = 0;
  std::string purchase_status;
  int64_t refund_id = 0, refund_user = 0, refund_amount = 0;
  std::string refund_status;
};

Finding OrderFinding(Kind kind, const OrderRow& o, int64_t order_figure, int64_t ledger_figure,
                     int64_t transaction_id, std::string note = "") {
  Finding f;
  f.kind = kind;
  f.user_id = o.user_id;
  f.telegram_id = o.telegram_id;
  f.order_id = o.id;
  f.domain = o.domain;
  f.order_state = o.state;
  f.balance = order_figure;
  f.ledger_sum = ledger_figure;
  f.transaction_id = transaction_id;
  f.note = std::move(note);
  return f;
}

void Append(std::string& notes, const std::string& more) {
  notes += (notes.empty() ? "" : "; ") + more;
}

// The ledger checks of one order (DESIGN.md money rule 5 as the books must show it).
void CheckOrderAgainstLedger(const OrderRow& o, std::vector<Finding>& out) {
  const bool paid = o.state == "charged" || o.state == "unknown" || o.state == "registered";
  const bool refunded = o.state == "refunded";
  const bool unconfirmed = o.state == "quoted" || o.state == "expired" || o.state == "cancelled";
  if (unconfirmed) {
    // The user never confirmed, so nothing may have been taken.
    if (o.purchase_id != 0) {
      out.push_back(OrderFinding(Kind::kUnconfirmedOrderCharged, o, 0, o.purchase_amount,
                                 o.purchase_id, "the purchase row is " + o.purchase_status));
    }
    return;
  }
  if (!paid && !refunded) return;  // a state this version has no ledger rule for
  if (o.purchase_id == 0 || o.purchase_status != "confirmed") {
    out.push_back(OrderFinding(
        Kind::kOrderPurchaseMissing, o, o.price, 0, o.purchase_id,
        o.purchase_id == 0
            ? ""
            : "purchase row #" + std::to_string(o.purchase_id) + " is " + o.purchase_status));
    return;
  }
  std::string notes;
  if (o.purchase_user != o.user_id) {
    Append(notes, "the purchase row belongs to user " + std::to_string(o.purchase_user));
  }
  if (o.order_purchase_id != o.purchase_id) {
    Append(notes, "the order points at purchase row #" + std::to_string(o.order_purchase_id));
  }
  if (o.purchase_amount != o.price || !notes.empty()) {
    out.push_back(OrderFinding(Kind::kOrderPurchaseMismatch, o, o.price, o.purchase_amount,
                               o.purchase_id, notes));
  }
  const bool refund_confirmed = o.refund_id != 0 && o.refund_status == "confirmed";
  if (paid && refund_confirmed) {
    out.push_back(
        OrderFinding(Kind::kOrderRefundUnexpected, o, o.price, o.refund_amount, o.refund_id));
  }
  if (refunded && !refund_confirmed) {
    out.push_back(OrderFinding(Kind::kOrderRefundMissing, o, o.purchase_amount, 0, o.purchase_id,
                               o.refund_id == 0 ? ""
                                                : "refund row #" + std::to_string(o.refund_id) +
                                                      " is " + o.refund_status));
  }
  if (refunded && refund_confirmed) {
    std::string refund_notes;
    if (o.refund_user != o.user_id) {
      Append(refund_notes, "the refund row belongs to user " + std::to_string(o.refund_user));
    }
    if (o.order_refund_id != o.refund_id) {
      Append(refund_notes, "the order points at refund row #" + std::to_string(o.order_refund_id));
    }
    if (o.refund_amount != o.purchase_amount || !refund_notes.empty()) {
      out.push_back(OrderFinding(Kind::kOrderRefundMismatch, o, o.purchase_amount, o.refund_amount,
                                 o.refund_id, refund_notes));
    }
  }
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

// The books' checks of a run (balances against the ledger, orphans, orders against the ledger),
// in the caller's transaction; fills `report`'s counts and findings and gives the orders read.
Status ScanBooks(Database& db, ReconciliationReport& report, std::vector<OrderRow>& orders) {
  Status st =
      ForEachRow(db,
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
  if (!st) return st;

  st = ForEachRow(db,
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
  if (!st) return st;
  st = ForEachRow(db,
                  "SELECT d.user_id, d.balance FROM user_deposits d "
                  "LEFT JOIN users u ON u.id = d.user_id WHERE u.id IS NULL ORDER BY d.user_id",
                  [&](const Statement& q) {
                    Finding f;
                    f.kind = Finding::Kind::kOrphanAccount;
                    f.user_id = q.ColumnInt(0);
                    f.balance = q.ColumnInt(1);
                    report.findings.push_back(f);
                  });
  if (!st) return st;
  st = ForEachRow(db, "SELECT COUNT(*) FROM deposit_transactions",
                  [&](const Statement& q) { report.transactions_checked = q.ColumnInt(0); });
  if (!st) return st;

  // Every order with its purchase row ("order:<id>") and that purchase's refund
  // ("purchase:<row id>").
  st = ForEachRow(
      db,
      "SELECT o.id, o.user_id, COALESCE(u.telegram_id, 0), o.domain, o.state, o.price, "
      " o.updated_at, o.years, COALESCE(o.purchase_transaction_id, 0), "
      " COALESCE(o.refund_transaction_id, 0), COALESCE(p.id, 0), COALESCE(p.user_id, 0), "
      " COALESCE(p.amount, 0), COALESCE(p.status, ''), COALESCE(r.id, 0), "
      " COALESCE(r.user_id, 0), COALESCE(r.amount, 0), COALESCE(r.status, '') "
      "FROM domain_orders o LEFT JOIN users u ON u.id = o.user_id "
      "LEFT JOIN deposit_transactions p ON p.type = 'purchase' AND p.reference = 'order:' || o.id "
      "LEFT JOIN deposit_transactions r ON r.type = 'refund' AND p.id IS NOT NULL "
      " AND r.reference = 'purchase:' || p.id "
      "ORDER BY o.id",
      [&](const Statement& q) {
        OrderRow o;
        o.id = q.ColumnInt(0);
        o.user_id = q.ColumnInt(1);
        o.telegram_id = q.ColumnInt(2);
        o.domain = q.ColumnText(3);
        o.state = q.ColumnText(4);
        o.price = q.ColumnInt(5);
        o.updated_at = q.ColumnInt(6);
        o.years = q.ColumnInt(7);
        o.order_purchase_id = q.ColumnInt(8);
        o.order_refund_id = q.ColumnInt(9);
        o.purchase_id = q.ColumnInt(10);
        o.purchase_user = q.ColumnInt(11);
        o.purchase_amount = q.ColumnInt(12);
        o.purchase_status = q.ColumnText(13);
        o.refund_id = q.ColumnInt(14);
        o.refund_user = q.ColumnInt(15);
        o.refund_amount = q.ColumnInt(16);
        o.refund_status = q.ColumnText(17);
        orders.push_back(std::move(o));
      });
  if (!st) return st;
  report.orders_checked = static_cast<int64_t>(orders.size());
  for (const auto& o : orders) CheckOrderAgainstLedger(o, report.findings);

  // Only PurchaseService writes purchases, always for an order; the exact text comparison
  // keeps "order:017" from passing for order 17.
  st = ForEachRow(
      db,
      "SELECT t.id, t.user_id, COALESCE(u.telegram_id, 0), t.amount, "
      " CAST(substr(t.reference, 7) AS INTEGER) FROM deposit_transactions t "
      "LEFT JOIN users u ON u.id = t.user_id "
      "WHERE t.type = 'purchase' AND t.reference LIKE 'order:%' AND NOT EXISTS ("
      " SELECT 1 FROM domain_orders o WHERE o.id = CAST(substr(t.reference, 7) AS INTEGER) "
      " AND 'order:' || o.id = t.reference) ORDER BY t.id",
      [&](const Statement& q) {
        Finding f;
        f.kind = Kind::kPurchaseWithoutOrder;
        f.transaction_id = q.ColumnInt(0);
        f.user_id = q.ColumnInt(1);
        f.telegram_id = q.ColumnInt(2);
        f.ledger_sum = q.ColumnInt(3);
        f.order_id = q.ColumnInt(4);
        report.findings.push_back(f);
      });
  if (!st) return st;
  return Status::Ok();
}

}  // namespace

std::string_view ToString(Finding::Kind kind) {
  switch (kind) {
    case Finding::Kind::kBalanceMismatch:
      return "balance_mismatch";
    case Finding::Kind::kNegativeBalance:
      return "negative_balance";
    case Finding::Kind::kOrphanTransaction:
      return "orphan_transaction";
    case Finding::Kind::kOrphanAccount:
      return "orphan_account";
    case Finding::Kind::kMissingAccount:
      return "missing_account";
    case Finding::Kind::kOrderPurchaseMissing:
      return "order_purchase_missing";
    case Finding::Kind::kOrderPurchaseMismatch:
      return "order_purchase_mismatch";
    case Finding::Kind::kOrderRefundUnexpected:
      return "order_refund_unexpected";
    case Finding::Kind::kOrderRefundMissing:
      return "order_refund_missing";
    case Finding::Kind::kOrderRefundMismatch:
      return "order_refund_mismatch";
    case Finding::Kind::kUnconfirmedOrderCharged:
      return "unconfirmed_order_charged";
    case Finding::Kind::kPurchaseWithoutOrder:
      return "purchase_without_order";
    case Finding::Kind::kRefundedButRegistered:
      return "refunded_but_registered";
    case Finding::Kind::kRegisteredNotAtRegistrar:
      return "registered_not_at_registrar";
  }
  return "balance_mismatch";
}

std::string Finding::Key() const {
  if (IsOrderFinding()) {
    return std::string(ToString(kind)) + ":order:" + std::to_string(order_id) + ":" +
           std::to_string(transaction_id);
  }
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
             std::to_string(user_id) + ", who does not exist (" + FormatAmount(ledger_sum, c) + ")";
    case Kind::kOrphanAccount:
      return "a balance of " + FormatAmount(balance, c) + " belongs to user " +
             std::to_string(user_id) + ", who does not exist";
    case Kind::kMissingAccount:
      return who + " has no balance row (ledger sum " + FormatAmount(ledger_sum, c) + ")";
    default:
      break;
  }
  const std::string tx = "#" + std::to_string(transaction_id);
  const std::string more = note.empty() ? "" : " (" + note + ")";
  if (kind == Kind::kPurchaseWithoutOrder) {
    return "purchase row " + tx + " of " + who + " debits " + FormatAmount(ledger_sum, c) +
           " for order #" + std::to_string(order_id) + ", which does not exist" + more;
  }
  std::string order = "order #" + std::to_string(order_id);
  if (!domain.empty()) {
    order += " (" + domain + (order_state.empty() ? "" : ", " + order_state) + ")";
  }
  order += " of " + who;
  switch (kind) {
    case Kind::kOrderPurchaseMissing:
      return order + " has no confirmed purchase of " + FormatAmount(balance, c) +
             " in the ledger" + more;
    case Kind::kOrderPurchaseMismatch:
      return order + " costs " + FormatAmount(balance, c) + " but its purchase row " + tx +
             " debits " + FormatAmount(ledger_sum, c) + more;
    case Kind::kOrderRefundUnexpected:
      return order + " was refunded " + FormatAmount(ledger_sum, c) + " (row " + tx +
             ") although the order is not refunded: the user has the money back" + more;
    case Kind::kOrderRefundMissing:
      return order + " is refunded, but the ledger has no confirmed refund of " +
             FormatAmount(balance, c) + " for its purchase row " + tx + more;
    case Kind::kOrderRefundMismatch:
      return order + " was charged " + FormatAmount(balance, c) + " but its refund row " + tx +
             " credits " + FormatAmount(ledger_sum, c) + more;
    case Kind::kUnconfirmedOrderCharged:
      return order + " was never confirmed, yet the ledger has purchase row " + tx + " of " +
             FormatAmount(ledger_sum, c) + more;
    case Kind::kRefundedButRegistered:
      return order + " was refunded " + FormatAmount(ledger_sum, c) +
             ", yet the registrar's account holds " + (domain.empty() ? "the name" : domain) +
             ": the user may have it for free" + more;
    case Kind::kRegisteredNotAtRegistrar:
      return order + " is registered, yet the registrar's account does not list " +
             (domain.empty() ? "the name" : domain) + more;
    default:
      break;
  }
  return order;
}

Result<ReconciliationReport> Reconciler::Run() {
  // Asked before the snapshot and outside the lock: the list is a network call.
  std::optional<RegistrarDomains> registrar;
  if (registrar_domains_) registrar = registrar_domains_();

  auto lock = db_.Lock();
  // One IMMEDIATE transaction: the scan sees one consistent state and the run
  // is recorded atomically with it.
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  ReconciliationReport report;
  report.started_at = clock_.NowSeconds();

  // The previous run's findings by their key, which every run stores as `detail`.
  std::map<std::string, Finding> previous;
  auto st = ForEachRow(
      db_,
      "SELECT kind, user_id, transaction_id, balance, ledger_sum, detail "
      "FROM reconciliation_findings WHERE run_id = (SELECT MAX(id) FROM reconciliation_runs)",
      [&](const Statement& q) {
        auto kind = ParseKind(q.ColumnText(0));
        if (!kind) return;
        Finding f;
        f.kind = *kind;
        f.user_id = q.ColumnInt(1);
        f.transaction_id = q.ColumnInt(2);
        f.balance = q.ColumnInt(3);
        f.ledger_sum = q.ColumnInt(4);
        std::string key = q.ColumnText(5);
        f.order_id = OrderIdFromKey(key);
        previous[key.empty() ? f.Key() : key] = f;
      });
  if (!st) return st.error();

  std::vector<OrderRow> orders;
  st = ScanBooks(db_, report, orders);
  if (!st) return st.error();

  if (registrar && !registrar->names) {
    report.registrar_not_compared =
        registrar->why_not.empty() ? "the registrar's list was not available" : registrar->why_not;
  } else if (registrar) {
    report.registrar_compared = true;
    std::set<std::string> held;
    for (const auto& name : *registrar->names) held.insert(AsciiLower(name));
    report.registrar_domains = static_cast<int64_t>(held.size());
    // A name with a live order (being bought, or bought) is explained by that order, whatever
    // earlier orders for it ended as.
    std::set<std::string> live;
    for (const auto& o : orders) {
      if (o.state == "charged" || o.state == "unknown" || o.state == "registered") {
        live.insert(AsciiLower(o.domain));
      }
    }
    const int64_t now = report.started_at;
    for (const auto& o : orders) {
      const std::string name = AsciiLower(o.domain);
      if (o.state == "refunded" && held.count(name) && !live.count(name)) {
        report.findings.push_back(
            OrderFinding(Kind::kRefundedButRegistered, o, o.price, o.refund_amount, o.refund_id));
      }
      // Looked for only between the lag after it registered and the end of its term (a name
      // that expired may leave the account).
      const int64_t term_end = o.updated_at + int64_t{o.years} * 366 * 86400;
      if (o.state == "registered" && !held.count(name) &&
          o.updated_at <= now - kRegistrarLagSeconds && now < term_end) {
        report.findings.push_back(OrderFinding(Kind::kRegisteredNotAtRegistrar, o, o.price,
                                               o.purchase_amount, o.purchase_id));
      }
    }
  }

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
  for (auto& [key, f] : previous) {
    if (f.order_id != 0) {
      // Name the order again as it is now; its row outlives the discrepancy.
      for (const auto& o : orders) {
        if (o.id != f.order_id) continue;
        f.domain = o.domain;
        f.order_state = o.state;
        f.telegram_id = o.telegram_id;
      }
    }
    report.resolved.push_back(f);
  }
  if (auto c = tx->Commit(); !c) return c.error();
  Log(report.clean() ? LogLevel::kInfo : LogLevel::kWarn, "reconcile.run",
      {{"run_id", std::to_string(report.run_id)},
       {"users", std::to_string(report.users_checked)},
       {"orders", std::to_string(report.orders_checked)},
       {"registrar", report.registrar_compared
                         ? "compared with " + std::to_string(report.registrar_domains) + " names"
                         : (report.registrar_not_compared.empty()
                                ? std::string("not given")
                                : "not compared: " + report.registrar_not_compared)},
       {"findings", std::to_string(report.findings.size())},
       {"new_or_changed", std::to_string(report.new_or_changed.size())},
       {"resolved", std::to_string(report.resolved.size())}});
  return report;
}

Result<std::vector<Finding>> Reconciler::Inspect() {
  auto lock = db_.Lock();
  ReconciliationReport report;
  std::vector<OrderRow> orders;
  if (auto st = ScanBooks(db_, report, orders); !st) return st.error();
  return std::move(report.findings);
}

Result<AlertDelta> Reconciler::PendingAlerts(const ReconciliationReport& report) {
  auto lock = db_.Lock();
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
  auto lock = db_.Lock();
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
  auto lock = db_.Lock();
  // Immediate: the delta is computed against what was alerted, and recorded, under one write
  // lock, so a second process reconciling at the same time sees this one's record.
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  if (db_.backend() == Database::Backend::kPostgres) {
    // PostgreSQL's READ COMMITTED takes no lock at BEGIN: two processes would both compute their
    // delta against the record as it was, and the later one, reading the earlier one's alert as
    // `previous`, would queue the same discrepancy a second time under another key. This lock
    // (released at commit or rollback) is SQLite's write lock here.
    if (auto st = db_.Exec("SELECT pg_advisory_xact_lock(hashtext('depositbot.reconcile_alerts'))");
        !st) {
      return st.error();
    }
  }
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
    canonical +=
        "+" + f.Key() + "=" + std::to_string(f.balance) + "/" + std::to_string(f.ledger_sum) + ";";
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
    out += "⚠️ Reconciliation: " + std::to_string(delta.new_or_changed.size()) + " discrepanc" +
           (delta.new_or_changed.size() == 1 ? "y" : "ies") +
           " between balances, the ledger, orders and the registrar (nothing was changed "
           "automatically):\n";
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
                    FormatUtc(r.started_at) + ": " + std::to_string(r.users_checked) + " users, " +
                    std::to_string(r.transactions_checked) + " ledger rows, " +
                    std::to_string(r.orders_checked) + " orders checked.\n";
  if (r.registrar_compared) {
    out += "Orders compared with the registrar's list of " + std::to_string(r.registrar_domains) +
           " domains.\n";
  } else if (!r.registrar_not_compared.empty()) {
    out += "Orders were not compared with the registrar: " + r.registrar_not_compared + ".\n";
  }
  if (r.clean()) {
    out +=
        "The books are clean: every balance equals its confirmed ledger sum and every order "
        "its ledger rows.\n";
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
    return nlohmann::json{{"kind", ToString(f.kind)},     {"user_id", f.user_id},
                          {"telegram_id", f.telegram_id}, {"transaction_id", f.transaction_id},
                          {"balance", f.balance},         {"ledger_sum", f.ledger_sum},
                          {"difference", f.Difference()}, {"order_id", f.order_id},
                          {"domain", f.domain},           {"description", f.Describe(c)}};
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
          {"orders_checked", r.orders_checked},
          {"registrar",
           {{"compared", r.registrar_compared},
            {"domains", r.registrar_domains},
            {"not_compared_because", r.registrar_not_compared}}},
          {"clean", r.clean()},
          {"findings", findings},
          {"new_or_changed", changed},
          {"resolved", resolved}};
}

}  // namespace depositbot
