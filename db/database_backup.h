#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "db/reconciler.h"

namespace depositbot {

// What a backup file holds, as `depositbot backup` and `restore` print it.
struct BackupContents {
  std::string file;
  int64_t bytes = 0;
  int schema_version = 0;                             // the newest migration it records
  std::vector<std::pair<std::string, int64_t>> rows;  // rows per table, in copy-db's order
  int64_t balance_sum = 0;
  int64_t latest_ledger_at = 0;   // created_at of its newest ledger row; 0 when it has none
  std::vector<Finding> findings;  // its reconciliation (empty: clean)
};

// Takes a consistent copy of the SQLite database `live` into the new file `file` while other
// processes keep writing it: SQLite's online backup API in one read transaction, so the copy is
// the database as it was at one commit. The copy is a self-contained file (rollback journal, no
// -wal beside it), synced, and checked with CheckBackup before it takes its name; a copy that
// fails the check is removed. Refused, with nothing written: a PostgreSQL `live` (the sentence
// says to use pg_dump), an existing `file` (a backup is never overwritten), a missing `live`.
Result<BackupContents> BackupDatabase(const std::string& live, const std::string& file);

// Opens `file` read-only (nothing is written to it or beside it) and checks that this binary can
// run on it: PRAGMA integrity_check says ok, it records its migrations, none edited and none
// newer than this binary's. Reconciliation findings are reported in the result, not refused:
// they are the books as they were.
Result<BackupContents> CheckBackup(const std::string& file);

struct RestoreReport {
  BackupContents restored;       // the target as restored
  std::string previous_kept_as;  // where the database it replaced was kept; empty: none existed
};

// Replaces the SQLite database `target` with the backup `file`. Refused, changing nothing: a
// PostgreSQL target (use pg_restore), a backup CheckBackup refuses, `file` being `target`, and a
// target in use: every process that opened it holds a shared lock on
// Database::InUseLockPath(target), and the restore takes it exclusively for its whole run, so it
// never overwrites a database a `serve` or `chat` is using, and none can start until it ends.
// The database it replaces is first copied, whole, to "<target>.before-restore-<UTC time>".
// The pages go in through SQLite's backup API, so the target's WAL is handled, not bypassed.
Result<RestoreReport> RestoreDatabase(const std::string& file, const std::string& target,
                                      int64_t now_seconds);

}  // namespace depositbot
