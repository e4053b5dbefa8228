// `depositbot migrate` and `depositbot reconcile` run as real processes against
// a temporary database named by DEPOSITBOT_DB.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/fakes/ledger_builder.h"

using namespace depositbot;
using depositbot::testing::LedgerBuilder;
using depositbot::testing::TestDb;

namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

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
Run Depositbot(const std::string& dir, const std::string& db_path,
               std::vector<std::string> args) {
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

}  // namespace

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
  for (auto args : {std::vector<std::string>{"reconcile"},
                    std::vector<std::string>{"migrate", "--status"}}) {
    auto r = Depositbot(t.dir(), path, args);
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.err, path));
    CHECK(r.out.empty());
  }
}
