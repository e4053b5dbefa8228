#pragma once

namespace depositbot {

// A lock one process at a time holds among every process (and machine) sharing the store: who
// runs the jobs, who long-polls Telegram. Taken with Database::NewLeaderLock(name).
//  - PostgreSQL: a session advisory lock on a connection of its own; the server lets it go when
//    the holder's process dies or its connection drops, so another takes over at its next Hold().
//  - SQLite: flock() on a file beside the database; the kernel lets it go when the process dies.
// Not thread-safe: one thread calls Hold()/Release().
class LeaderLock {
 public:
  virtual ~LeaderLock() = default;
  // Takes the lock when it is free, or checks that this holder still has it; true while held.
  // Never waits for the holder: it blocks at most for a connection attempt.
  virtual bool Hold() = 0;
  // Lets it go (also on destruction), so a standby takes over at its next Hold().
  virtual void Release() = 0;
};

}  // namespace depositbot
