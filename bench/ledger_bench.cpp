// ledger_bench [--ops N] [--db PATH|URI]
// Prints, for one database opened through Database::Open as the product opens it (a SQLite file:
// WAL, synchronous=FULL; a postgresql:// URI: the server's own durability settings, printed):
//   1. ops/s of DepositRepository's version-checked apply (read, conditional
//      UPDATE, ledger INSERT, in one IMMEDIATE transaction), one writer;
//   2. ops/s of the bare minimum transaction for the same change
//      (BEGIN IMMEDIATE; UPDATE ... balance+?; INSERT ...; COMMIT), one writer;
//   3. their ratio;
//   4. at 1, 4 and 8 writer threads on ONE user, each with its own connection:
//      throughput, version conflicts per op, retries and operations that gave up;
//   5. peak RSS;
//   6. one line "ledger_bench: backend=B versioned_ops_per_s=X bare_ops_per_s=Y" for scripts
//      (bench/postgres_vs_sqlite.sh).
// N (default 1500) is the number of operations per measurement. Without --db, a fresh SQLite
// file in a temporary directory. A PostgreSQL database is used as it is (migrated if needed):
// give the bench one of its own.
#include <sys/resource.h>

#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "db/database.h"
#include "db/deposit_repository.h"
#include "db/migrator.h"
#include "db/reconciler.h"
#include "db/user_repository.h"

using namespace depositbot;
using SteadyClock = std::chrono::steady_clock;

namespace {

[[noreturn]] void Die(const std::string& what, const Error& e) {
  std::fprintf(stderr, "ledger_bench: %s: %s\n", what.c_str(), e.message.c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r) Die(what, r.error());
  return std::move(*r);
}

double Seconds(SteadyClock::time_point since) {
  return std::chrono::duration<double>(SteadyClock::now() - since).count();
}

// Alternating +1 / -1 adjustments keep the balance bounded and positive.
int64_t Delta(int i) { return (i % 2 == 0) ? 1 : -1; }

double VersionedOpsPerSecond(Database& db, const depositbot::Clock& clock, int64_t user, int ops) {
  DepositRepository repo(db, clock);
  auto start = SteadyClock::now();
  for (int i = 0; i < ops; ++i) Must(repo.Adjust(user, Delta(i), "bench", 1), "versioned apply");
  return ops / Seconds(start);
}

double BareOpsPerSecond(Database& db, const depositbot::Clock& clock, int64_t user, int ops) {
  // Statement has no reset, so both sides prepare their statements per operation.
  auto start = SteadyClock::now();
  for (int i = 0; i < ops; ++i) {
    int64_t now = clock.NowSeconds();
    auto session = db.Lock();  // one unit of work, as the repository takes one per operation
    auto tx = Must(Transaction::Begin(db, Transaction::Kind::kImmediate), "begin");
    auto upd =
        Must(db.Prepare("UPDATE user_deposits SET balance = balance + ?, version = version + 1,"
                        " updated_at = ? WHERE user_id = ?"),
             "prepare update");
    upd.Bind(1, Delta(i)).Bind(2, now).Bind(3, user);
    if (auto st = upd.Run(); !st) Die("bare update", st.error());
    auto ins = Must(db.Prepare("INSERT INTO deposit_transactions(user_id, type, amount, direction,"
                               " status, reason, created_at, decided_at, decided_by)"
                               " VALUES (?, 'adjustment', 1, ?, 'confirmed', 'bench', ?, ?, 1)"),
                    "prepare insert");
    ins.Bind(1, user).Bind(2, Delta(i)).Bind(3, now).Bind(4, now);
    if (auto st = ins.Run(); !st) Die("bare insert", st.error());
    if (auto st = tx.Commit(); !st) Die("bare commit", st.error());
  }
  return ops / Seconds(start);
}

struct Contention {
  int writers = 0;
  int ops = 0;
  double seconds = 0;
  RepositoryStats stats;
  int64_t other_errors = 0;
};

Contention Contend(const std::string& path, const depositbot::Clock& clock, int64_t user,
                   int writers, int total_ops) {
  std::vector<std::unique_ptr<Database>> dbs;
  for (int i = 0; i < writers; ++i) dbs.push_back(Must(Database::Open(path), "open writer"));
  std::vector<RepositoryStats> stats(static_cast<size_t>(writers));
  std::vector<int64_t> errors(static_cast<size_t>(writers));
  std::barrier start(writers + 1);
  std::vector<std::thread> threads;
  int per_writer = total_ops / writers;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto n = static_cast<size_t>(w);
      DepositRepository repo(*dbs[n], clock);  // the production retry policy
      start.arrive_and_wait();
      for (int i = 0; i < per_writer; ++i) {
        auto r = repo.Adjust(user, Delta(i), "bench", 1);
        if (!r && r.code() != ErrorCode::kConflict) ++errors[n];
      }
      stats[n] = repo.stats();
    });
  }
  start.arrive_and_wait();
  auto t0 = SteadyClock::now();
  for (auto& t : threads) t.join();
  Contention c;
  c.writers = writers;
  c.ops = per_writer * writers;
  c.seconds = Seconds(t0);
  for (int w = 0; w < writers; ++w) {
    auto n = static_cast<size_t>(w);
    c.stats.applied += stats[n].applied;
    c.stats.conflicts += stats[n].conflicts;
    c.stats.retries += stats[n].retries;
    c.stats.conflict_failures += stats[n].conflict_failures;
    c.other_errors += errors[n];
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  int ops = 1500;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--ops" && i + 1 < argc) {
      ops = std::atoi(argv[++i]);
    } else if (a == "--db" && i + 1 < argc) {
      path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: ledger_bench [--ops N] [--db PATH|URI]\n");
      return 2;
    }
  }
  if (ops < 8) ops = 8;
  std::string dir;
  if (path.empty()) {
    dir = (std::filesystem::temp_directory_path() / "depositbot-bench-XXXXXX").string();
    if (!mkdtemp(dir.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    path = dir + "/bench.db";
  }
  SystemClock clock;
  auto db = Must(Database::Open(path), "open");
  Must(Must(Migrator::ForEmbedded(*db), "migrations").Apply(), "migrate");
  UserRepository users(*db, clock);
  int64_t versioned_user = Must(users.FindOrCreate(1, "bench versioned"), "user").id;
  int64_t bare_user = Must(users.FindOrCreate(2, "bench bare"), "user").id;
  int64_t contended_user = Must(users.FindOrCreate(3, "bench contended"), "user").id;
  {
    DepositRepository seed(*db, clock);
    for (int64_t u : {versioned_user, bare_user, contended_user}) {
      Must(seed.Adjust(u, 1'000'000, "bench float", 1), "seed balance");
    }
  }

  std::string durability = "WAL, synchronous=FULL";
  if (db->backend() == Database::Backend::kPostgres) {
    // What a commit waits for on this server: the figure means "durable" only with these on.
    durability.clear();
    auto session = db->Lock();
    for (const char* setting : {"fsync", "synchronous_commit", "full_page_writes"}) {
      auto q = Must(db->Prepare(std::string("SHOW ") + setting), setting);
      Must(q.Step(), setting);
      durability += (durability.empty() ? "" : ", ") + std::string(setting) + "=" + q.ColumnText(0);
    }
  }
  std::printf("ledger_bench: %s %s, %d ops per measurement, %s\n",
              std::string(db->backend_name()).c_str(), db->path().c_str(), ops, durability.c_str());
  // Warm up until the WAL has grown to its steady size, then alternate the two
  // sides in rounds so that disk drift (fsync cost, checkpoints) hits both alike.
  (void)VersionedOpsPerSecond(*db, clock, versioned_user, 500);
  (void)BareOpsPerSecond(*db, clock, bare_user, 500);
  constexpr int kRounds = 5;
  double versioned_seconds = 0, bare_seconds = 0;
  int per_round = ops / kRounds;
  for (int round = 0; round < kRounds; ++round) {
    versioned_seconds += per_round / VersionedOpsPerSecond(*db, clock, versioned_user, per_round);
    bare_seconds += per_round / BareOpsPerSecond(*db, clock, bare_user, per_round);
  }
  double versioned = per_round * kRounds / versioned_seconds;
  double bare = per_round * kRounds / bare_seconds;
  std::printf("version-checked apply (read + conditional UPDATE + INSERT): %9.0f ops/s\n",
              versioned);
  std::printf("bare transaction      (UPDATE + INSERT):                    %9.0f ops/s\n", bare);
  std::printf("ratio versioned/bare: %.2f  (the version check costs %.1f%%)\n", versioned / bare,
              100.0 * (1.0 - versioned / bare));

  std::printf(
      "\ncontention on one user (each writer its own connection, 3 attempts, "
      "2 ms base backoff):\n");
  std::printf("%8s %8s %10s %10s %14s %8s %8s %8s\n", "writers", "ops", "applied", "ops/s",
              "conflicts/op", "retries", "gave_up", "errors");
  for (int writers : {1, 4, 8}) {
    auto c = Contend(path, clock, contended_user, writers, ops);
    std::printf(
        "%8d %8d %10lld %10.0f %14.4f %8lld %8lld %8lld\n", c.writers, c.ops,
        static_cast<long long>(c.stats.applied), c.stats.applied / c.seconds,
        static_cast<double>(c.stats.conflicts) / c.ops, static_cast<long long>(c.stats.retries),
        static_cast<long long>(c.stats.conflict_failures), static_cast<long long>(c.other_errors));
  }

  auto report = Must(Reconciler(*db, clock).Run(), "reconcile");
  std::printf("\nreconciliation after the run: %s (%lld ledger rows)\n",
              report.clean() ? "clean" : "DISCREPANCIES",
              static_cast<long long>(report.transactions_checked));
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak RSS: %.1f MiB\n", ru.ru_maxrss / 1024.0);
  std::printf("ledger_bench: backend=%s versioned_ops_per_s=%.0f bare_ops_per_s=%.0f\n",
              std::string(db->backend_name()).c_str(), versioned, bare);
  db.reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return report.clean() ? 0 : 1;
}
