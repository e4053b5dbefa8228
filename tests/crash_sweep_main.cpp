// crash_sweep_main: the crash sweep for long runs (scripts/reliability.sh).
//   crash_sweep_main [--seeds N] [--first-seed S] [--target NAME] [--jobs J] [--verbose]
// Runs every target (or those whose name contains NAME) with seeds S..S+N-1 (S random unless
// given; DEPOSITBOT_SWEEP_SEED=S alone replays one seed, DEPOSITBOT_SWEEP_TARGET filters),
// prints runs, kills and each violation counter, the replay line of every failing run, and
// exits 1 when any counter is not 0. The binary is $DEPOSITBOT_BIN or --bin PATH.
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/crash_sweep.h"

using namespace depositbot::testing;

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: crash_sweep_main [--seeds N] [--first-seed S] [--target NAME] "
               "[--jobs J] [--bin PATH] [--verbose]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 10;
  uint64_t first = 0;
  bool first_given = false;
  int jobs = 1;
  bool verbose = false;
  const char* env_target = std::getenv("DEPOSITBOT_SWEEP_TARGET");
  std::string filter = env_target ? env_target : "";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--seeds") {
        seeds = std::stoi(value());
      } else if (a == "--first-seed") {
        first = std::stoull(value());
        first_given = true;
      } else if (a == "--target") {
        filter = value();
      } else if (a == "--jobs") {
        jobs = std::max(1, std::stoi(value()));
      } else if (a == "--bin") {
        setenv("DEPOSITBOT_BIN", value().c_str(), 1);
      } else if (a == "--verbose") {
        verbose = true;
      } else {
        return Usage();
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "crash_sweep_main: %s\n", e.what());
      return Usage();
    }
  }
#ifdef DEPOSITBOT_BIN_DEFAULT
  setenv("DEPOSITBOT_BIN", DEPOSITBOT_BIN_DEFAULT, 0);
#endif
  if (const char* one = std::getenv("DEPOSITBOT_SWEEP_SEED"); one && *one) {
    first = std::stoull(one);
    first_given = true;
    seeds = 1;
  }
  if (!first_given) first = std::random_device{}() % 1000000 + 1;
  auto targets = SweepTargets(filter);
  if (targets.empty()) {
    std::fprintf(stderr, "crash_sweep_main: no target matches \"%s\"\n", filter.c_str());
    return 2;
  }
  std::printf("crash sweep: %zu targets x %d seeds from %llu, %d job(s)\n", targets.size(), seeds,
              static_cast<unsigned long long>(first), jobs);
  std::fflush(stdout);

  struct Job {
    SweepTarget target;
    uint64_t seed;
  };
  std::vector<Job> work;
  for (int s = 0; s < seeds; ++s) {
    for (const auto& t : targets) work.push_back({t, first + static_cast<uint64_t>(s)});
  }
  SweepTotals totals;
  std::mutex mu;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < work.size();) {
      SweepRun run = RunCrashSweep(work[i].target, work[i].seed);
      std::lock_guard<std::mutex> lock(mu);
      totals.Add(run);
      if (verbose || !run.ok()) {
        std::printf(
            "%s seed %llu: %d kill(s), first armed at hit %d, %d processes, %zu "
            "violation(s)\n",
            run.target.Name().c_str(), static_cast<unsigned long long>(run.seed), run.kills,
            run.hit, run.processes, run.violations.size());
        if (verbose || !run.ok()) {
          for (const auto& line : run.trace) std::printf("    %s\n", line.c_str());
          std::printf("    replay: %s %s\n", ReplayHint(run).c_str(), argv[0]);
        }
      }
      if (totals.runs % 20 == 0) {
        std::printf("... %d/%zu runs, %d kills, %d violations\n", totals.runs, work.size(),
                    totals.kills, totals.TotalViolations());
      }
      std::fflush(stdout);
    }
  };
  std::vector<std::thread> threads;
  for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  std::cout << totals.Report() << std::flush;
  return totals.TotalViolations() == 0 ? 0 : 1;
}
