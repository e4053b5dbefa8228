#include "db/migrator.h"

#include <doctest/doctest.h>

#include <barrier>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

#include "db/database.h"
#include "db/deposit_repository.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using depositbot::testing::CheckBooks;
using depositbot::testing::QueryInt;
using depositbot::testing::TestDb;

namespace {

using depositbot::testing::Contains;

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
  auto q = db.Prepare(
      "SELECT version, name, checksum, applied_at FROM schema_migrations "
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
  files.push_back(
      {broken, "CREATE TABLE half_done(x INTEGER);\nINSERT INTO no_such_table VALUES (1);"});
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

// ---- adopting a database made before schema_migrations (issue 11, item 7) ----

namespace {

// 001's books, written by hand: 3 users, balances 45000 + 0 + 7, five ledger rows.
constexpr int64_t kSeedUsers = 3;
constexpr int64_t kSeedTransactions = 5;
constexpr int64_t kSeedBalanceSum = 45000 + 0 + 7;

void InsertSeedBooks(Database& db) {
  REQUIRE(db.Exec(
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
}

// A database as the seed worker left it: 001's SQL run by hand (optionally
// edited by `edit`), books in it, no schema_migrations.
void MakeUnversioned(Database& db, const std::function<std::string(std::string)>& edit = nullptr) {
  std::string sql = Embedded().front().sql;
  if (edit) sql = edit(sql);
  REQUIRE(db.Exec(sql));
  InsertSeedBooks(db);
}

std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return text.replace(at, from.size(), to);
}

std::string QueryText(Database& db, const std::string& sql) {
  auto q = db.Prepare(sql);
  REQUIRE(q);
  auto row = q->Step();
  REQUIRE(row);
  return *row && !q->ColumnIsNull(0) ? q->ColumnText(0) : std::string();
}

// Every schema object and every row of every table, as text: "nothing changed"
// means this is equal before and after.
std::string Snapshot(Database& db) {
  std::string out =
      QueryText(db,
                "SELECT group_concat(type || ' ' || name || ' ' || ifnull(sql, ''), '\n') FROM "
                "(SELECT * FROM sqlite_master ORDER BY name)");
  auto tables = db.Prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' "
      "ORDER BY name");
  REQUIRE(tables);
  while (*tables->Step()) {
    std::string table = tables->ColumnText(0);
    std::string columns =
        QueryText(db,
                  "SELECT group_concat('quote(\"' || name || '\")', ' || '','' || ') FROM "
                  "pragma_table_info('" +
                      table + "')");
    out += "\n" + table + ": " +
           QueryText(db, "SELECT group_concat(" + columns + ", ';') FROM \"" + table + "\"");
  }
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    out.push_back(text.substr(start, nl - start));
  }
  out.push_back(text.substr(start));
  return out;
}

// True when `text` has the difference line `line`; a `line` ending in "..." matches a prefix.
bool HasLine(const std::string& text, const std::string& line) {
  const bool prefix = line.size() > 3 && line.compare(line.size() - 3, 3, "...") == 0;
  const std::string want = "  - " + (prefix ? line.substr(0, line.size() - 3) : line);
  for (const auto& l : Lines(text)) {
    if (prefix ? l.rfind(want, 0) == 0 : l == want) return true;
  }
  return false;
}

// Refusal and its guarantees: the differences named one per line, nothing changed.
std::string RefusedUnchanged(Database& db) {
  std::string before = Snapshot(db);
  Migrator m(db, Embedded());
  auto r = m.Migrate();
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kFailedPrecondition);
  CHECK_FALSE(Contains(r.error().message, "already exists"));
  CHECK(Snapshot(db) == before);
  CHECK(QueryInt(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'") == 0);
  return r.error().message;
}

}  // namespace

TEST_CASE(
    "a populated 001 database without schema_migrations is adopted at 001 and upgraded "
    "with every row and balance kept") {
  TestDb t(TestDb::kFile, false);
  MakeUnversioned(t.db());
  REQUIRE(CheckBooks(t.db()).ok());

  Migrator m(t.db(), Embedded());
  auto report = m.Migrate();
  REQUIRE_MESSAGE(report, (report ? "" : report.error().message));
  REQUIRE(report->adopted);
  const BookCounts& found = *report->adopted;
  REQUIRE(found.rows.size() == 5);
  CHECK(found.rows[0] == std::pair<std::string, int64_t>{"users", kSeedUsers});
  CHECK(found.rows[1] == std::pair<std::string, int64_t>{"user_deposits", kSeedUsers});
  CHECK(found.rows[2] ==
        std::pair<std::string, int64_t>{"deposit_transactions", kSeedTransactions});
  CHECK(found.rows[3] == std::pair<std::string, int64_t>{"reconciliation_runs", 0});
  CHECK(found.rows[4] == std::pair<std::string, int64_t>{"reconciliation_findings", 0});
  CHECK(found.balance_sum == kSeedBalanceSum);
  std::vector<int> later;
  for (int v = 2; v <= m.LatestVersion(); ++v) later.push_back(v);
  CHECK(report->applied == later);

  // Recorded at 001 with 001's checksum, then upgraded by the normal path.
  CHECK(QueryText(t.db(), "SELECT checksum FROM schema_migrations WHERE version = 1") ==
        Embedded().front().checksum);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM schema_migrations") == m.LatestVersion());
  CHECK(HasColumn(t.db(), "user_deposits", "version"));
  CHECK(HasIndex(t.db(), "idx_deposits_user_version"));
  REQUIRE(report->after);
  CHECK(*report->after == found);
  auto after = m.CountBooks();
  REQUIRE(after);
  CHECK(*after == found);
  CHECK(QueryInt(t.db(), "SELECT SUM(balance) FROM user_deposits") == kSeedBalanceSum);
  CHECK(CheckBooks(t.db()).ok());

  // The repository works on the adopted books.
  DepositRepository repo(t.db(), t.clock());
  auto pending = repo.Pending(10);
  REQUIRE(pending);
  REQUIRE(pending->size() == 1);
  REQUIRE(repo.Confirm((*pending)[0].id, 1));
  CHECK(repo.GetAccount(2)->balance == 9000);
  CHECK(CheckBooks(t.db()).ok());

  // A second run has nothing to adopt and nothing to apply.
  auto again = m.Migrate();
  REQUIRE(again);
  CHECK_FALSE(again->adopted);
  CHECK(again->applied.empty());
}

TEST_CASE(
    "the error of before, \"table users already exists\", no longer occurs on a 001 "
    "database without schema_migrations") {
  TestDb t(TestDb::kMemory, false);
  MakeUnversioned(t.db());
  std::string before = Snapshot(t.db());
  // Start-up (Apply) refuses with one line that tells the operator what to run.
  Migrator m(t.db(), Embedded());
  auto n = m.Apply();
  REQUIRE_FALSE(n);
  CHECK(n.code() == ErrorCode::kFailedPrecondition);
  CHECK_FALSE(Contains(n.error().message, "already exists"));
  CHECK(Contains(n.error().message, "depositbot migrate"));
  CHECK_FALSE(Contains(n.error().message, "\n"));
  CHECK(Snapshot(t.db()) == before);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'") ==
        0);
  // `depositbot migrate` adopts it.
  auto r = m.Migrate();
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(r->adopted);
}

TEST_CASE("listing the migrations of an unversioned database changes nothing in it") {
  TestDb t(TestDb::kMemory, false);
  MakeUnversioned(t.db());
  std::string before = Snapshot(t.db());
  Migrator m(t.db(), Embedded());
  auto unversioned = m.IsUnversioned();
  REQUIRE(unversioned);
  CHECK(*unversioned);
  auto states = m.States();
  REQUIRE(states);
  for (const auto& s : *states) CHECK_FALSE(s.applied);
  CHECK(m.CheckAdoptable().ok());
  CHECK(Snapshot(t.db()) == before);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'") ==
        0);
}

TEST_CASE("an empty schema_migrations table left beside 001's tables does not stop adoption") {
  TestDb t(TestDb::kMemory, false);
  MakeUnversioned(t.db());
  REQUIRE(
      t.db().Exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT "
                  "NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
  auto r = Migrator(t.db(), Embedded()).Migrate();
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(r->adopted);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM user_deposits WHERE version = 1") == kSeedUsers);
}

TEST_CASE("001's tables written with other spacing, comments and letter case are still adopted") {
  TestDb t(TestDb::kMemory, false);
  MakeUnversioned(t.db(), [](std::string sql) {
    std::string out;
    bool comment = false;
    for (size_t i = 0; i < sql.size(); ++i) {
      if (!comment && sql.compare(i, 2, "--") == 0) comment = true;
      if (comment && sql[i] == '\n') comment = false;
      if (comment) continue;
      char c = sql[i] == '\n' ? ' ' : sql[i];
      if (c == ' ' && !out.empty() && out.back() == ' ') continue;
      // 001's string literals are lower case already, so this changes keywords and types only.
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  });
  auto r = Migrator(t.db(), Embedded()).Migrate();
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(r->adopted);
}

TEST_CASE("a 001 database whose columns differ is refused with each difference on its own line") {
  struct Case {
    const char* what;
    std::function<std::string(std::string)> edit;
    std::string after_sql;  // run after 001's SQL and the rows
    std::vector<std::string> lines;
  };
  const std::vector<Case> cases = {
      {"an extra column",
       nullptr,
       "ALTER TABLE users ADD COLUMN nickname TEXT",
       {"table users: column nickname is not created by 001_initial.sql"}},
      {"a missing column",
       [](std::string s) { return Replaced(s, "  decided_by     INTEGER,\n", ""); },
       "",
       {"table deposit_transactions: column decided_by is missing"}},
      {"a different type",
       [](std::string s) {
         return Replaced(s, "balance    INTEGER NOT NULL", "balance    REAL NOT NULL");
       },
       "",
       {"table user_deposits: column balance is declared REAL, 001_initial.sql declares "
        "INTEGER"}},
      {"NOT NULL dropped",
       [](std::string s) {
         return Replaced(s, "display_name TEXT    NOT NULL DEFAULT ''",
                         "display_name TEXT DEFAULT ''");
       },
       "",
       {"table users: column display_name allows NULL, 001_initial.sql declares it NOT NULL"}},
      {"another default",
       [](std::string s) {
         return Replaced(s, "balance    INTEGER NOT NULL DEFAULT 0",
                         "balance    INTEGER NOT NULL DEFAULT 100");
       },
       "",
       {"table user_deposits: column balance has DEFAULT 100, 001_initial.sql has DEFAULT 0"}},
      {"a weaker CHECK",
       [](std::string s) { return Replaced(s, "CHECK (balance >= 0)", "CHECK (balance >= -100)"); },
       "",
       {"table user_deposits: constraint check(balance>=0) is missing",
        "table user_deposits: constraint check(balance>=-100) is not in 001_initial.sql"}},
      {"UNIQUE dropped",
       [](std::string s) {
         return Replaced(s, "telegram_id  INTEGER UNIQUE NOT NULL",
                         "telegram_id  INTEGER NOT NULL");
       },
       "",
       {"table users: constraint UNIQUE (telegram_id) is missing"}},
      {"a foreign key dropped",
       [](std::string s) {
         return Replaced(s, "run_id         INTEGER NOT NULL REFERENCES reconciliation_runs(id)",
                         "run_id         INTEGER NOT NULL");
       },
       "",
       {"table reconciliation_findings: foreign key (run_id) REFERENCES "
        "reconciliation_runs(id) is missing"}},
      {"an index dropped and one added",
       nullptr,
       "DROP INDEX idx_findings_run; CREATE INDEX idx_users_name ON users(display_name)",
       {"table reconciliation_findings: index idx_findings_run is missing",
        "table users: index idx_users_name is not created by 001_initial.sql"}},
      {"a unique index that is no longer partial",
       nullptr,
       "DROP INDEX idx_transactions_type_reference; CREATE UNIQUE INDEX "
       "idx_transactions_type_reference ON deposit_transactions(type, reference)",
       {"table deposit_transactions: index idx_transactions_type_reference is `create unique "
        "index idx_transactions_type_reference on deposit_transactions(type,reference)`, "
        "001_initial.sql has `..."}},
      {"two differences at once",
       nullptr,
       "ALTER TABLE users ADD COLUMN nickname TEXT; DROP TABLE reconciliation_findings",
       {"table users: column nickname is not created by 001_initial.sql",
        "table reconciliation_findings is missing"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    TestDb t(TestDb::kMemory, false);
    MakeUnversioned(t.db(), c.edit);
    if (!c.after_sql.empty()) REQUIRE(t.db().Exec(c.after_sql));
    std::string message = RefusedUnchanged(t.db());
    CAPTURE(message);
    CHECK(Contains(Lines(message).front(), "not adopted"));
    for (const auto& line : c.lines) CHECK(HasLine(message, line));
    CHECK(Lines(message).size() == c.lines.size() + 1);
  }
}

TEST_CASE(
    "a database with a later migration's tables but no schema_migrations is refused, "
    "naming them and their migration") {
  TestDb t(TestDb::kMemory, false);
  REQUIRE(Migrator(t.db(), Embedded()).Apply());
  InsertSeedBooks(t.db());
  REQUIRE(t.db().Exec("DROP TABLE schema_migrations"));
  std::string message = RefusedUnchanged(t.db());
  CAPTURE(message);
  CHECK(HasLine(message,
                "table user_deposits: column version belongs to 002_add_version_column.sql, a "
                "later migration"));
  CHECK(HasLine(message,
                "table user_deposits: index idx_deposits_user_version belongs to "
                "002_add_version_column.sql, a later migration"));
  CHECK(HasLine(message,
                "table conversation_messages belongs to 003_conversations.sql, a later "
                "migration"));
  CHECK(HasLine(message,
                "table domain_orders belongs to 004_domain_orders.sql, a later "
                "migration"));
  CHECK(HasLine(message, "table telegram_updates belongs to 005_telegram.sql, a later migration"));
}

TEST_CASE("a database with only some of 001's tables is refused, naming the missing ones") {
  TestDb t(TestDb::kMemory, false);
  MakeUnversioned(t.db());
  REQUIRE(t.db().Exec("DROP TABLE reconciliation_findings; DROP TABLE reconciliation_runs"));
  std::string message = RefusedUnchanged(t.db());
  CAPTURE(message);
  CHECK(HasLine(message, "table reconciliation_runs is missing"));
  CHECK(HasLine(message, "table reconciliation_findings is missing"));
  CHECK(Lines(message).size() == 3);
}

TEST_CASE("a database of some other program is refused, naming what it has") {
  TestDb t(TestDb::kMemory, false);
  REQUIRE(
      t.db().Exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                  "INSERT INTO notes(body) VALUES ('keep me');"
                  "CREATE VIEW note_bodies AS SELECT body FROM notes"));
  std::string message = RefusedUnchanged(t.db());
  CAPTURE(message);
  CHECK(HasLine(message, "table notes is not created by any migration"));
  CHECK(HasLine(message, "view note_bodies is not created by any migration"));
  CHECK(HasLine(message, "table users is missing"));
}

TEST_CASE("two processes' connections migrating one unversioned file at once adopt it once") {
  for (int round = 0; round < 3; ++round) {
    TestDb t(TestDb::kFile, false);
    MakeUnversioned(t.db());
    constexpr int kConnections = 3;
    std::vector<std::unique_ptr<Database>> dbs;
    for (int i = 0; i < kConnections; ++i) dbs.push_back(t.OpenAnother());
    std::vector<std::string> errors(kConnections);
    std::vector<int> adopted(kConnections, 0);
    auto migrations = Embedded();
    std::barrier start(kConnections);
    std::vector<std::thread> threads;
    for (int i = 0; i < kConnections; ++i) {
      threads.emplace_back([&, i] {
        Migrator m(*dbs[static_cast<size_t>(i)], migrations);
        start.arrive_and_wait();
        auto r = m.Migrate();
        if (!r) {
          errors[static_cast<size_t>(i)] = r.error().message;
        } else {
          adopted[static_cast<size_t>(i)] = r->adopted ? 1 : 0;
        }
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& e : errors) CHECK_MESSAGE(e.empty(), e);
    CHECK(adopted[0] + adopted[1] + adopted[2] == 1);
    CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM schema_migrations") ==
          static_cast<int64_t>(migrations.size()));
    CHECK(QueryInt(t.db(), "SELECT SUM(balance) FROM user_deposits") == kSeedBalanceSum);
  }
}

TEST_CASE("a later migration that would delete ledger rows or change a balance is rolled back") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"DELETE FROM deposit_transactions WHERE status = 'pending'",
       "(deposit_transactions 5 -> 4)"},
      {"UPDATE user_deposits SET balance = balance + 1 WHERE user_id = 3",
       "(balance sum 45007 -> 45008)"}};
  for (const auto& [sql, change] : cases) {
    CAPTURE(sql);
    TestDb t(TestDb::kMemory, false);
    auto files = EmbeddedMigrationFiles();
    REQUIRE(Migrator(t.db(), *LoadMigrations(files)).Apply());
    InsertSeedBooks(t.db());
    const std::string name = NextName(files, "prune");
    files.push_back({name, sql});
    std::string before = Snapshot(t.db());
    auto n = Migrator(t.db(), *LoadMigrations(files)).Apply();
    REQUIRE_FALSE(n);
    CHECK(Contains(n.error().message, name));
    CHECK(Contains(n.error().message, "rolled back"));
    CHECK(Contains(n.error().message, change));
    CHECK(Snapshot(t.db()) == before);
  }
}

TEST_CASE(
    "006 marks orders an older binary left charged or unknown as possibly sent to the registrar") {
  TestDb t(TestDb::kMemory, false);
  Migrator m(t.db(), Embedded());
  REQUIRE(m.Apply(5));
  REQUIRE(t.db().Exec(
      "INSERT INTO users(id, telegram_id, display_name, created_at) VALUES (1, 1001, 'A', 1);"
      "INSERT INTO domain_orders(id, user_id, domain, years, price, registrar_usd_micros, state,"
      " quote_expires_at, created_at, updated_at) VALUES"
      " (1, 1, 'a.com', 1, 100, 1000000, 'charged', 10, 5, 7),"
      " (2, 1, 'b.com', 1, 100, 1000000, 'unknown', 10, 5, 8),"
      " (3, 1, 'c.com', 1, 100, 1000000, 'quoted', 10, 5, 9);"));
  REQUIRE(m.Apply());
  // Recovery asks the registrar about these instead of refunding them unasked.
  CHECK(QueryInt(t.db(), "SELECT create_sent_at FROM domain_orders WHERE id = 1") == 7);
  CHECK(QueryInt(t.db(), "SELECT create_sent_at FROM domain_orders WHERE id = 2") == 8);
  CHECK(QueryInt(t.db(), "SELECT create_sent_at IS NULL FROM domain_orders WHERE id = 3") == 1);
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM domain_orders WHERE lease_owner IS NOT NULL") == 0);
}
