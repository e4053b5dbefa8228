#pragma once

#include <string>

#include "app/config.h"

namespace depositbot {

// `depositbot backup FILE`: a consistent copy of the configured SQLite database while the bot
// runs (db/database_backup.h), then what it holds: tables, balance sum, newest ledger row,
// reconciliation. Exit 0 for a clean copy, 1 when the copy is good but its books have
// discrepancies (listed; they are the live database's), 2 when no backup was written (one line
// on stderr: PostgreSQL, an existing FILE, a failed check).
int RunBackup(const Config& config, const std::string& file);

// `depositbot restore FILE`: replaces the configured SQLite database with a checked backup,
// keeping the one it replaces; refused while any depositbot uses it. Exit 0 when restored, 2 when
// refused (nothing changed).
int RunRestore(const Config& config, const std::string& file);

}  // namespace depositbot
