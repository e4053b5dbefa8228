// Many writers on the same users, each with its own connection to one file:
// 8 threads in this process, then 4 processes (re-executed ledger_worker).
// Afterwards every user's balance equals its ledger sum, none is negative,
// every applied operation is exactly the ledger row it produced, every other
// one was reported as a conflict or a refusal and left nothing, and the file
// passes PRAGMA integrity_check.
//
// The operation mix comes from a seed printed at the start; set
// DEPOSITBOT_TEST_SEED to replay one. (The interleaving is the scheduler's.)
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <barrier>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include "tests/fakes/ledger_builder.h"

using namespace depositbot;
using namespace depositbot::testing;

namespace {

constexpr int kThreads = 8;
constexpr int kProcesses = 4;
constexpr int kOpsPerWriter = 150;
constexpr int kUsers = 3;

uint64_t Seed() {
  const char* env = std::getenv("DEPOSITBOT_TEST_SEED");
  uint64_t seed = env && *env ? std::strtoull(env, nullptr, 10) : 20260101;
  MESSAGE("seed " << seed << " (DEPOSITBOT_TEST_SEED=" << seed << " replays the op mix)");
  return seed;
}

std::vector<int64_t> MakeUsers(TestDb& t) {
  LedgerBuilder b(t.db(), t.clock());
  std::vector<int64_t> ids;
  for (int i = 0; i < kUsers; ++i) ids.push_back(b.User(5000 + i, "hammered").Build().id);
  return ids;
}

struct Tally {
  std::map<std::string, int> by_outcome;
  std::map<std::string, int> applied_by_op;
};

Tally Count(const std::vector<WorkloadOp>& ops) {
  Tally t;
  for (const auto& op : ops) {
    ++t.by_outcome[op.outcome];
    if (op.outcome == "applied") ++t.applied_by_op[op.op];
  }
  return t;
}

std::string Describe(const Tally& t) {
  std::string s;
  for (const auto& [k, v] : t.by_outcome) s += k + "=" + std::to_string(v) + " ";
  s += "| applied:";
  for (const auto& [k, v] : t.applied_by_op) s += " " + k + "=" + std::to_string(v);
  return s;
}

void CheckInvariants(TestDb& t, const std::vector<WorkloadOp>& ops, int expected_ops) {
  CHECK(static_cast<int>(ops.size()) == expected_ops);
  auto problems = VerifyWorkload(t.db(), ops);
  for (const auto& p : problems) FAIL_CHECK(p);
  CHECK(problems.empty());
  auto books = CheckBooks(t.db());
  CHECK(books.ok());
  CHECK(books.negative.empty());
  CHECK(books.users.size() == kUsers);
  CHECK(IntegrityCheck(t.db()) == "ok");
  Tally tally = Count(ops);
  CHECK(tally.by_outcome["error"] == 0);
  CHECK(tally.by_outcome["applied"] > 0);
  MESSAGE(Describe(tally));
  MESSAGE(books.Describe());
}

}  // namespace

TEST_CASE("8 threads with their own connections hammering 3 users keep the books exact") {
  uint64_t seed = Seed();
  TestDb t(TestDb::kFile);
  auto users = MakeUsers(t);
  std::vector<std::unique_ptr<Database>> dbs;
  for (int i = 0; i < kThreads; ++i) dbs.push_back(t.OpenAnother());
  std::vector<std::vector<WorkloadOp>> logs(kThreads);
  std::vector<RepositoryStats> stats(kThreads);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  SystemClock clock;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto n = static_cast<size_t>(i);
      DepositRepository repo(*dbs[n], clock);
      WorkloadOptions options{i, seed * 1000 + static_cast<uint64_t>(i), kOpsPerWriter, users};
      start.arrive_and_wait();
      logs[n] = RunWorkload(repo, options);
      stats[n] = repo.stats();
    });
  }
  for (auto& th : threads) th.join();

  std::vector<WorkloadOp> all;
  RepositoryStats total;
  for (int i = 0; i < kThreads; ++i) {
    auto n = static_cast<size_t>(i);
    all.insert(all.end(), logs[n].begin(), logs[n].end());
    total.applied += stats[n].applied;
    total.conflicts += stats[n].conflicts;
    total.retries += stats[n].retries;
    total.conflict_failures += stats[n].conflict_failures;
  }
  MESSAGE("repository stats: applied=" << total.applied << " version conflicts=" << total.conflicts
                                       << " retries=" << total.retries
                                       << " gave up=" << total.conflict_failures);
  CheckInvariants(t, all, kThreads * kOpsPerWriter);
  // Every balance change the repositories counted is an applied op in the logs.
  Tally tally = Count(all);
  CHECK(total.applied == tally.applied_by_op["confirm"] + tally.applied_by_op["purchase"] +
                             tally.applied_by_op["refund"] + tally.applied_by_op["adjust"]);
  CHECK(total.conflict_failures == tally.by_outcome["conflict"]);
}

TEST_CASE("4 processes with their own connections hammering 3 users keep the books exact") {
  uint64_t seed = Seed();
  TestDb t(TestDb::kFile);
  auto users = MakeUsers(t);
  std::string ids;
  for (auto id : users) ids += (ids.empty() ? "" : ",") + std::to_string(id);

  int gate[2];
  REQUIRE(pipe(gate) == 0);
  std::vector<pid_t> pids;
  std::vector<std::string> log_paths;
  for (int i = 0; i < kProcesses; ++i) {
    std::string log_path = t.dir() + "/worker" + std::to_string(i) + ".log";
    log_paths.push_back(log_path);
    std::string worker = std::to_string(i);
    std::string worker_seed = std::to_string(seed * 1000 + 100 + static_cast<uint64_t>(i));
    std::string ops = std::to_string(kOpsPerWriter);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // The child waits on the gate (its stdin) until the parent closes it.
      close(gate[1]);
      dup2(gate[0], 0);
      int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) _exit(126);
      dup2(fd, 1);
      const char* argv[] = {
          LEDGER_WORKER_PATH, t.path().c_str(), worker.c_str(), worker_seed.c_str(),
          ops.c_str(),        ids.c_str(),      nullptr};
      execv(LEDGER_WORKER_PATH, const_cast<char* const*>(argv));
      _exit(127);
    }
    pids.push_back(pid);
  }
  close(gate[0]);
  close(gate[1]);  // all workers start now
  for (pid_t pid : pids) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  std::vector<WorkloadOp> all;
  int64_t conflicts = 0, retries = 0, gave_up = 0;
  for (const auto& path : log_paths) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("# stats ", 0) == 0) {
        std::istringstream s(line.substr(8));
        int64_t applied = 0, c = 0, r = 0, g = 0;
        s >> applied >> c >> r >> g;
        conflicts += c;
        retries += r;
        gave_up += g;
        continue;
      }
      all.push_back(WorkloadOp::FromLine(line));
    }
  }
  MESSAGE("worker stats: version conflicts=" << conflicts << " retries=" << retries
                                             << " gave up=" << gave_up);
  CheckInvariants(t, all, kProcesses * kOpsPerWriter);
  CHECK(gave_up == Count(all).by_outcome["conflict"]);
}

TEST_CASE("one writer alone: the workload verifies and the same seed gives the same books") {
  std::string first_books;
  for (int run = 0; run < 2; ++run) {
    TestDb t(TestDb::kMemory);
    auto users = MakeUsers(t);
    DepositRepository repo(t.db(), t.clock());
    auto ops = RunWorkload(repo, WorkloadOptions{0, 42, 300, users});
    CHECK(VerifyWorkload(t.db(), ops).empty());
    CHECK(Count(ops).by_outcome["conflict"] == 0);
    if (run == 0) {
      first_books = CheckBooks(t.db()).Describe();
    } else {
      CHECK(CheckBooks(t.db()).Describe() == first_books);
    }
  }
}

TEST_CASE("the verifier notices a double credit, a lost row and an unlogged change") {
  TestDb t(TestDb::kMemory);
  auto users = MakeUsers(t);
  DepositRepository repo(t.db(), t.clock());
  auto ops = RunWorkload(repo, WorkloadOptions{0, 7, 200, users});
  REQUIRE(VerifyWorkload(t.db(), ops).empty());

  SUBCASE("an applied op reported twice (a double credit in the log)") {
    for (const auto& op : ops) {
      if (op.op == "adjust" && op.outcome == "applied") {
        ops.push_back(op);
        break;
      }
    }
    CHECK_FALSE(VerifyWorkload(t.db(), ops).empty());
  }
  SUBCASE("an applied op whose ledger row is gone") {
    for (const auto& op : ops) {
      if (op.op == "purchase" && op.outcome == "applied") {
        REQUIRE(t.db().Exec("DELETE FROM deposit_transactions WHERE id = " +
                            std::to_string(op.result_id)));
        break;
      }
    }
    CHECK_FALSE(VerifyWorkload(t.db(), ops).empty());
  }
  SUBCASE("a balance change nobody logged, even with a matching ledger row") {
    REQUIRE(repo.Adjust(users[0], 5, "unlogged", 1));
    CHECK(CheckBooks(t.db()).ok());
    CHECK_FALSE(VerifyWorkload(t.db(), ops).empty());
  }
  SUBCASE("an op reported as a conflict that was in fact applied") {
    for (auto& op : ops) {
      if (op.op == "purchase" && op.outcome == "applied") {
        op.outcome = "conflict";
        op.result_id = 0;
        break;
      }
    }
    CHECK_FALSE(VerifyWorkload(t.db(), ops).empty());
  }
}
