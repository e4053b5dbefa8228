#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
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

// The migrations compiled into this binary, in order: SQLite's (migrations/*.sql) and
// PostgreSQL's (migrations/postgresql/*.sql, the same versions in PostgreSQL's types).
const std::vector<EmbeddedFile>& EmbeddedMigrationFiles();
const std::vector<EmbeddedFile>& EmbeddedPostgresMigrationFiles();
// Parses and orders files named NNN_name.sql; refuses gaps and duplicates.
Result<std::vector<Migration>> LoadMigrations(const std::vector<EmbeddedFile>& files);
std::string Sha256Hex(std::string_view data);

// The row count of each table migration 001 creates (in 001's order) and the
// sum of all balances: what adopting and upgrading a database must not change.
struct BookCounts {
  std::vector<std::pair<std::string, int64_t>> rows;
  int64_t balance_sum = 0;
  bool operator==(const BookCounts&) const = default;
};

// What Migrator::Migrate did.
struct MigrateReport {
  // The books as found, when an unversioned database was adopted, and as they
  // are after the upgrade (they differ only if another process wrote meanwhile).
  std::optional<BookCounts> adopted;
  std::optional<BookCounts> after;
  std::vector<int> applied;  // the versions applied by this run, in order
};

// "users 3 -> 2, balance sum 45000 -> 0"; empty when nothing differs.
std::string DescribeChange(const BookCounts& before, const BookCounts& after);

// Applies migrations in order, each in its own IMMEDIATE transaction together
// with its schema_migrations row. Every migration after the first must leave
// the books (BookCounts) as they were; one that does not is rolled back.
// Refuses to run (changing nothing) when an applied migration's checksum
// differs from the file, or when the database has a migration this binary does
// not know (it is newer than the binary).
//
// An "unversioned" database has tables but no schema_migrations rows (it was
// created before depositbot recorded its migrations, e.g. by running 001's SQL
// by hand). Only Migrate() adopts one, and only when its schema is exactly what
// 001 creates; Apply() refuses it, so start-up never guesses.
class Migrator {
 public:
  Migrator(Database& db, std::vector<Migration> migrations);
  // Uses the embedded migrations.
  static Result<Migrator> ForEmbedded(Database& db);

  // Applies pending migrations up to `target_version` (default: all);
  // returns how many were applied. An unversioned database is refused with one
  // line telling the operator to run `depositbot migrate`; nothing changes.
  Result<int> Apply(int target_version = 1 << 30);
  // `depositbot migrate`: adopts an unversioned database at 001 (one IMMEDIATE
  // transaction: the check, the counts and the schema_migrations row), then
  // applies every pending migration (each checked to keep the books) and counts
  // the books again. A database that differs from 001 is refused with
  // kFailedPrecondition naming each difference on its own line; nothing changes.
  Result<MigrateReport> Migrate();
  // Every known migration with whether and when it was applied. Read-only.
  Result<std::vector<MigrationState>> States();
  // True when the database has tables but schema_migrations records nothing.
  Result<bool> IsUnversioned();
  // Read-only: Ok when the database's tables, columns, indexes and constraints
  // are exactly those 001 creates; otherwise kFailedPrecondition listing the
  // differences, one per line (a table of a later migration is one).
  Status CheckAdoptable();
  // Row counts of 001's tables and the balance sum, as the database has them now.
  Result<BookCounts> CountBooks();
  int LatestVersion() const;

 private:
  Status EnsureTable();
  // Adopts an unversioned database at 001; nullopt when there was nothing to adopt.
  Result<std::optional<BookCounts>> Adopt();
  Result<std::vector<int>> ApplyPending(int target_version);
  Database& db_;
  std::vector<Migration> migrations_;
  std::vector<std::string> book_tables_;  // 001's tables, in order; filled on first count
};

}  // namespace depositbot
