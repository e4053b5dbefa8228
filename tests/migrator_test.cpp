#include "db/migrator.h"

#include <doctest/doctest.h>

#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <thread>

#include "db/database.h"
#include "db/deposit_repository.h"
#include "tests/fakes/ledger_builder.h"

using namespace depositbot;
using depositbot::testing::CheckBooks;
using depositbot::testing::QueryInt;
using depositbot::testing::TestDb;

namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The next free migration file name, e.g. "004_x.sql" when 003 is the latest.
std::string NextName(const std::vector<EmbeddedFile>& files, const std::string& suffix) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%03d", static_cast<int>(files.size()) + 1);
  return std::string(buf) + "_" + suffix + ".sql";
}

std::vector<Migration> Embedded() {
  auto m = LoadMigrations(EmbeddedMigrationFiles());
  REQUIRE(m);
  return *m;
}

bool HasColumn(Database& db, const std::string& table, const std::string& column) {
  return QueryInt(db, "SELECT COUNT(*) FROM pragma_table_info('" + table + "') WHERE name = '" +
                          column + "'") == 1;
}

bool HasIndex(Database& db, const std::string& name) {
  return QueryInt(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = '" +
                          name + "'") == 1;
}

std::string SchemaMigrationsDump(Database& db) {
  auto q = db.Prepare("SELECT version, name, checksum, applied_at FROM schema_migrations "
                      "ORDER BY version");
  REQUIRE(q);
  std::string out;
  while (*q->Step()) {
    out += std::to_string(q->ColumnInt(0)) + q->ColumnText(1) + q->ColumnText(2) +
           std::to_string(q->ColumnInt(3)) + ";";
  }
  return out;
}

}  // namespace

TEST_CASE("a fresh database migrates to the latest version with the fixed names") {
  TestDb t(TestDb::kMemory, false);
  Migrator m(t.db(), Embedded());
  const int latest = static_cast<int>(Embedded().size());
  REQUIRE(latest >= 2);
  auto n = m.Apply();
  REQUIRE(n);
  CHECK(*n == latest);
  CHECK(m.LatestVersion() == latest);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM schema_migrations") == latest);
  CHECK(HasColumn(t.db(), "users", "telegram_id"));
  CHECK(HasColumn(t.db(), "user_deposits", "balance"));
  CHECK(HasColumn(t.db(), "user_deposits", "version"));
  CHECK(HasIndex(t.db(), "idx_deposits_user_version"));
  for (auto col : {"id", "user_id", "type", "amount", "status"}) {
    CHECK(HasColumn(t.db(), "deposit_transactions", col));
  }
}

TEST_CASE("applying again applies nothing and leaves the records alone") {
  TestDb t(TestDb::kMemory);
  std::string before = SchemaMigrationsDump(t.db());
  auto m = Migrator::ForEmbedded(t.db());
  REQUIRE(m);
  auto n = m->Apply();
  REQUIRE(n);
  CHECK(*n == 0);
  CHECK(SchemaMigrationsDump(t.db()) == before);
}

TEST_CASE("Apply(1) stops at 001: no version column yet") {
  TestDb t(TestDb::kMemory, false);
  Migrator m(t.db(), Embedded());
  auto n = m.Apply(1);
  REQUIRE(n);
  CHECK(*n == 1);
  CHECK_FALSE(HasColumn(t.db(), "user_deposits", "version"));
  CHECK_FALSE(HasIndex(t.db(), "idx_deposits_user_version"));
  auto states = m.States();
  REQUIRE(states);
  REQUIRE(states->size() == Embedded().size());
  CHECK((*states)[0].applied);
  CHECK((*states)[0].migration.name == "001_initial.sql");
  CHECK_FALSE((*states)[1].applied);
  CHECK((*states)[1].migration.name == "002_add_version_column.sql");
}

TEST_CASE("upgrading a 001 database with money in it keeps every balance and starts at version 1") {
  TestDb t(TestDb::kFile, false);
  Migrator m(t.db(), Embedded());
  REQUIRE(m.Apply(1));
  // The books of an existing deployment, written as 001 knew them.
  REQUIRE(t.db().Exec(
      "INSERT INTO users(id, telegram_id, display_name, created_at) VALUES"
      " (1, 1001, 'Alice', 100), (2, 1002, 'Bob', 100), (3, 1003, 'Carol', 100);"
      "INSERT INTO user_deposits(user_id, balance, updated_at) VALUES"
      " (1, 45000, 200), (2, 0, 200), (3, 7, 200);"
      "INSERT INTO deposit_transactions(user_id, type, amount, direction, status, depositor_name,"
      " reference, created_at) VALUES"
      " (1, 'deposit', 50000, 1, 'confirmed', 'ALICE', NULL, 150),"
      " (1, 'purchase', 5000, -1, 'confirmed', NULL, 'order:1', 160),"
      " (2, 'deposit', 9000, 1, 'pending', 'BOB', NULL, 170),"
      " (3, 'deposit', 10, 1, 'confirmed', 'CAROL', NULL, 150),"
      " (3, 'adjustment', 3, -1, 'confirmed', NULL, NULL, 180);"));
  REQUIRE(CheckBooks(t.db()).ok());

  auto n = m.Apply();
  REQUIRE(n);
  CHECK(*n == static_cast<int>(Embedded().size()) - 1);
  CHECK(QueryInt(t.db(), "SELECT balance FROM user_deposits WHERE user_id = 1") == 45000);
  CHECK(QueryInt(t.db(), "SELECT balance FROM user_deposits WHERE user_id = 2") == 0);
  CHECK(QueryInt(t.db(), "SELECT balance FROM user_deposits WHERE user_id = 3") == 7);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM user_deposits WHERE version = 1") == 3);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM deposit_transactions") == 5);
  CHECK(CheckBooks(t.db()).ok());

  // The repository works on the upgraded books.
  DepositRepository repo(t.db(), t.clock());
  auto pending = repo.Pending(10);
  REQUIRE(pending);
  REQUIRE(pending->size() == 1);
  auto confirmed = repo.Confirm((*pending)[0].id, 1);
  REQUIRE(confirmed);
  auto bob = repo.GetAccount(2);
  REQUIRE(bob);
  CHECK(bob->balance == 9000);
  CHECK(bob->version == 2);
  REQUIRE(repo.Purchase(1, 45000, "order:2", "everything"));
  CHECK(repo.GetAccount(1)->balance == 0);
  CHECK(CheckBooks(t.db()).ok());
}

TEST_CASE("an applied migration that was edited afterwards is refused and nothing changes") {
  TestDb t(TestDb::kMemory, false);
  auto files = EmbeddedMigrationFiles();
  REQUIRE(Migrator(t.db(), *LoadMigrations(files)).Apply(1));
  std::string before = SchemaMigrationsDump(t.db());

  std::string edited = std::string(files[0].content) + "\n-- a harmless-looking comment\n";
  files[0].content = edited;
  Migrator m(t.db(), *LoadMigrations(files));
  auto n = m.Apply();
  REQUIRE_FALSE(n);
  CHECK(n.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(n.error().message, "001_initial.sql"));
  CHECK(Contains(n.error().message, "edited"));
  CHECK(SchemaMigrationsDump(t.db()) == before);
  CHECK_FALSE(HasColumn(t.db(), "user_deposits", "version"));  // 002 was not applied either
  CHECK_FALSE(m.States());
}

TEST_CASE("a migration that is not yet applied may still change") {
  TestDb t(TestDb::kMemory, false);
  auto files = EmbeddedMigrationFiles();
  REQUIRE(Migrator(t.db(), *LoadMigrations(files)).Apply(1));
  std::string edited = std::string(files[1].content) + "\nCREATE TABLE extra(x INTEGER);\n";
  files[1].content = edited;
  auto n = Migrator(t.db(), *LoadMigrations(files)).Apply();
  REQUIRE(n);
  CHECK(*n == static_cast<int>(files.size()) - 1);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'extra'") == 1);
}

TEST_CASE("a database migrated by a newer binary is refused by an older one") {
  TestDb t(TestDb::kMemory, false);
  auto files = EmbeddedMigrationFiles();
  const std::string future = NextName(files, "future");
  files.push_back({future, "CREATE TABLE future(x INTEGER);"});
  auto newer = LoadMigrations(files);
  REQUIRE(newer);
  REQUIRE(Migrator(t.db(), *newer).Apply());
  std::string before = SchemaMigrationsDump(t.db());

  Migrator old(t.db(), Embedded());
  auto n = old.Apply();
  REQUIRE_FALSE(n);
  CHECK(n.code() == ErrorCode::kFailedPrecondition);
  CHECK(Contains(n.error().message, future));
  CHECK(Contains(n.error().message, "newer"));
  CHECK(SchemaMigrationsDump(t.db()) == before);
}

TEST_CASE("a migration that fails is rolled back completely and not recorded") {
  TestDb t(TestDb::kMemory, false);
  auto files = EmbeddedMigrationFiles();
  const std::string broken = NextName(files, "broken");
  files.push_back({broken,
                   "CREATE TABLE half_done(x INTEGER);\nINSERT INTO no_such_table VALUES (1);"});
  auto loaded = LoadMigrations(files);
  REQUIRE(loaded);
  Migrator m(t.db(), *loaded);
  auto n = m.Apply();
  REQUIRE_FALSE(n);
  CHECK(Contains(n.error().message, broken));
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'") == 0);
  CHECK(QueryInt(t.db(), "SELECT MAX(version) FROM schema_migrations") ==
        static_cast<int64_t>(files.size()) - 1);
}

TEST_CASE("migration files must be named NNN_name.sql and numbered without gaps") {
  CHECK_FALSE(LoadMigrations({{"1_initial.sql", ""}}));
  CHECK_FALSE(LoadMigrations({{"001_initial.txt", ""}}));
  CHECK_FALSE(LoadMigrations({{"abc_initial.sql", ""}}));
  auto gap = LoadMigrations({{"001_a.sql", ""}, {"003_c.sql", ""}});
  REQUIRE_FALSE(gap);
  CHECK(Contains(gap.error().message, "003_c.sql"));
  CHECK_FALSE(LoadMigrations({{"001_a.sql", ""}, {"001_b.sql", ""}}));
  CHECK_FALSE(LoadMigrations({{"002_b.sql", ""}}));
}

TEST_CASE("migrations given out of order are applied in numeric order") {
  auto m = LoadMigrations({{"002_b.sql", "y"}, {"001_a.sql", "x"}});
  REQUIRE(m);
  REQUIRE(m->size() == 2);
  CHECK((*m)[0].name == "001_a.sql");
  CHECK((*m)[1].version == 2);
  CHECK((*m)[0].checksum == Sha256Hex("x"));
}

TEST_CASE("checksums are SHA-256 in lower-case hex") {
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("the embedded migrations are the files in migrations/") {
  const char* src = std::getenv("DEPOSITBOT_SOURCE_DIR");
  REQUIRE(src);
  auto m = Embedded();
  REQUIRE(m.size() >= 2);
  for (const auto& mig : m) {
    std::ifstream in(std::string(src) + "/migrations/" + mig.name, std::ios::binary);
    REQUIRE(in);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    CHECK(Sha256Hex(text) == mig.checksum);
  }
}

TEST_CASE("States reports when each migration was applied") {
  TestDb t(TestDb::kMemory);
  auto m = Migrator::ForEmbedded(t.db());
  REQUIRE(m);
  auto states = m->States();
  REQUIRE(states);
  for (const auto& s : *states) {
    CHECK(s.applied);
    CHECK(s.applied_at > 1'600'000'000);
  }
}

TEST_CASE("several processes' connections migrating one fresh file at once all succeed") {
  // Two `depositbot` processes started together on a new file both migrate it.
  for (int round = 0; round < 5; ++round) {
    TestDb t(TestDb::kFile, false);
    constexpr int kConnections = 4;
    std::vector<std::unique_ptr<Database>> dbs;
    for (int i = 0; i < kConnections; ++i) dbs.push_back(t.OpenAnother());
    std::vector<std::string> errors(kConnections);
    auto migrations = Embedded();
    std::barrier start(kConnections);
    std::vector<std::thread> threads;
    for (int i = 0; i < kConnections; ++i) {
      threads.emplace_back([&, i] {
        Migrator m(*dbs[static_cast<size_t>(i)], migrations);
        start.arrive_and_wait();
        auto n = m.Apply();
        if (!n) errors[static_cast<size_t>(i)] = n.error().message;
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& e : errors) CHECK_MESSAGE(e.empty(), e);
    CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM schema_migrations") ==
          static_cast<int64_t>(migrations.size()));
  }
}
