#pragma once

#include <string>
#include <vector>

#include "common/embedded_file.h"
#include "common/result.h"

namespace depositbot {

class Database;

// One numbered schema change, from migrations/NNN_name.sql.
struct Migration {
  int version = 0;
  std::string name;  // "001_initial.sql"
  std::string sql;
  std::string checksum;  // SHA-256 hex of sql
};

struct MigrationState {
  Migration migration;
  bool applied = false;
  int64_t applied_at = 0;
};

// The migrations compiled into this binary, in order.
const std::vector<EmbeddedFile>& EmbeddedMigrationFiles();
// Parses and orders files named NNN_name.sql; refuses gaps and duplicates.
Result<std::vector<Migration>> LoadMigrations(const std::vector<EmbeddedFile>& files);
std::string Sha256Hex(std::string_view data);

// Applies migrations in order, each in its own IMMEDIATE transaction together
// with its schema_migrations row. Refuses to run (changing nothing) when an
// applied migration's checksum differs from the file, or when the database has
// a migration this binary does not know (it is newer than the binary).
class Migrator {
 public:
  Migrator(Database& db, std::vector<Migration> migrations);
  // Uses the embedded migrations.
  static Result<Migrator> ForEmbedded(Database& db);

  // Applies pending migrations up to `target_version` (default: all);
  // returns how many were applied.
  Result<int> Apply(int target_version = 1 << 30);
  // Every known migration with whether and when it was applied.
  Result<std::vector<MigrationState>> States();
  int LatestVersion() const;

 private:
  Status EnsureTable();
  Database& db_;
  std::vector<Migration> migrations_;
};

}  // namespace depositbot
