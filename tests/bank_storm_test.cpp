// The bank storm (issue 7, part 3): the deposit repository driven by random
// command sequences against a model of what the balances must be, then by
// threads and processes at once on one database, then the hot spot of 64
// purchases racing for one balance.
//
// Every part prints one line "storm[part] seed=... operations=... conflicts=...
// retries=... gave_up=... lost_updates=0 overdrafts=0 wrong_totals=0" and the
// last test case the totals; scripts/reliability.sh reads them. The violation
// counters must be 0:
//   lost_updates  a balance that differs from the model / from the sum of the
//                 changes the callers were told were applied, or an applied
//                 change whose ledger row is missing or doubled;
//   overdrafts    a negative balance, or more than one winner in the hot spot;
//   wrong_totals  a balance that differs from its own ledger sum, a dirty
//                 reconciliation, a failed integrity check.
//
// DEPOSITBOT_STORM_SEED replays the command sequences and operation mixes (the
// thread interleaving is the scheduler's); DEPOSITBOT_STORM_SCALE=N runs N
// times as much (default 1: well under 20 s on two cores).
// bank_storm_test_pg runs the same on PostgreSQL (every TestDb a fresh database on the test
// cluster, the worker processes given its URI): there the writers really overlap, waiting
// on row locks (READ COMMITTED), where SQLite serialises them on its one write lock.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <rapidcheck.h>
#include <rapidcheck/state.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "db/reconciler.h"
#include "tests/fakes/ledger_builder.h"

using namespace depositbot;
using namespace depositbot::testing;

namespace {

int Scale() {
  const char* env = std::getenv("DEPOSITBOT_STORM_SCALE");
  int scale = env && *env ? std::atoi(env) : 1;
  return scale < 1 ? 1 : scale;
}

uint64_t Seed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("DEPOSITBOT_STORM_SEED");
    return env && *env ? std::strtoull(env, nullptr, 10) : uint64_t{20260107};
  }();
  return seed;
}

struct StormCounters {
  int64_t operations = 0;
  int64_t applied = 0;
  int64_t refused = 0;
  int64_t conflicts = 0;  // version mismatches seen by the repositories
  int64_t retries = 0;
  int64_t gave_up = 0;  // operations that returned kConflict after the last retry
  int64_t lost_updates = 0;
  int64_t overdrafts = 0;
  int64_t wrong_totals = 0;

  void Add(const StormCounters& o) {
    operations += o.operations;
    applied += o.applied;
    refused += o.refused;
    conflicts += o.conflicts;
    retries += o.retries;
    gave_up += o.gave_up;
    lost_updates += o.lost_updates;
    overdrafts += o.overdrafts;
    wrong_totals += o.wrong_totals;
  }
  void AddStats(const RepositoryStats& s) {
    conflicts += s.conflicts;
    retries += s.retries;
  }
};

StormCounters g_total;

// Thousands of migrations and reconciliations: keep the info lines out of the output.
[[maybe_unused]] const bool kQuietLogs = (SetLogLevel(LogLevel::kWarn), true);

void Report(const char* part, const StormCounters& c) {
  std::printf(
      "storm[%s] seed=%llu scale=%d operations=%lld applied=%lld refused=%lld conflicts=%lld "
      "retries=%lld gave_up=%lld lost_updates=%lld overdrafts=%lld wrong_totals=%lld\n",
      part, static_cast<unsigned long long>(Seed()), Scale(), static_cast<long long>(c.operations),
      static_cast<long long>(c.applied), static_cast<long long>(c.refused),
      static_cast<long long>(c.conflicts), static_cast<long long>(c.retries),
      static_cast<long long>(c.gave_up), static_cast<long long>(c.lost_updates),
      static_cast<long long>(c.overdrafts), static_cast<long long>(c.wrong_totals));
  std::fflush(stdout);
}

// Books-level violations of one database: unbalanced and negative balances,
// reconciler findings, integrity.
void CountBooks(Database& db, const Clock& clock, StormCounters& c) {
  auto books = CheckBooks(db);
  c.wrong_totals += static_cast<int64_t>(books.unbalanced.size());
  c.overdrafts += static_cast<int64_t>(books.negative.size());
  if (!books.ok()) MESSAGE(books.Describe());
  Reconciler reconciler(db, clock);
  auto report = reconciler.Run();
  if (!report) {
    FAIL_CHECK("reconciliation failed: " << report.error().message);
    ++c.wrong_totals;
  } else {
    c.wrong_totals += static_cast<int64_t>(report->findings.size());
  }
  if (IntegrityCheck(db) != "ok") ++c.wrong_totals;
}

// ---------------------------------------------------------------------------
// Part 1: the stateful model test.

constexpr int kModelUsers = 3;
constexpr int64_t kNoSuchTransaction = 987'654'321;
constexpr int kMaxPending = 5;  // DepositRepository's per-user limit

struct ModelTx {
  int user = 0;
  TransactionType type = TransactionType::kDeposit;
  int64_t amount = 0;
  int direction = 1;
  TransactionStatus status = TransactionStatus::kPending;
  bool refunded = false;  // purchases only
  std::string reference;  // purchases only
};

struct BankModel {
  std::array<int64_t, kModelUsers> balance{};
  std::vector<ModelTx> txs;  // in ledger row order

  int PendingOf(int user) const {
    int n = 0;
    for (const auto& t : txs) {
      n += t.user == user && t.type == TransactionType::kDeposit &&
           t.status == TransactionStatus::kPending;
    }
    return n;
  }
  bool Charged(const std::string& reference) const {
    for (const auto& t : txs) {
      if (t.type == TransactionType::kPurchase && t.reference == reference) return true;
    }
    return false;
  }
  const ModelTx* At(int index) const {
    return index >= 0 && index < static_cast<int>(txs.size()) ? &txs[static_cast<size_t>(index)]
                                                              : nullptr;
  }
};

// The system under test: one migrated in-memory database per command sequence.
struct BankSut {
  TestDb t{TestDb::kMemory};
  DepositRepository repo{t.db(), t.clock()};
  Reconciler reconciler{t.db(), t.clock()};
  std::vector<int64_t> user_ids;  // model user -> users.id
  std::vector<int64_t> tx_ids;    // model transaction -> deposit_transactions.id
  StormCounters& counters;

  explicit BankSut(StormCounters& c) : counters(c) {
    LedgerBuilder b(t.db(), t.clock());
    for (int i = 0; i < kModelUsers; ++i) user_ids.push_back(b.User(7000 + i, "model").Build().id);
  }
  int64_t TxId(int index) const {
    return index >= 0 && index < static_cast<int>(tx_ids.size())
               ? tx_ids[static_cast<size_t>(index)]
               : kNoSuchTransaction;
  }
};

using BankCommand = rc::state::Command<BankModel, BankSut>;

// What the model says a command must do: succeed (nullopt) or fail with a code.
using Expected = std::optional<ErrorCode>;

std::string CodeName(const Expected& e) {
  return e ? std::string(ErrorCodeName(*e)) : std::string("applied");
}

// After every step: the database agrees with the model and with itself.
void CheckStep(const BankModel& m, BankSut& s) {
  auto& c = s.counters;
  auto books = CheckBooks(s.t.db());
  c.wrong_totals += static_cast<int64_t>(books.unbalanced.size());
  c.overdrafts += static_cast<int64_t>(books.negative.size());
  RC_ASSERT(books.unbalanced.empty());
  RC_ASSERT(books.negative.empty());
  for (int i = 0; i < kModelUsers; ++i) {
    auto account = s.repo.GetAccount(s.user_ids[static_cast<size_t>(i)]);
    RC_ASSERT(static_cast<bool>(account));
    if (account->balance != m.balance[static_cast<size_t>(i)]) ++c.lost_updates;
    RC_ASSERT(account->balance == m.balance[static_cast<size_t>(i)]);
  }
  // Every ledger row is the model's, in order, with the model's status.
  std::vector<std::pair<int64_t, std::string>> rows;
  {
    auto lock = s.t.db().Lock();
    auto q = s.t.db().Prepare("SELECT id, status, amount FROM deposit_transactions ORDER BY id");
    RC_ASSERT(static_cast<bool>(q));
    while (true) {
      auto row = q->Step();
      RC_ASSERT(static_cast<bool>(row));
      if (!*row) break;
      rows.emplace_back(q->ColumnInt(0), q->ColumnText(1));
    }
  }
  if (rows.size() != m.txs.size()) ++c.lost_updates;
  RC_ASSERT(rows.size() == m.txs.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    RC_ASSERT(rows[i].first == s.tx_ids[i]);
    RC_ASSERT(rows[i].second == std::string(ToString(m.txs[i].status)));
  }
}

// Compares a call's outcome with the model's expectation, counts it, and
// records the id of a new ledger row.
void Expect(BankSut& s, const Result<DepositTransaction>& r, const Expected& want, bool new_row) {
  ++s.counters.operations;
  if (r) {
    ++s.counters.applied;
  } else {
    ++s.counters.refused;
    if (r.code() == ErrorCode::kConflict) ++s.counters.gave_up;
  }
  std::string got = r ? "applied" : std::string(ErrorCodeName(r.code()));
  if (!r && want && *want != r.code())
    RC_FAIL("expected " + CodeName(want) + ", got " + got + ": " + r.error().message);
  if (!r && !want) RC_FAIL("expected applied, got " + got + ": " + r.error().message);
  if (r && want) RC_FAIL("expected " + CodeName(want) + ", but it was applied");
  if (r && new_row) s.tx_ids.push_back(r->id);
}

struct RequestCmd : BankCommand {
  int user = *rc::gen::inRange(0, kModelUsers);
  int64_t amount =
      *rc::gen::weightedElement<int64_t>({{1, 0}, {19, *rc::gen::inRange<int64_t>(1, 20'000)}});
  bool blank_name = *rc::gen::weightedElement<bool>({{1, true}, {19, false}});

  Expected Predict(const BankModel& m) const {
    if (amount <= 0 || blank_name) return ErrorCode::kInvalid;
    if (m.PendingOf(user) >= kMaxPending) return ErrorCode::kFailedPrecondition;
    return std::nullopt;
  }
  void apply(BankModel& m) const override {
    if (Predict(m)) return;
    m.txs.push_back(ModelTx{user, TransactionType::kDeposit, amount, 1, TransactionStatus::kPending,
                            false, ""});
  }
  void run(const BankModel& m, BankSut& s) const override {
    auto r = s.repo.RequestDeposit(s.user_ids[static_cast<size_t>(user)], amount,
                                   blank_name ? "   " : "KIM MINJI");
    Expect(s, r, Predict(m), true);
    BankModel next = m;
    apply(next);
    CheckStep(next, s);
  }
  void show(std::ostream& os) const override {
    os << "request(user " << user << ", " << amount << (blank_name ? ", blank name" : "") << ")";
  }
};

// Confirm, reject and cancel pick a pending deposit most of the time, else any
// row or one that does not exist (-1).
int PickDecision(const BankModel& m) {
  std::vector<int> pending;
  for (size_t i = 0; i < m.txs.size(); ++i) {
    if (m.txs[i].type == TransactionType::kDeposit &&
        m.txs[i].status == TransactionStatus::kPending) {
      pending.push_back(static_cast<int>(i));
    }
  }
  if (!pending.empty() && *rc::gen::inRange(0, 4) != 0) return *rc::gen::elementOf(pending);
  return *rc::gen::inRange(-1, static_cast<int>(m.txs.size()));
}

Expected PredictDecision(const ModelTx* t) {
  if (!t) return ErrorCode::kNotFound;
  if (t->type != TransactionType::kDeposit || t->status != TransactionStatus::kPending) {
    return ErrorCode::kFailedPrecondition;
  }
  return std::nullopt;
}

struct DecideCmd : BankCommand {
  enum How { kConfirm, kReject, kCancel };
  explicit DecideCmd(const BankModel& m, How h)
      : how(h), index(PickDecision(m)), actor_is_owner(*rc::gen::inRange(0, 5) != 0) {
    const ModelTx* t = m.At(index);
    actor = t ? t->user : *rc::gen::inRange(0, kModelUsers);
    if (!actor_is_owner) actor = (actor + 1) % kModelUsers;
  }
  How how;
  int index;
  bool actor_is_owner;
  int actor;  // cancel only: the user who asks

  void checkPreconditions(const BankModel& m) const override {
    RC_PRE(index < static_cast<int>(m.txs.size()));
  }
  Expected Predict(const BankModel& m) const {
    const ModelTx* t = m.At(index);
    if (how == kCancel && t && t->user != actor) return ErrorCode::kForbidden;
    return PredictDecision(t);
  }
  void apply(BankModel& m) const override {
    if (Predict(m)) return;
    auto& t = m.txs[static_cast<size_t>(index)];
    if (how == kConfirm) {
      t.status = TransactionStatus::kConfirmed;
      m.balance[static_cast<size_t>(t.user)] += t.amount;
    } else {
      t.status = how == kReject ? TransactionStatus::kRejected : TransactionStatus::kCancelled;
    }
  }
  void run(const BankModel& m, BankSut& s) const override {
    int64_t id = s.TxId(index);
    Result<DepositTransaction> r =
        how == kConfirm  ? s.repo.Confirm(id, LedgerBuilder::kAdminTelegramId)
        : how == kReject ? s.repo.Reject(id, LedgerBuilder::kAdminTelegramId, "not received")
                         : s.repo.Cancel(id, s.user_ids[static_cast<size_t>(actor)]);
    Expect(s, r, Predict(m), false);
    BankModel next = m;
    apply(next);
    CheckStep(next, s);
  }
  void show(std::ostream& os) const override {
    os << (how == kConfirm ? "confirm" : how == kReject ? "reject" : "cancel") << "(#" << index;
    if (how == kCancel) os << " by user " << actor;
    os << ")";
  }
};
struct ConfirmCmd : DecideCmd {
  explicit ConfirmCmd(const BankModel& m) : DecideCmd(m, kConfirm) {}
};
struct RejectCmd : DecideCmd {
  explicit RejectCmd(const BankModel& m) : DecideCmd(m, kReject) {}
};
struct CancelCmd : DecideCmd {
  explicit CancelCmd(const BankModel& m) : DecideCmd(m, kCancel) {}
};

std::atomic<int64_t> g_next_order{1};

struct PurchaseCmd : BankCommand {
  explicit PurchaseCmd(const BankModel& m) {
    std::vector<std::string> used;
    for (const auto& t : m.txs) {
      if (t.type == TransactionType::kPurchase) used.push_back(t.reference);
    }
    if (!used.empty() && *rc::gen::inRange(0, 8) == 0) {
      reference = *rc::gen::elementOf(used);  // a retried charge
    } else {
      // Not "order:<n>": no domain order stands behind these, and the reconciler reports a
      // purchase for an order that does not exist.
      reference = "storm:" + std::to_string(g_next_order++);
    }
  }
  int user = *rc::gen::inRange(0, kModelUsers);
  int64_t amount = *rc::gen::inRange<int64_t>(1, 15'000);
  std::string reference;

  Expected Predict(const BankModel& m) const {
    if (m.Charged(reference)) return ErrorCode::kFailedPrecondition;
    if (m.balance[static_cast<size_t>(user)] < amount) return ErrorCode::kInsufficientFunds;
    return std::nullopt;
  }
  void apply(BankModel& m) const override {
    if (Predict(m)) return;
    m.balance[static_cast<size_t>(user)] -= amount;
    m.txs.push_back(ModelTx{user, TransactionType::kPurchase, amount, -1,
                            TransactionStatus::kConfirmed, false, reference});
  }
  void run(const BankModel& m, BankSut& s) const override {
    auto r = s.repo.Purchase(s.user_ids[static_cast<size_t>(user)], amount, reference, "storm");
    Expect(s, r, Predict(m), true);
    BankModel next = m;
    apply(next);
    CheckStep(next, s);
  }
  void show(std::ostream& os) const override {
    os << "purchase(user " << user << ", " << amount << ", " << reference << ")";
  }
};

struct RefundCmd : BankCommand {
  explicit RefundCmd(const BankModel& m) {
    std::vector<int> purchases;
    for (size_t i = 0; i < m.txs.size(); ++i) {
      if (m.txs[i].type == TransactionType::kPurchase) purchases.push_back(static_cast<int>(i));
    }
    index = !purchases.empty() && *rc::gen::inRange(0, 5) != 0
                ? *rc::gen::elementOf(purchases)
                : *rc::gen::inRange(-1, static_cast<int>(m.txs.size()));
  }
  int index = -1;

  void checkPreconditions(const BankModel& m) const override {
    RC_PRE(index < static_cast<int>(m.txs.size()));
  }
  Expected Predict(const BankModel& m) const {
    const ModelTx* t = m.At(index);
    if (!t) return ErrorCode::kNotFound;
    if (t->type != TransactionType::kPurchase || t->status != TransactionStatus::kConfirmed ||
        t->refunded) {
      return ErrorCode::kFailedPrecondition;
    }
    return std::nullopt;
  }
  void apply(BankModel& m) const override {
    if (Predict(m)) return;
    auto& p = m.txs[static_cast<size_t>(index)];
    p.refunded = true;
    m.balance[static_cast<size_t>(p.user)] += p.amount;
    m.txs.push_back(ModelTx{p.user, TransactionType::kRefund, p.amount, 1,
                            TransactionStatus::kConfirmed, false, ""});
  }
  void run(const BankModel& m, BankSut& s) const override {
    auto r = s.repo.Refund(s.TxId(index), "storm refund");
    Expect(s, r, Predict(m), true);
    BankModel next = m;
    apply(next);
    CheckStep(next, s);
  }
  void show(std::ostream& os) const override { os << "refund(#" << index << ")"; }
};

struct AdjustCmd : BankCommand {
  int user = *rc::gen::inRange(0, kModelUsers);
  int64_t amount = *rc::gen::inRange<int64_t>(-10'000, 10'001);

  Expected Predict(const BankModel& m) const {
    if (amount == 0) return ErrorCode::kInvalid;
    if (amount < 0 && m.balance[static_cast<size_t>(user)] < -amount) {
      return ErrorCode::kInsufficientFunds;
    }
    return std::nullopt;
  }
  void apply(BankModel& m) const override {
    if (Predict(m)) return;
    m.balance[static_cast<size_t>(user)] += amount;
    m.txs.push_back(ModelTx{user, TransactionType::kAdjustment, amount < 0 ? -amount : amount,
                            amount < 0 ? -1 : 1, TransactionStatus::kConfirmed, false, ""});
  }
  void run(const BankModel& m, BankSut& s) const override {
    auto r = s.repo.Adjust(s.user_ids[static_cast<size_t>(user)], amount, "storm correction",
                           LedgerBuilder::kAdminTelegramId);
    Expect(s, r, Predict(m), true);
    BankModel next = m;
    apply(next);
    CheckStep(next, s);
  }
  void show(std::ostream& os) const override {
    os << "adjust(user " << user << ", " << amount << ")";
  }
};

struct ReconcileCmd : BankCommand {
  void run(const BankModel& m, BankSut& s) const override {
    ++s.counters.operations;
    auto report = s.reconciler.Run();
    RC_ASSERT(static_cast<bool>(report));
    s.counters.wrong_totals += static_cast<int64_t>(report->findings.size());
    RC_ASSERT(report->clean());
    RC_ASSERT(report->users_checked == kModelUsers);
    CheckStep(m, s);
  }
  void show(std::ostream& os) const override { os << "reconcile()"; }
};

}  // namespace

TEST_CASE("bank storm: random command sequences agree with the model after every step") {
  StormCounters counters;
  rc::detail::TestParams params;
  params.seed = Seed();
  params.maxSuccess = 100 * Scale();
  params.maxSize = 120;
  rc::detail::TestMetadata metadata;
  metadata.id = metadata.description = "bank storm model";
  auto result = rc::detail::checkTestable(
      [&] {
        BankSut sut(counters);
        rc::state::check(
            BankModel{}, sut,
            rc::state::gen::execOneOfWithArgs<RequestCmd, RequestCmd, RequestCmd, ConfirmCmd,
                                              ConfirmCmd, ConfirmCmd, RejectCmd, CancelCmd,
                                              PurchaseCmd, PurchaseCmd, PurchaseCmd, RefundCmd,
                                              RefundCmd, AdjustCmd, AdjustCmd, ReconcileCmd>());
      },
      metadata, params);
  std::ostringstream message;
  rc::detail::printResultMessage(result, message);
  MESSAGE(message.str());
  CHECK(result.is<rc::detail::SuccessResult>());
  Report("model", counters);
  g_total.Add(counters);
  CHECK(counters.lost_updates == 0);
  CHECK(counters.overdrafts == 0);
  CHECK(counters.wrong_totals == 0);
}

// ---------------------------------------------------------------------------
// Part 2: threads and processes at once on one database (a file, or PostgreSQL).

namespace {

constexpr int kStormThreads = 4;
constexpr int kStormProcesses = 2;
constexpr int kStormUsers = 3;
constexpr int kStormOps = 200;

struct Worker {
  pid_t pid = -1;
  std::string log;
};

// Each applied change the callers were told about, summed per user, must be
// the balance: anything else is a lost (or invented) update.
int64_t LostUpdates(Database& db, const std::vector<WorkloadOp>& ops) {
  std::map<int64_t, int64_t> expected;
  for (const auto& op : ops) {
    if (op.outcome != "applied") continue;
    if (op.op == "confirm") expected[op.user_id] += op.amount;
    if (op.op == "purchase") expected[op.user_id] -= op.amount;
    if (op.op == "refund" || op.op == "adjust") expected[op.user_id] += op.amount;
  }
  int64_t lost = 0;
  for (const auto& u : CheckBooks(db).users) {
    if (u.balance != expected[u.user_id]) ++lost;
  }
  return lost;
}

}  // namespace

TEST_CASE("bank storm: threads and processes on one database keep every balance exact") {
  StormCounters counters;
  const int rounds = 2 * Scale();
  for (int round = 0; round < rounds; ++round) {
    uint64_t seed = Seed() * 1000 + static_cast<uint64_t>(round) * 10;
    TestDb t(TestDb::kFile);
    std::vector<int64_t> users;
    {
      LedgerBuilder b(t.db(), t.clock());
      for (int i = 0; i < kStormUsers; ++i) users.push_back(b.User(8000 + i, "storm").Build().id);
    }
    std::vector<WorkloadOp> all;
    std::string ids;
    for (auto id : users) ids += (ids.empty() ? "" : ",") + std::to_string(id);

    // Processes first (fork before any thread exists), held at a pipe gate.
    int gate[2];
    REQUIRE(pipe(gate) == 0);
    std::vector<Worker> workers;
    for (int p = 0; p < kStormProcesses; ++p) {
      Worker w;
      w.log = t.dir() + "/proc" + std::to_string(p) + ".log";
      std::string worker = std::to_string(100 + p);
      std::string worker_seed = std::to_string(seed + 5 + static_cast<uint64_t>(p));
      std::string ops = std::to_string(kStormOps);
      w.pid = fork();
      REQUIRE(w.pid >= 0);
      if (w.pid == 0) {
        close(gate[1]);
        dup2(gate[0], 0);
        int fd = open(w.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        const char* argv[] = {
            LEDGER_WORKER_PATH, t.path().c_str(), worker.c_str(), worker_seed.c_str(),
            ops.c_str(),        ids.c_str(),      nullptr};
        execv(LEDGER_WORKER_PATH, const_cast<char* const*>(argv));
        _exit(127);
      }
      workers.push_back(w);
    }
    close(gate[0]);

    std::vector<std::unique_ptr<Database>> dbs;
    for (int i = 0; i < kStormThreads; ++i) dbs.push_back(t.OpenAnother());
    std::vector<std::vector<WorkloadOp>> logs(kStormThreads);
    std::vector<RepositoryStats> stats(kStormThreads);
    std::barrier start(kStormThreads + 1);
    std::vector<std::thread> threads;
    SystemClock clock;
    for (int i = 0; i < kStormThreads; ++i) {
      threads.emplace_back([&, i] {
        auto n = static_cast<size_t>(i);
        DepositRepository repo(*dbs[n], clock);
        WorkloadOptions options{i, seed + static_cast<uint64_t>(i), kStormOps, users};
        start.arrive_and_wait();
        logs[n] = RunWorkload(repo, options);
        stats[n] = repo.stats();
      });
    }
    close(gate[1]);           // the processes start...
    start.arrive_and_wait();  // ...and so do the threads
    for (auto& th : threads) th.join();
    for (const auto& w : workers) {
      int status = 0;
      REQUIRE(waitpid(w.pid, &status, 0) == w.pid);
      CHECK(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
    }

    for (size_t n = 0; n < logs.size(); ++n) {
      all.insert(all.end(), logs[n].begin(), logs[n].end());
      counters.AddStats(stats[n]);
    }
    for (const auto& w : workers) {
      std::ifstream in(w.log);
      for (std::string line; std::getline(in, line);) {
        if (line.rfind("# stats ", 0) == 0) {
          std::istringstream s(line.substr(8));
          RepositoryStats st;
          s >> st.applied >> st.conflicts >> st.retries >> st.conflict_failures;
          counters.AddStats(st);
          continue;
        }
        all.push_back(WorkloadOp::FromLine(line));
      }
    }
    for (const auto& op : all) {
      if (op.outcome == "skipped") continue;
      ++counters.operations;
      if (op.outcome == "applied") ++counters.applied;
      if (op.outcome == "refused") ++counters.refused;
      if (op.outcome == "conflict") ++counters.gave_up;
      if (op.outcome == "error") FAIL_CHECK("unexpected error: " << op.ToLine());
    }
    counters.lost_updates += LostUpdates(t.db(), all);
    // Every applied op is exactly its ledger row; nothing else wrote one.
    for (const auto& p : VerifyWorkload(t.db(), all)) {
      ++counters.lost_updates;
      FAIL_CHECK(p);
    }
    CountBooks(t.db(), t.clock(), counters);
  }
  Report("parallel", counters);
  g_total.Add(counters);
  CHECK(counters.applied > 0);
  CHECK(counters.lost_updates == 0);
  CHECK(counters.overdrafts == 0);
  CHECK(counters.wrong_totals == 0);
}

// ---------------------------------------------------------------------------
// Part 3: the hot spot.

TEST_CASE("hot spot: 64 purchases of P against a balance of exactly P, exactly one succeeds") {
  constexpr int kBuyers = 64;
  constexpr int64_t kPrice = 12'345;
  StormCounters counters;
  const int rounds = 3 * Scale();
  int64_t one_winner_rounds = 0;
  for (int round = 0; round < rounds; ++round) {
    TestDb t(TestDb::kFile);
    int64_t user = 0;
    {
      LedgerBuilder b(t.db(), t.clock());
      user = b.User(9100, "hot").Balance(kPrice).Build().id;
    }
    std::vector<std::unique_ptr<Database>> dbs;
    for (int i = 0; i < kBuyers; ++i) dbs.push_back(t.OpenAnother());
    std::vector<std::optional<ErrorCode>> outcome(kBuyers);
    std::vector<RepositoryStats> stats(kBuyers);
    std::barrier start(kBuyers);
    std::vector<std::thread> threads;
    SystemClock clock;
    for (int i = 0; i < kBuyers; ++i) {
      threads.emplace_back([&, i] {
        auto n = static_cast<size_t>(i);
        DepositRepository repo(*dbs[n], clock);
        std::string reference = "hot:" + std::to_string(round) + ":" + std::to_string(i);
        start.arrive_and_wait();
        auto r = repo.Purchase(user, kPrice, reference, "hot spot");
        outcome[n] = r ? std::nullopt : std::optional<ErrorCode>(r.code());
        stats[n] = repo.stats();
      });
    }
    for (auto& th : threads) th.join();

    int64_t wins = 0;
    std::map<std::string, int> by_code;
    for (int i = 0; i < kBuyers; ++i) {
      auto n = static_cast<size_t>(i);
      ++counters.operations;
      counters.AddStats(stats[n]);
      if (!outcome[n]) {
        ++wins;
        ++counters.applied;
        continue;
      }
      ++counters.refused;
      ++by_code[std::string(ErrorCodeName(*outcome[n]))];
      if (*outcome[n] == ErrorCode::kConflict) ++counters.gave_up;
      CHECK_MESSAGE(
          (*outcome[n] == ErrorCode::kInsufficientFunds || *outcome[n] == ErrorCode::kConflict),
          "buyer " << i << ": " << ErrorCodeName(*outcome[n]));
    }
    if (wins == 1) ++one_winner_rounds;
    if (wins > 1) counters.overdrafts += wins - 1;
    auto account = DepositRepository(t.db(), t.clock()).GetAccount(user);
    REQUIRE(account);
    if (account->balance != kPrice - wins * kPrice) ++counters.lost_updates;
    int64_t rows = QueryInt(t.db(),
                            "SELECT COUNT(*) FROM deposit_transactions WHERE type = "
                            "'purchase' AND user_id = " +
                                std::to_string(user));
    if (rows != wins) ++counters.lost_updates;
    CountBooks(t.db(), t.clock(), counters);
    std::string codes;
    for (const auto& [code, n] : by_code) codes += " " + code + "=" + std::to_string(n);
    MESSAGE("hot spot round " << round << ": winners=" << wins << " refused:" << codes);
    CHECK(wins == 1);
    CHECK(account->balance == 0);
  }
  Report("hotspot", counters);
  g_total.Add(counters);
  CHECK(one_winner_rounds == rounds);
  CHECK(counters.lost_updates == 0);
  CHECK(counters.overdrafts == 0);
  CHECK(counters.wrong_totals == 0);
}

// Last in the file, so doctest (file order) runs it after the parts above.
TEST_CASE("bank storm totals: no lost update, no overdraft, no wrong total") {
  Report("total", g_total);
  CHECK(g_total.lost_updates == 0);
  CHECK(g_total.overdrafts == 0);
  CHECK(g_total.wrong_totals == 0);
}
