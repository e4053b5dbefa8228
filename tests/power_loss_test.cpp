// Power loss (issue 7, part 6): a forked child runs deposits, confirmations,
// purchases and refunds through DepositRepository on a real database file,
// over a VFS (tests/fakes/power_loss_vfs) that cuts the power at a random
// write/sync: every write not yet synced is kept or dropped at random, and the
// process ends without closing anything. The child tells the parent (over a
// pipe, which survives the child) each change it would tell the user, only
// after the repository returned success. The parent reopens the file as
// depositbot would and checks that nothing told is missing, the books balance,
// no balance is negative and integrity_check is ok.
//
// With the shipped settings (WAL, synchronous=FULL) nothing told may be lost.
// The same workload with synchronous=NORMAL shows what that setting would
// risk: the database stays consistent, but confirmed deposits the user was
// told about disappear. Each mode prints
//   power_loss[MODE] runs=... cuts=... told=... lost_told=... unbalanced=...
//   negative=... integrity_bad=...
// DEPOSITBOT_POWER_RUNS sets the runs per mode (default 30) and
// DEPOSITBOT_POWER_FIRST_SEED their first seed (default 1000; the seeds follow on);
// DEPOSITBOT_POWER_SEED=S replays one run (printed for any failing run).

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/log.h"
#include "db/database.h"
#include "db/deposit_repository.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/power_loss_vfs.h"

namespace depositbot::testing {
namespace {

constexpr int kUsers = 4;
constexpr int kOpsPerRun = 80;

enum class Sync { kFull, kNormal };

struct RunSettings {
  Sync sync = Sync::kFull;
  uint64_t seed = 1;
  int64_t cut_at_call = 0;  // 0: run the workload to its end, then cut
  bool small_checkpoints = false;
};

// One line per change the child would tell its user: "C id amount", "P id
// amount", "R id purchase_id", then "calls N" when the workload ended uncut.
void Tell(int fd, const std::string& line) {
  std::string out = line + "\n";
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(fd, out.data() + done, out.size() - done);
    if (n <= 0) _exit(3);
    done += static_cast<size_t>(n);
  }
}

[[noreturn]] void ChildWorkload(const std::string& path, const std::vector<int64_t>& users,
                                const RunSettings& run, int fd) {
  InstallPowerLossVfs({run.cut_at_call, run.seed * 7919 + 1});
  auto db = Database::Open(path);
  if (!db) _exit(4);
  if (run.sync == Sync::kNormal && !(*db)->Exec("PRAGMA synchronous = NORMAL")) _exit(5);
  if (run.small_checkpoints && !(*db)->Exec("PRAGMA wal_autocheckpoint = 8")) _exit(5);
  FixedClock clock(kTestEpochMillis);
  TestEnvironment env(kTestEpochMillis);  // conflict backoffs are recorded, not slept
  DepositRepository repo(**db, clock, RetryPolicy{}, env);
  std::mt19937_64 rng(run.seed);
  std::vector<int64_t> purchases;
  for (int i = 0; i < kOpsPerRun; ++i) {
    int64_t user = users[rng() % users.size()];
    int64_t amount = 100 + static_cast<int64_t>(rng() % 5000);
    int pick = static_cast<int>(rng() % 10);
    clock.Advance(1000);
    if (pick < 6) {
      auto pending = repo.RequestDeposit(user, amount, "POWER TEST");
      if (!pending) _exit(6);
      if (auto done = repo.Confirm(pending->id, LedgerBuilder::kAdminTelegramId)) {
        Tell(fd, "C " + std::to_string(done->id) + " " + std::to_string(done->amount));
      }
    } else if (pick < 9 || purchases.empty()) {
      if (auto bought = repo.Purchase(user, amount, "power:" + std::to_string(i), "domain")) {
        purchases.push_back(bought->id);
        Tell(fd, "P " + std::to_string(bought->id) + " " + std::to_string(bought->amount));
      }
    } else {
      int64_t purchase = purchases[rng() % purchases.size()];
      if (auto refund = repo.Refund(purchase, "registrar failed")) {
        Tell(fd, "R " + std::to_string(refund->id) + " " + std::to_string(purchase));
      }
    }
  }
  Tell(fd, "calls " + std::to_string(PowerLossVfsCalls()));
  CutPowerNow();
}

struct RunOutcome {
  bool cut = false;
  int64_t calls = 0;  // write/sync calls of a run that ended uncut
  int64_t told = 0;
  int64_t lost_told = 0;
  bool unbalanced = false;
  bool negative = false;
  bool integrity_bad = false;
  std::string problem;
};

// A told change is kept when its row is there, confirmed, with the same figure.
bool Kept(DepositRepository& repo, char kind, int64_t id, int64_t figure) {
  auto row = repo.GetTransaction(id);
  if (!row || row->status != TransactionStatus::kConfirmed) return false;
  switch (kind) {
    case 'C':
      return row->type == TransactionType::kDeposit && row->amount == figure;
    case 'P':
      return row->type == TransactionType::kPurchase && row->amount == figure;
    case 'R':
      return row->type == TransactionType::kRefund;
    default:
      return false;
  }
}

RunOutcome RunOnce(const RunSettings& run) {
  RunOutcome out;
  TestDb t(TestDb::kFile);
  LedgerBuilder builder(t.db(), t.clock());
  std::vector<int64_t> users;
  for (int u = 0; u < kUsers; ++u) {
    users.push_back(builder.User(700 + u).Balance(20'000).Build().id);
  }
  t.Close();  // a clean close: the starting books are checkpointed and synced

  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    ChildWorkload(t.path(), users, run, fds[1]);
  }
  ::close(fds[1]);
  std::string told;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    told.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == kPowerLossExit),
                  "the child failed before the cut (status " << status << ")");

  // The wal-index is memory, not durable state: after a power cut it is gone.
  std::remove((t.path() + "-shm").c_str());
  auto db = Database::Open(t.path());
  REQUIRE_MESSAGE(static_cast<bool>(db), "reopen after the cut: " << db.error().message);
  FixedClock clock(kTestEpochMillis);
  DepositRepository repo(**db, clock);

  std::istringstream lines(told);
  out.cut = true;
  for (std::string kind; lines >> kind;) {
    int64_t a = 0, b = 0;
    if (kind == "calls") {
      lines >> out.calls;
      out.cut = false;  // the workload ran to its end; the cut came after it
      continue;
    }
    lines >> a >> b;
    ++out.told;
    if (!Kept(repo, kind[0], a, b)) {
      ++out.lost_told;
      if (out.problem.empty()) out.problem = "told " + kind + " " + std::to_string(a) + " is lost";
    }
  }
  BooksCheck books = CheckBooks(**db);
  out.unbalanced = !books.unbalanced.empty();
  out.negative = !books.negative.empty();
  if (!books.ok()) out.problem += "\n" + books.Describe();
  std::string integrity = IntegrityCheck(**db);
  out.integrity_bad = integrity != "ok";
  if (out.integrity_bad) out.problem += "\nintegrity_check: " + integrity;
  return out;
}

struct Totals {
  int64_t runs = 0, cuts = 0, told = 0, lost_told = 0, unbalanced = 0, negative = 0,
          integrity_bad = 0;
  std::vector<uint64_t> failing_seeds;  // runs with a lost change or broken books
};

int RunsPerMode() {
  const char* env = std::getenv("DEPOSITBOT_POWER_RUNS");
  int runs = env ? std::atoi(env) : 30;
  return runs > 0 ? runs : 30;
}

Totals Sweep(Sync sync, const char* name) {
  SetLogLevel(LogLevel::kWarn);  // sixty fresh databases would log every migration
  // A calibration run without a cut counts the workload's write/sync calls, so
  // the cuts fall anywhere inside it.
  RunSettings calibrate{sync, 1, 0, false};
  int64_t calls = RunOnce(calibrate).calls;
  REQUIRE(calls > 0);

  std::vector<uint64_t> seeds;
  if (const char* one = std::getenv("DEPOSITBOT_POWER_SEED")) {
    seeds.push_back(std::strtoull(one, nullptr, 10));
  } else {
    const char* first_env = std::getenv("DEPOSITBOT_POWER_FIRST_SEED");
    uint64_t first = first_env ? std::strtoull(first_env, nullptr, 10) : 1000;
    for (int i = 0; i < RunsPerMode(); ++i) seeds.push_back(first + static_cast<uint64_t>(i));
  }
  Totals totals;
  for (uint64_t seed : seeds) {
    std::mt19937_64 pick(seed);
    RunSettings run{sync, seed, 1 + static_cast<int64_t>(pick() % static_cast<uint64_t>(calls)),
                    seed % 2 == 1};
    RunOutcome out = RunOnce(run);
    ++totals.runs;
    totals.cuts += out.cut;
    totals.told += out.told;
    totals.lost_told += out.lost_told;
    totals.unbalanced += out.unbalanced;
    totals.negative += out.negative;
    totals.integrity_bad += out.integrity_bad;
    if (!out.problem.empty()) {
      totals.failing_seeds.push_back(seed);
      if (sync == Sync::kFull) {
        MESSAGE("power_loss[" << name << "] seed " << seed << " (replay with "
                              << "DEPOSITBOT_POWER_SEED=" << seed << "): " << out.problem);
      }
    }
  }
  std::printf(
      "power_loss[%s] first_seed=%llu runs=%lld cuts=%lld calls_per_workload=%lld told=%lld "
      "lost_told=%lld "
      "unbalanced=%lld negative=%lld integrity_bad=%lld\n",
      name, static_cast<unsigned long long>(seeds.front()), static_cast<long long>(totals.runs),
      static_cast<long long>(totals.cuts), static_cast<long long>(calls),
      static_cast<long long>(totals.told), static_cast<long long>(totals.lost_told),
      static_cast<long long>(totals.unbalanced), static_cast<long long>(totals.negative),
      static_cast<long long>(totals.integrity_bad));
  std::fflush(stdout);
  return totals;
}

// After every cut the books balanced, no balance was negative and the file was intact.
void CheckBooksWhole(const Totals& t) {
  CHECK(t.unbalanced == 0);
  CHECK(t.negative == 0);
  CHECK(t.integrity_bad == 0);
}

TEST_CASE("with synchronous=FULL no change the user was told about is lost to a power cut") {
  Totals t = Sweep(Sync::kFull, "full");
  CHECK(t.cuts > 0);
  CHECK(t.told > 0);
  CHECK(t.lost_told == 0);
  CheckBooksWhole(t);
}

TEST_CASE("with synchronous=NORMAL a power cut loses told deposits but never breaks the books") {
  if (std::getenv("DEPOSITBOT_POWER_SEED")) return;  // a replay concerns the shipped setting
  Totals t = Sweep(Sync::kNormal, "normal");
  CHECK(t.cuts > 0);
  // What the shipped FULL setting prevents: told changes gone after the cut.
  CHECK(t.lost_told > 0);
  // What WAL still guarantees: every surviving transaction is whole.
  CheckBooksWhole(t);
}

}  // namespace
}  // namespace depositbot::testing
