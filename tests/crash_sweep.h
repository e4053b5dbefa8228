#pragma once

// The crash sweep (issue 7, part 2): the real `depositbot` process runs a
// scripted workload (deposits, admin decisions, purchases through the fake
// Namecheap server, refunds from registrar failures it injects), is killed at
// a failpoint on a random hit (exit 86), restarted (`depositbot recover` and
// the rest of the workload, or a new `serve` for the Telegram transport), and
// the books are then checked against every money rule of DESIGN.md.
//
//   SweepTotals totals;
//   for (const auto& target : SweepTargets()) totals.Add(RunCrashSweep(target, seed));
//   std::cout << totals.Report();   // runs, kills, each violation kind (all must be 0)
//
// A run depends only on (target, seed): a failing one is replayed with
// DEPOSITBOT_SWEEP_SEED=S DEPOSITBOT_SWEEP_TARGET=NAME (see ReplayHint). The
// binary is $DEPOSITBOT_BIN, built with DEPOSITBOT_FAILPOINTS=ON.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace depositbot::testing {

// How the workload reaches the bot: one `depositbot chat --as ID` process per
// session, or one `depositbot serve` fed through the fake Telegram server; or a
// race of two processes on one database (issue 11): a purchase held at the fake
// registrar's create while a second process starts and runs its start-up
// recovery, then the first one finishes, dies at a failpoint or is killed.
enum class SweepTransport { kChat, kServe, kRace };

// The two-process races (SweepTransport::kRace; SweepTarget::point is one of these).
inline constexpr const char* kRaceChatPurchaseServeStart = "chat_purchase_serve_start";
inline constexpr const char* kRaceTwoServes = "two_serves";

struct SweepTarget {
  SweepTransport transport = SweepTransport::kChat;
  std::string point;  // a failpoint name, e.g. "purchase.after_debit"; a race's name
  // "chat:purchase.after_debit", "serve:update.before_record", "race:two_serves".
  std::string Name() const;
};

// Every failpoint on every transport that reaches it, then the races.
std::vector<SweepTarget> SweepTargets();
// The targets whose Name() contains `filter` (all when empty).
std::vector<SweepTarget> SweepTargets(const std::string& filter);

struct SweepViolation {
  std::string kind;    // one of SweepViolationKinds()
  std::string detail;  // what was wrong, with ids
};

// One workload run: one kill in the workload, sometimes a second one during recovery.
struct SweepRun {
  SweepTarget target;
  uint64_t seed = 0;
  int kills = 0;      // processes that exited with the failpoint's code 86 (a second one dies
                      // during recovery when the run re-arms the point for the restart)
  int overlaps = 0;   // races: a second process finished its start-up while the first one's
                      // purchase was held between the debit and the registrar's answer
  int hit = 0;        // the hit number the failpoint was first armed at
  int processes = 0;  // depositbot processes started
  std::vector<SweepViolation> violations;
  std::vector<std::string> trace;  // what the run did, printed for a failing seed
  // What the workload left behind: "deposits confirmed", "orders registered", "orders
  // refunded", "orders recovered", "updates abandoned"... (figures, not checks).
  std::map<std::string, int> work;
  bool ok() const { return violations.empty(); }
};

// Runs `target` with `seed`. Never throws for a product failure: everything
// found is a violation (a harness step that cannot go on is "harness").
SweepRun RunCrashSweep(const SweepTarget& target, uint64_t seed);

// The violation counters every report prints, in order.
const std::vector<std::string>& SweepViolationKinds();

// "DEPOSITBOT_SWEEP_SEED=7 DEPOSITBOT_SWEEP_TARGET=chat:purchase.after_debit".
std::string ReplayHint(const SweepRun& run);

// Figures over many runs.
struct SweepTotals {
  int runs = 0;
  int kills = 0;
  int processes = 0;
  std::map<std::string, int> violations;                  // every kind of SweepViolationKinds()
  std::map<std::string, std::pair<int, int>> per_target;  // name -> (runs, kills)
  std::map<std::string, int> overlaps;                    // name -> SweepRun::overlaps summed
  std::map<std::string, int> work;                        // SweepRun::work summed
  std::vector<std::string> failing;  // one line per failing run, with its replay
  SweepTotals();
  void Add(const SweepRun& run);
  int TotalViolations() const;
  // The figures as printed: runs, kills, each violation kind, failing seeds.
  std::string Report() const;
};

}  // namespace depositbot::testing
