#pragma once

// A SQLite VFS for power-loss tests (issue 7, part 6). It wraps the platform's
// default VFS and remembers, for each database and WAL file, the contents as of
// the last xSync (the "durable image") and every write or truncate since. A
// power cut, armed to fire on the Nth write/sync/truncate call, replaces each
// file on disk with its durable image plus a random subset of the unsynced
// operations (a disk may persist any of them, in any order, between two
// syncs), then ends the process at once with _exit(kPowerLossExit), as if the
// machine lost power: no destructor, no close, no checkpoint.
//
// Only for a forked child process: Install() makes it the default VFS of the
// calling process, so every Database::Open after it goes through it.
// Single-threaded use only.

#include <cstdint>

namespace depositbot::testing {

inline constexpr int kPowerLossExit = 77;

struct PowerLossPlan {
  // The cut fires at the start of this (1-based) write/sync/truncate call; 0 never.
  int64_t cut_at_call = 0;
  // Chooses which unsynced operations survive the cut.
  uint64_t seed = 1;
};

// Registers the VFS as the process default; call once, before opening databases.
void InstallPowerLossVfs(const PowerLossPlan& plan);

// Cuts the power now (e.g. when the workload ended before the planned call):
// writes the surviving images and _exit(kPowerLossExit). Never returns.
[[noreturn]] void CutPowerNow();

// Write/sync/truncate calls seen so far on tracked files.
int64_t PowerLossVfsCalls();

}  // namespace depositbot::testing
