#include "db/database_copy.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "common/clock.h"
#include "common/log.h"
#include "db/database.h"
#include "db/migrator.h"

namespace depositbot {
namespace {

// Parents before the tables whose foreign keys point at them (migrations/*.sql).
constexpr std::string_view kCopyOrder[] = {"users",
                                           "user_deposits",
                                           "deposit_transactions",
                                           "domain_orders",
                                           "deposit_notifications",
                                           "reconciliation_runs",
                                           "reconciliation_findings",
                                           "reconciliation_alerts",
                                           "conversation_messages",
                                           "telegram_updates",
                                           "admin_alerts",
                                           "admin_alert_deliveries",
                                           "model_usage",
                                           "bank_notifications",
                                           "bank_notification_messages"};

// Rows fetched at a time from a PostgreSQL cursor: a large table never sits whole in memory.
constexpr int kFetchRows = 1000;

bool OnPostgres(const Database& db) { return db.backend() == Database::Backend::kPostgres; }

std::string Quoted(std::string_view identifier) {
  std::string out = "\"";
  for (char c : identifier) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

using Row = std::vector<std::optional<std::string>>;

// One table's rows as an order-independent digest (the sum of each row's hash, so two backends
// that list rows in different orders agree) and a count.
struct TableDigest {
  int64_t rows = 0;
  uint64_t sum = 0;
  void Add(const Row& row) {
    std::string text;
    for (const auto& v : row) {
      text += v ? "v" + std::to_string(v->size()) + ":" + *v : std::string("n");
    }
    sum += std::stoull(Sha256Hex(text).substr(0, 16), nullptr, 16);
    ++rows;
  }
  bool operator==(const TableDigest&) const = default;
};

Result<std::vector<std::string>> Strings(Database& db, const std::string& sql,
                                         std::optional<std::string> param = std::nullopt) {
  auto q = db.Prepare(sql);
  if (!q) return q.error();
  if (param) q->Bind(1, std::string_view(*param));
  std::vector<std::string> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(q->ColumnText(0));
  }
}

// Calls `on_row` with every row of `select` (each column as text, or nullopt for NULL). On
// PostgreSQL through a cursor in the caller's transaction, a page at a time.
template <typename F>
Status ForEachRow(Database& db, const std::string& select, int columns, F&& on_row) {
  auto read = [&](Statement& q) -> Result<int64_t> {
    int64_t n = 0;
    while (true) {
      auto more = q.Step();
      if (!more) return more.error();
      if (!*more) return n;
      Row row(static_cast<size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        if (!q.ColumnIsNull(c)) row[static_cast<size_t>(c)] = q.ColumnText(c);
      }
      if (auto st = on_row(row); !st) return st.error();
      ++n;
    }
  };
  if (!OnPostgres(db)) {
    auto q = db.Prepare(select);
    if (!q) return q.error();
    auto n = read(*q);
    return n ? Status::Ok() : Status(n.error());
  }
  if (auto st = db.Exec("DECLARE depositbot_copy NO SCROLL CURSOR FOR " + select); !st) return st;
  while (true) {
    auto q = db.Prepare("FETCH FORWARD " + std::to_string(kFetchRows) + " FROM depositbot_copy");
    if (!q) return q.error();
    auto n = read(*q);
    if (!n) return n.error();
    if (*n < kFetchRows) break;
  }
  return db.Exec("CLOSE depositbot_copy");
}

Result<int64_t> BalanceSum(Database& db) {
  // SUM fails on int64 overflow rather than rounding: money is never a double.
  auto q = db.Prepare("SELECT COALESCE(SUM(balance), 0) FROM user_deposits");
  if (!q) return q.error();
  auto row = q->Step();
  if (!row) return row.error();
  return q->ColumnInt(0);
}

// The first of `tables` that holds a row in `db` (skipping those `db` does not have), or "".
Result<std::string> FirstTableWithRows(Database& db, const std::vector<std::string>& tables) {
  auto have = BookTables(db);
  if (!have) return have.error();
  for (const auto& t : tables) {
    if (std::find(have->begin(), have->end(), t) == have->end()) continue;
    auto q = db.Prepare("SELECT 1 FROM " + Quoted(t) + " LIMIT 1");
    if (!q) return q.error();
    auto row = q->Step();
    if (!row) return row.error();
    if (*row) return t;
  }
  return std::string();
}

// Which PostgreSQL database a connection reaches, however its URI spells the host: the server
// (its port and start time) and the database's oid.
Result<std::string> PostgresIdentity(Database& db) {
  auto lock = db.Lock();
  auto q = db.Prepare(
      "SELECT current_setting('port') || ':' || CAST(pg_postmaster_start_time() AS TEXT) || ':' "
      "|| CAST(oid AS TEXT) FROM pg_database WHERE datname = current_database()");
  if (!q) return q.error();
  auto row = q->Step();
  if (!row) return row.error();
  return q->ColumnText(0);
}

std::string VersionName(int version) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%03d", version);
  return buf;
}

// Refuses a source that lacks a migration of this binary (or has one it does not know).
Status CheckSourceMigrated(Database& src, const std::string& from) {
  auto migrator = Migrator::ForEmbedded(src);
  if (!migrator) return migrator.error();
  auto states = migrator->States();
  if (!states) {
    return Error{states.error().code, "the source " + Database::Redacted(from) +
                                          " cannot be copied: " + states.error().message};
  }
  int applied = 0;
  bool gap = false;
  for (const auto& s : *states) {
    if (s.applied && !gap) {
      applied = s.migration.version;
    } else {
      gap = true;
    }
  }
  if (!gap) return Status::Ok();
  return Error::FailedPrecondition(
      "the source " + Database::Redacted(from) + " is " +
      (applied == 0 ? std::string("not migrated at all") : "at migration " + VersionName(applied)) +
      ", but this depositbot's latest is " + VersionName(migrator->LatestVersion()) +
      "; run `depositbot migrate` on it first (with DEPOSITBOT_DB set to it). Nothing was "
      "changed");
}

bool SameFindings(std::vector<Finding> a, std::vector<Finding> b) {
  auto key = [](const Finding& f) { return std::make_tuple(f.Key(), f.balance, f.ledger_sum); };
  auto less = [&](const Finding& x, const Finding& y) { return key(x) < key(y); };
  std::sort(a.begin(), a.end(), less);
  std::sort(b.begin(), b.end(), less);
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [&](const Finding& x, const Finding& y) { return key(x) == key(y); });
}

// The copy proper, with both databases locked: `src` read in one snapshot, `dst` written in
// one transaction that commits only when every check passed.
Status CopyRows(Database& src, Database& dst, const std::vector<std::string>& tables,
                CopyReport& report) {
  auto src_tx = Transaction::Begin(src, Transaction::Kind::kDeferred);
  if (!src_tx) return src_tx.error();
  auto tx = Transaction::Begin(dst, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  if (OnPostgres(dst)) {
    // SQLite's IMMEDIATE holds the one write lock; on PostgreSQL keep out another copy (or a
    // bot started too early) until this one commits.
    std::string list;
    for (const auto& t : tables) list += (list.empty() ? "" : ", ") + Quoted(t);
    if (auto st = dst.Exec("LOCK TABLE " + list + " IN EXCLUSIVE MODE"); !st) return st;
  }
  // Checked again under the lock: another process may have written since the first look.
  auto busy = FirstTableWithRows(dst, tables);
  if (!busy) return busy.error();
  if (!busy->empty()) return Error::Conflict("table " + *busy + " received rows meanwhile");

  std::map<std::string, TableDigest> copied;
  for (const auto& table : tables) {
    auto columns = TableColumns(src, table);
    if (!columns) return columns.error();
    auto target_columns = TableColumns(dst, table);
    if (!target_columns) return target_columns.error();
    std::string names, marks;
    for (const auto& c : *columns) {
      if (std::find(target_columns->begin(), target_columns->end(), c) == target_columns->end()) {
        return Error::FailedPrecondition("the target's table " + table + " has no column " + c);
      }
      names += (names.empty() ? "" : ", ") + Quoted(c);
      marks += marks.empty() ? "?" : ", ?";
    }
    const std::string insert =
        "INSERT INTO " + Quoted(table) + " (" + names + ") VALUES (" + marks + ")";
    TableDigest& digest = copied[table];
    // Every value goes as text: SQLite's column affinity and PostgreSQL's parameter inference
    // turn "42" into the column's integer, and a value that does not fit fails the copy rather
    // than being changed.
    auto st =
        ForEachRow(src, "SELECT " + names + " FROM " + Quoted(table),
                   static_cast<int>(columns->size()), [&](const Row& row) -> Status {
                     auto ins = dst.Prepare(insert);
                     if (!ins) return ins.error();
                     for (size_t i = 0; i < row.size(); ++i)
                       ins->Bind(static_cast<int>(i + 1), row[i]);
                     if (auto r = ins->Run(); !r) {
                       return Error{r.error().code, "table " + table + ": " + r.error().message};
                     }
                     digest.Add(row);
                     return Status::Ok();
                   });
    if (!st) return st;
    report.rows.emplace_back(table, digest.rows);
  }

  if (OnPostgres(dst)) {
    // Explicit ids leave each identity sequence where it was; the next insert would collide.
    for (const auto& table : tables) {
      auto identity = Strings(dst,
                              "SELECT column_name FROM information_schema.columns "
                              "WHERE table_schema = current_schema() AND table_name = ? "
                              "AND is_identity = 'YES'",
                              table);
      if (!identity) return identity.error();
      for (const auto& column : *identity) {
        auto q = dst.Prepare("SELECT setval(pg_get_serial_sequence(?, ?), MAX(" + Quoted(column) +
                             ")) FROM " + Quoted(table) + " HAVING MAX(" + Quoted(column) +
                             ") IS NOT NULL");
        if (!q) return q.error();
        q->Bind(1, std::string_view(Quoted(table))).Bind(2, std::string_view(column));
        if (auto r = q->Run(); !r) return r;
      }
    }
  }

  // The checks, before COMMIT: a copy that differs is rolled back.
  for (const auto& table : tables) {
    auto columns = TableColumns(src, table);
    if (!columns) return columns.error();
    std::string names;
    for (const auto& c : *columns) names += (names.empty() ? "" : ", ") + Quoted(c);
    TableDigest written;
    auto st = ForEachRow(dst, "SELECT " + names + " FROM " + Quoted(table),
                         static_cast<int>(columns->size()), [&](const Row& row) {
                           written.Add(row);
                           return Status::Ok();
                         });
    if (!st) return st;
    if (!(written == copied[table])) {
      return Error::Internal("table " + table + " reads back differently on the target (" +
                             std::to_string(written.rows) + " rows for " +
                             std::to_string(copied[table].rows) + " copied)");
    }
  }
  auto src_sum = BalanceSum(src);
  if (!src_sum) return src_sum.error();
  auto dst_sum = BalanceSum(dst);
  if (!dst_sum) return dst_sum.error();
  if (*src_sum != *dst_sum) {
    return Error::Internal("the balance sum is " + std::to_string(*dst_sum) +
                           " on the target but " + std::to_string(*src_sum) + " on the source");
  }
  report.balance_sum = *src_sum;
  SystemClock clock;
  auto src_findings = Reconciler(src, clock).Inspect();
  if (!src_findings) return src_findings.error();
  auto dst_findings = Reconciler(dst, clock).Inspect();
  if (!dst_findings) return dst_findings.error();
  if (!SameFindings(*src_findings, *dst_findings)) {
    return Error::Internal("reconciling the target finds " + std::to_string(dst_findings->size()) +
                           " discrepancies where the source has " +
                           std::to_string(src_findings->size()));
  }
  report.findings = std::move(*src_findings);
  return tx->Commit();
}

}  // namespace

Result<std::vector<std::string>> BookTables(Database& db) {
  auto lock = db.Lock();
  auto names = Strings(db, OnPostgres(db) ? "SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = current_schema() "
                                            "AND table_type = 'BASE TABLE'"
                                          : "SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND substr(name, 1, 7) <> 'sqlite_'");
  if (!names) return names.error();
  std::set<std::string> have(names->begin(), names->end());
  have.erase("schema_migrations");
  std::vector<std::string> out;
  for (std::string_view t : kCopyOrder) {
    if (have.erase(std::string(t))) out.emplace_back(t);
  }
  out.insert(out.end(), have.begin(), have.end());
  return out;
}

Result<std::vector<std::string>> TableColumns(Database& db, const std::string& table) {
  auto lock = db.Lock();
  return Strings(db,
                 OnPostgres(db) ? "SELECT column_name FROM information_schema.columns "
                                  "WHERE table_schema = current_schema() AND table_name = ? "
                                  "ORDER BY ordinal_position"
                                : "SELECT name FROM pragma_table_info(?) ORDER BY cid",
                 table);
}

Result<CopyReport> CopyDatabase(const std::string& from, const std::string& to) {
  CopyReport report;
  report.from = Database::Redacted(from);
  report.to = Database::Redacted(to);
  const std::string nothing = " Nothing was changed.";
  if (from == to) {
    return Error::Invalid("--from and --to are the same database (" + report.from +
                          "); copy-db copies a bot into another, empty one." + nothing);
  }
  const bool src_pg = Database::IsPostgresTarget(from);
  const bool dst_pg = Database::IsPostgresTarget(to);
  std::error_code ec;
  if (!src_pg && !std::filesystem::is_regular_file(from, ec)) {
    return Error::NotFound("the source " + report.from + " does not exist (or is not a file)." +
                           nothing);
  }
  if (!src_pg && !dst_pg && std::filesystem::exists(to, ec) &&
      std::filesystem::equivalent(from, to, ec)) {
    return Error::Invalid("--from " + report.from + " and --to " + report.to +
                          " are the same file; copy-db copies a bot into another, empty "
                          "database." +
                          nothing);
  }
  Database::Options options;
  options.pool_size = 2;
  options.create = false;
  auto src = Database::Open(from, options);
  if (!src) return Error{src.error().code, "cannot open the source: " + src.error().message};
  if (auto st = CheckSourceMigrated(**src, from); !st) return st.error();
  auto tables = BookTables(**src);
  if (!tables) return tables.error();

  options.create = true;
  auto dst = Database::Open(to, options);
  if (!dst) return Error{dst.error().code, "cannot open the target: " + dst.error().message};
  if (src_pg && dst_pg) {
    auto a = PostgresIdentity(**src);
    if (!a) return a.error();
    auto b = PostgresIdentity(**dst);
    if (!b) return b.error();
    if (*a == *b) {
      return Error::Invalid("--from " + report.from + " and --to " + report.to +
                            " are the same PostgreSQL database; copy-db copies a bot into "
                            "another, empty one." +
                            nothing);
    }
  }
  {
    auto lock = (*dst)->Lock();
    auto busy = FirstTableWithRows(**dst, *tables);
    if (!busy) return Error{busy.error().code, "cannot read the target: " + busy.error().message};
    if (!busy->empty()) {
      return Error::FailedPrecondition(
          "the target " + report.to + " is not empty: its table " + *busy +
          " has rows. copy-db copies only into a database without depositbot's data (create a "
          "new one, or empty this one yourself if it is a copy you no longer need)." +
          nothing);
    }
  }
  auto migrator = Migrator::ForEmbedded(**dst);
  if (!migrator) return migrator.error();
  auto applied = migrator->Apply();
  if (!applied) {
    return Error{applied.error().code,
                 "cannot migrate the target " + report.to + ": " + applied.error().message};
  }
  report.target_migrations_applied = *applied;
  // Both are at the same version now, so a table only the source has is not depositbot's (one
  // an operator made by hand): it is left out, and the summary says so.
  auto target_tables = BookTables(**dst);
  if (!target_tables) return target_tables.error();
  std::vector<std::string> copied;
  for (const auto& t : *tables) {
    if (std::find(target_tables->begin(), target_tables->end(), t) != target_tables->end()) {
      copied.push_back(t);
    } else {
      report.left_out.push_back(t);
    }
  }

  Status st = [&] {
    auto src_lock = (*src)->Lock();
    auto dst_lock = (*dst)->Lock();
    return CopyRows(**src, **dst, copied, report);
  }();
  if (!st) {
    return Error{st.error().code, "copying into " + report.to +
                                      " failed and was rolled back, so this run left no row "
                                      "there (the source is untouched): " +
                                      st.error().message};
  }
  Log(LogLevel::kInfo, "db.copied",
      {{"from", report.from},
       {"to", report.to},
       {"balance_sum", std::to_string(report.balance_sum)},
       {"findings", std::to_string(report.findings.size())}});
  return report;
}

}  // namespace depositbot
