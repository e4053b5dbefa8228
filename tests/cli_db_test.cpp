// `depositbot migrate` and `depositbot reconcile` run as real processes against
// a temporary database named by DEPOSITBOT_DB (a PostgreSQL URI in cli_db_test_pg).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/failpoint.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using depositbot::testing::LedgerBuilder;
using depositbot::testing::TestDb;

namespace {

using depositbot::testing::Contains;

// The adoption of a database from before schema_migrations, and a file's bytes: SQLite only (no
// PostgreSQL database predates the migrations), skipped in cli_db_test_pg.
const bool kSqliteOnly = depositbot::testing::TestOnPostgres();

struct Run {
  int exit_code = -1;
  std::string out, err;
};

std::string Slurp(int fd) {
  std::string s;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) s.append(buf, static_cast<size_t>(n));
  return s;
}

// Runs the depositbot binary in `dir` (so no stray .env is read) with
// DEPOSITBOT_DB=db_path; stderr goes to a file so neither pipe can fill up.
Run Depositbot(const std::string& dir, const std::string& db_path, std::vector<std::string> args,
               const std::vector<std::pair<std::string, std::string>>& env = {}) {
  const char* bin = std::getenv("DEPOSITBOT_BIN");
  REQUIRE(bin);
  std::string err_path = dir + "/stderr.txt";
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(out[0]);
    dup2(out[1], 1);
    FILE* err = std::fopen(err_path.c_str(), "w");
    if (err) dup2(fileno(err), 2);
    if (chdir(dir.c_str()) != 0) _exit(126);
    setenv("DEPOSITBOT_DB", db_path.c_str(), 1);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv{const_cast<char*>(bin)};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin, argv.data());
    _exit(127);
  }
  close(out[1]);
  Run r;
  r.out = Slurp(out[0]);
  close(out[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  r.exit_code = WEXITSTATUS(status);
  std::ifstream in(err_path);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A database as the seed worker left it: migrations/001_initial.sql run by
// hand, three users with balances 45000, 0 and 7, five ledger rows, and no
// schema_migrations. `extra_sql` runs last (to make it differ from 001).
void WriteUnversioned(const std::string& path, const std::string& extra_sql = "") {
  const char* src = std::getenv("DEPOSITBOT_SOURCE_DIR");
  REQUIRE(src);
  auto db = Database::Open(path);
  REQUIRE(db);
  REQUIRE((*db)->Exec(ReadAll(std::string(src) + "/migrations/001_initial.sql")));
  REQUIRE((*db)->Exec(
      "INSERT INTO users(id, telegram_id, display_name, created_at) VALUES"
      " (1, 1001, 'Alice', 100), (2, 1002, 'Bob', 100), (3, 1003, 'Carol', 100);"
      "INSERT INTO user_deposits(user_id, balance, updated_at) VALUES"
      " (1, 45000, 200), (2, 0, 200), (3, 7, 200);"
      "INSERT INTO deposit_transactions(user_id, type, amount, direction, status, reference,"
      " created_at) VALUES"
      " (1, 'deposit', 50000, 1, 'confirmed', NULL, 150),"
      " (1, 'purchase', 5000, -1, 'confirmed', 'seed:1', 160),"
      " (2, 'deposit', 9000, 1, 'pending', NULL, 170),"
      " (3, 'deposit', 10, 1, 'confirmed', NULL, 150),"
      " (3, 'adjustment', 3, -1, 'confirmed', NULL, 180);"));
  if (!extra_sql.empty()) REQUIRE((*db)->Exec(extra_sql));
}

int64_t CountIn(const std::string& path, const std::string& sql) {
  auto db = Database::Open(path);
  REQUIRE(db);
  return testing::QueryInt(**db, sql);
}

}  // namespace

TEST_CASE(
    "migrate adopts a populated 001 database without schema_migrations and says what it "
    "adopted" *
    doctest::skip(kSqliteOnly)) {
  TestDb t(TestDb::kFile, false);
  t.Close();
  WriteUnversioned(t.path());
  auto r = Depositbot(t.dir(), t.path(), {"migrate"});
  CAPTURE(r.err);
  CHECK(r.exit_code == 0);
  CHECK_FALSE(Contains(r.err, "already exists"));
  CHECK(Contains(r.out,
                 "adopted an existing database at 001: users 3, user_deposits 3 (balance "
                 "sum 45007), deposit_transactions 5, reconciliation_runs 0, "
                 "reconciliation_findings 0; applied 002.."));
  CHECK(Contains(r.out, "row counts and balance sum unchanged"));
  CHECK(CountIn(t.path(), "SELECT COUNT(*) FROM users") == 3);
  CHECK(CountIn(t.path(), "SELECT COUNT(*) FROM deposit_transactions") == 5);
  CHECK(CountIn(t.path(), "SELECT SUM(balance) FROM user_deposits") == 45007);
  CHECK(CountIn(t.path(), "SELECT COUNT(*) FROM user_deposits WHERE version = 1") == 3);
  CHECK(CountIn(t.path(), "SELECT COUNT(*) FROM schema_migrations WHERE version = 1") == 1);

  auto status = Depositbot(t.dir(), t.path(), {"migrate", "--status"});
  CHECK(status.exit_code == 0);
  CHECK_FALSE(Contains(status.out, "pending"));
  // The adopted books reconcile: 50000 - 5000 = 45000, Bob's 9000 is pending, 10 - 3 = 7.
  auto clean = Depositbot(t.dir(), t.path(), {"reconcile"});
  CHECK(clean.exit_code == 0);
  CHECK(Contains(clean.out, "The books are clean"));
}

TEST_CASE(
    "start-up on a 001 database without schema_migrations refuses in one line that says "
    "to run depositbot migrate, and leaves the file as it was" *
    doctest::skip(kSqliteOnly)) {
  TestDb t(TestDb::kFile, false);
  t.Close();
  WriteUnversioned(t.path());
  const std::string before = ReadAll(t.path());
  auto status = Depositbot(t.dir(), t.path(), {"migrate", "--status"});
  CHECK(status.exit_code == 0);
  CHECK(Contains(status.out, "will adopt it at 001"));
  auto r = Depositbot(t.dir(), t.path(), {"reconcile"});
  CHECK(r.exit_code == 2);
  CHECK_FALSE(Contains(r.err, "already exists"));
  CHECK(Contains(r.err, "depositbot migrate"));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(ReadAll(t.path()) == before);
}

TEST_CASE(
    "migrate refuses a 001 database with an extra column, naming it, and leaves the file "
    "byte for byte as it was" *
    doctest::skip(kSqliteOnly)) {
  TestDb t(TestDb::kFile, false);
  t.Close();
  WriteUnversioned(t.path(), "ALTER TABLE users ADD COLUMN nickname TEXT");
  const std::string before = ReadAll(t.path());
  auto r = Depositbot(t.dir(), t.path(), {"migrate"});
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "\n  - table users: column nickname is not created by 001_initial.sql"));
  CHECK(Contains(r.err, "nothing was changed"));
  CHECK_FALSE(Contains(r.err, "already exists"));
  auto status = Depositbot(t.dir(), t.path(), {"migrate", "--status"});
  CHECK(status.exit_code == 2);
  CHECK(Contains(status.err, "column nickname"));
  CHECK(ReadAll(t.path()) == before);
}

#ifdef DEPOSITBOT_FAILPOINTS
TEST_CASE("a crash while adopting leaves the database unadopted, and the next migrate adopts it" *
          doctest::skip(kSqliteOnly)) {
  TestDb t(TestDb::kFile, false);
  t.Close();
  WriteUnversioned(t.path());
  auto crash = Depositbot(t.dir(), t.path(), {"migrate"},
                          {{"DEPOSITBOT_FAILPOINT", "migrate.adopt_before_commit=exit"}});
  CHECK(crash.exit_code == kFailpointExitCode);
  CHECK(CountIn(t.path(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'") ==
        0);
  CHECK(CountIn(t.path(), "SELECT SUM(balance) FROM user_deposits") == 45007);
  auto r = Depositbot(t.dir(), t.path(), {"migrate"});
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "adopted an existing database at 001"));
}
#endif

TEST_CASE("migrate --status on a new file lists every migration as pending") {
  TestDb t(TestDb::kFile, false);
  t.Close();
  auto r = Depositbot(t.dir(), t.path(), {"migrate", "--status"});
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "001_initial.sql"));
  CHECK(Contains(r.out, "002_add_version_column.sql"));
  CHECK(Contains(r.out, "pending"));
  CHECK_FALSE(Contains(r.out, "applied"));
}

TEST_CASE("migrate applies everything once and --status then shows it applied") {
  TestDb t(TestDb::kFile, false);
  t.Close();
  auto first = Depositbot(t.dir(), t.path(), {"migrate"});
  CHECK(first.exit_code == 0);
  CHECK(Contains(first.out, "applied "));
  CHECK_FALSE(Contains(first.out, "applied 0 "));
  auto second = Depositbot(t.dir(), t.path(), {"migrate"});
  CHECK(Contains(second.out, "applied 0 migrations"));
  auto status = Depositbot(t.dir(), t.path(), {"migrate", "--status"});
  CHECK(status.exit_code == 0);
  CHECK_FALSE(Contains(status.out, "pending"));
  CHECK(Contains(status.out, "002_add_version_column.sql"));
}

TEST_CASE("reconcile exits 0 on clean books and 1 when a balance was tampered with") {
  TestDb t(TestDb::kFile);
  LedgerBuilder b(t.db(), t.clock());
  auto alice = b.User(1001, "Alice").Balance(50'000).Pending(30'000, "KIM MINJI").Build();
  t.Close();
  auto clean = Depositbot(t.dir(), t.path(), {"reconcile"});
  CHECK(clean.exit_code == 0);
  CHECK(Contains(clean.out, "The books are clean"));

  auto db = Database::Open(t.path());
  REQUIRE(db);
  REQUIRE((*db)->Exec("UPDATE user_deposits SET balance = 60000 WHERE user_id = " +
                      std::to_string(alice.id)));
  db->reset();
  auto dirty = Depositbot(t.dir(), t.path(), {"reconcile"});
  CHECK(dirty.exit_code == 1);
  CHECK(Contains(dirty.out, "1 discrepancy found"));
  CHECK(Contains(dirty.out, "difference 100.00 USD"));
}

TEST_CASE("reconcile --json prints a report that parses") {
  TestDb t(TestDb::kFile);
  LedgerBuilder b(t.db(), t.clock());
  auto alice = b.User(1001, "Alice").Balance(500).Build();
  REQUIRE(t.db().Exec("DELETE FROM user_deposits WHERE user_id = " + std::to_string(alice.id)));
  t.Close();
  auto r = Depositbot(t.dir(), t.path(), {"reconcile", "--json"});
  CHECK(r.exit_code == 1);
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  CHECK(j["clean"] == false);
  REQUIRE(j["findings"].size() == 1);
  CHECK(j["findings"][0]["kind"] == "missing_account");
  CHECK(j["findings"][0]["ledger_sum"] == 500);

  // A fresh file is migrated on first use and is clean.
  auto fresh = Depositbot(t.dir(), t.dir() + "/fresh.db", {"reconcile", "--json"});
  CHECK(fresh.exit_code == 0);
  auto jf = nlohmann::json::parse(fresh.out, nullptr, false);
  REQUIRE_FALSE(jf.is_discarded());
  CHECK(jf["clean"] == true);
}

TEST_CASE("a database file that is not SQLite stops the command with its path") {
  TestDb t(TestDb::kFile, false);
  std::string path = t.dir() + "/not-a-db.txt";
  {
    std::ofstream out(path);
    for (int i = 0; i < 100; ++i) out << "this is a text file, line " << i << "\n";
  }
  for (auto args :
       {std::vector<std::string>{"reconcile"}, std::vector<std::string>{"migrate", "--status"}}) {
    auto r = Depositbot(t.dir(), path, args);
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.err, path));
    CHECK(r.out.empty());
  }
}
