#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "db/reconciler.h"

namespace depositbot {

class Database;

// What `depositbot copy-db` copied and checked.
struct CopyReport {
  std::string from, to;                               // as given, passwords redacted
  int target_migrations_applied = 0;                  // migrations the empty target received
  std::vector<std::pair<std::string, int64_t>> rows;  // rows copied per table, in copy order
  int64_t balance_sum = 0;                            // the same on both
  // Tables of the source that depositbot's migrations do not create (made by hand): not copied.
  std::vector<std::string> left_out;
  // The source's reconciliation findings, which the copy has exactly too (empty: clean).
  std::vector<Finding> findings;
};

// Copies every row of depositbot's tables, with its ids, from the database `from` to the
// database `to` (each a SQLite path or a postgresql:// URI), for moving a bot between backends.
// `from` must exist and carry every migration of this binary; `to` is created (SQLite) and
// migrated to the latest version, and must hold no row in any of depositbot's tables. The rows
// go in in one transaction on `to`, parents before children; identity sequences are moved past
// the copied ids; then, before it commits, each table's rows (as text) and count, the balance
// sum and the reconciliation findings are compared with the source's, read in one snapshot.
// Fails with a sentence saying why, and nothing copied: a refusal (the same database, a missing
// source or one not migrated, a target with rows) changes nothing; a failure after the target
// was migrated leaves it migrated and empty. `from` is only read.
Result<CopyReport> CopyDatabase(const std::string& from, const std::string& to);

// Depositbot's tables as `db` has them (schema_migrations aside), in the order copy-db copies
// them: parents before the tables that refer to them, then any it does not know, by name.
Result<std::vector<std::string>> BookTables(Database& db);
// The columns of `table` in their declared order.
Result<std::vector<std::string>> TableColumns(Database& db, const std::string& table);

}  // namespace depositbot
