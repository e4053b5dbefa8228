// `depositbot backup` and `depositbot restore` run as real processes against a SQLite file
// (issue 15, item 4): a backup taken while writers storm the ledger is one consistent moment of
// it; a restore never overwrites a database a process is using, and keeps the one it replaces.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "db/database_backup.h"
#include "db/deposit_repository.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/process_runner.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using depositbot::testing::BuiltUser;
using depositbot::testing::Contains;
using depositbot::testing::DepositbotBinary;
using depositbot::testing::LedgerBuilder;
using depositbot::testing::ProcessResult;
using depositbot::testing::RunProcess;
using depositbot::testing::TestDb;

namespace {

ProcessResult Depositbot(const TestDb& t, const std::vector<std::string>& args,
                         const std::string& db_path = "") {
  return RunProcess(DepositbotBinary(), args,
                    {{"DEPOSITBOT_DB", db_path.empty() ? t.path() : db_path}}, t.dir());
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

int64_t Balance(const std::string& path, int64_t user_id) {
  auto db = Database::Open(path);
  REQUIRE(db);
  SystemClock clock;
  DepositRepository repo(**db, clock);
  auto account = repo.GetAccount(user_id);
  REQUIRE(account);
  return account->balance;
}

// A storm writer: ledger_worker with its own connection, started when `gate` reaches EOF.
pid_t StartWorker(const TestDb& t, const int gate[2], int worker, const std::string& ids) {
  std::string log = t.dir() + "/worker" + std::to_string(worker) + ".log";
  std::string id = std::to_string(200 + worker), seed = std::to_string(4242 + worker);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(gate[1]);
    dup2(gate[0], 0);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(126);
    dup2(fd, 1);
    const char* argv[] = {LEDGER_WORKER_PATH, t.path().c_str(), id.c_str(), seed.c_str(), "4000",
                          ids.c_str(),        nullptr};
    execv(LEDGER_WORKER_PATH, const_cast<char* const*>(argv));
    _exit(127);
  }
  return pid;
}

bool Running(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == 0; }

}  // namespace

TEST_CASE(
    "a backup taken during the bank storm opens, passes integrity_check and reconciles "
    "clean") {
  TestDb t(TestDb::kFile);
  std::string ids;
  {
    LedgerBuilder b(t.db(), t.clock());
    for (int i = 0; i < 8; ++i) {
      ids += (ids.empty() ? "" : ",") +
             std::to_string(b.User(7000 + i, "storm").Balance(100'000).Build().id);
    }
  }
  int gate[2];
  REQUIRE(pipe(gate) == 0);
  std::vector<pid_t> workers;
  for (int w = 0; w < 3; ++w) workers.push_back(StartWorker(t, gate, w, ids));
  close(gate[0]);
  close(gate[1]);  // the storm starts

  // Backups, one after another, for as long as the storm blows; each one that ended while a
  // writer was still running was taken in the middle of it.
  int taken = 0, during_storm = 0;
  std::vector<int64_t> ledger_rows;  // in each backup, in the order they were taken
  for (int i = 0; i < 8; ++i) {
    bool storming = false;
    for (pid_t w : workers) storming = storming || Running(w);
    if (!storming) break;
    std::string file = t.dir() + "/backup-" + std::to_string(i) + ".db";
    auto r = Depositbot(t, {"backup", file});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(Contains(r.out, "integrity check: ok"));
    CHECK(Contains(r.out, "reconciliation: clean"));
    ++taken;
    bool still = false;
    for (pid_t w : workers) still = still || Running(w);
    if (still) ++during_storm;

    // The copy stands alone (no -wal beside it) and is checked again, independently.
    CHECK_FALSE(Exists(file + "-wal"));
    auto copy = CheckBackup(file);
    REQUIRE(copy);
    CHECK(copy->findings.empty());
    for (const auto& [table, rows] : copy->rows) {
      if (table == "deposit_transactions") ledger_rows.push_back(rows);
    }
    auto db = Database::Open(file);
    REQUIRE(db);
    Reconciler reconciler(**db, t.clock());
    auto report = reconciler.Run();
    REQUIRE(report);
    CHECK(report->clean());
  }
  for (pid_t w : workers) {
    int status = 0;
    REQUIRE(waitpid(w, &status, 0) == w);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  std::string rows;
  for (auto n : ledger_rows) rows += " " + std::to_string(n);
  MESSAGE("backups taken: " << taken << ", of which during the storm: " << during_storm
                            << "; ledger rows in each:" << rows);
  // Each later backup holds at least what an earlier one held: the ledger only grows.
  CHECK(std::is_sorted(ledger_rows.begin(), ledger_rows.end()));
  CHECK(during_storm >= 1);
}

TEST_CASE("a backup never overwrites a file, and says so") {
  TestDb t(TestDb::kFile);
  std::string file = t.dir() + "/taken.db";
  { std::ofstream(file) << "an earlier backup"; }
  auto r = Depositbot(t, {"backup", file});
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "never overwrites"));
  std::ifstream in(file);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == "an earlier backup");
}

TEST_CASE("backup and restore of a PostgreSQL database point to pg_dump and change nothing") {
  TestDb t(TestDb::kFile);
  const std::string uri = "postgresql://nobody@127.0.0.1:1/none";
  auto backup = Depositbot(t, {"backup", t.dir() + "/pg.db"}, uri);
  CHECK(backup.exit_code == 2);
  CHECK(Contains(backup.err, "pg_dump"));
  CHECK_FALSE(Exists(t.dir() + "/pg.db"));
  auto restore = Depositbot(t, {"restore", t.path()}, uri);
  CHECK(restore.exit_code == 2);
  CHECK(Contains(restore.err, "pg_restore"));
}

TEST_CASE("restore refuses a database a depositbot is using, and changes nothing") {
  TestDb t(TestDb::kFile);
  BuiltUser alice;
  {
    LedgerBuilder b(t.db(), t.clock());
    alice = b.User(1001, "Alice").Balance(50'000).Build();
  }
  std::string file = t.dir() + "/b.db";
  REQUIRE(Depositbot(t, {"backup", file}).exit_code == 0);
  {
    SystemClock clock;
    DepositRepository repo(t.db(), clock);
    REQUIRE(repo.Adjust(alice.id, 7'000, "after the backup", 9001));
  }
  // t.db() is open in this process: the database is live.
  auto r = Depositbot(t, {"restore", file});
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "in use by a running depositbot"));
  CHECK(Balance(t.path(), alice.id) == 57'000);
}

TEST_CASE("restore puts a stopped bot's books back as backed up and keeps the ones it replaced") {
  TestDb t(TestDb::kFile);
  BuiltUser alice;
  {
    LedgerBuilder b(t.db(), t.clock());
    alice = b.User(1001, "Alice").Balance(50'000).Pending(3'000, "KIM MINJI").Build();
  }
  std::string file = t.dir() + "/b.db";
  REQUIRE(Depositbot(t, {"backup", file}).exit_code == 0);
  {
    SystemClock clock;
    DepositRepository repo(t.db(), clock);
    REQUIRE(repo.Adjust(alice.id, 7'000, "after the backup", 9001));
  }
  t.Close();  // the bot stops

  auto r = Depositbot(t, {"restore", file});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(Contains(r.out, "reconciliation: clean"));
  CHECK(Balance(t.path(), alice.id) == 50'000);
  // The replaced database is kept, whole, with the change made after the backup.
  const std::string marker = "the database it replaced is kept as ";
  auto at = r.out.find(marker);
  REQUIRE(at != std::string::npos);
  std::string kept = r.out.substr(at + marker.size());
  kept = kept.substr(0, kept.find('\n'));
  CHECK(Balance(kept, alice.id) == 57'000);
  // The restored database is the bot's again: a command on it sees the backed-up books.
  auto reconcile = Depositbot(t, {"reconcile"});
  CHECK(reconcile.exit_code == 0);
}

TEST_CASE("restore refuses a file that is not a usable backup, and changes nothing") {
  TestDb t(TestDb::kFile);
  BuiltUser alice;
  {
    LedgerBuilder b(t.db(), t.clock());
    alice = b.User(1001, "Alice").Balance(50'000).Build();
  }
  std::string good = t.dir() + "/good.db";
  REQUIRE(Depositbot(t, {"backup", good}).exit_code == 0);
  t.Close();

  SUBCASE("not a database") {
    std::string junk = t.dir() + "/junk.db";
    std::ofstream(junk) << std::string(8192, 'x');
    auto r = Depositbot(t, {"restore", junk});
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.err, "cannot be restored"));
  }
  SUBCASE("written by a newer depositbot") {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(good.c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw,
                         "INSERT INTO schema_migrations(version, name, checksum, applied_at) "
                         "VALUES (999, '999_future.sql', 'x', 1)",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
    auto r = Depositbot(t, {"restore", good});
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.err, "newer depositbot"));
  }
  SUBCASE("the database itself") {
    auto r = Depositbot(t, {"restore", t.path()});
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.err, "is the database itself"));
  }
  CHECK(Balance(t.path(), alice.id) == 50'000);
  for (const auto& entry : std::filesystem::directory_iterator(t.dir())) {
    CHECK_FALSE(Contains(entry.path().string(), ".before-restore-"));
  }
}

TEST_CASE("no depositbot opens a database while a restore holds it") {
  TestDb t(TestDb::kFile);
  t.Close();
  int fd = open(Database::InUseLockPath(t.path()).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(flock(fd, LOCK_EX | LOCK_NB) == 0);  // as `depositbot restore` holds it
  auto db = Database::Open(t.path());
  REQUIRE_FALSE(db);
  CHECK(Contains(db.error().message, "is being restored"));
  close(fd);
  CHECK(Database::Open(t.path()));
}
