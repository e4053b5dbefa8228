#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>

#include "common/environment.h"
#include "common/result.h"

namespace depositbot {

// Settings of ModelGate (see there).
struct ModelGateOptions {
  int max_concurrent = 1024;                   // calls in flight at once; values below 1 count as 1
  int64_t max_requests_per_minute = 0;         // 0: no limit
  std::chrono::milliseconds max_pause{30000};  // cap on one pause asked for; at most a day
};

// The one door to the model provider that every caller of a process goes through, so that the
// provider's limits hold for the process as a whole, not per thread:
//   - at most `max_concurrent` calls in flight: a call holds a Permit while its HTTP request
//     runs; callers that find none free queue in arrival order (FIFO);
//   - at most `max_requests_per_minute` call starts, spaced evenly with a burst of one second's
//     worth (R/60, at least 1), as providers enforce such limits; a call waits for its slot
//     instead of failing;
//   - a shared pause: Throttle (a 429, a Retry-After) means no call starts before now + wait,
//     for every caller, those already queued included. A pause is capped at `max_pause` and
//     never shortens a later one already recorded.
// No wait is unbounded: Acquire gives up with kUnavailable, and a message a person reads, as
// soon as it sees that it would wait longer than its `max_wait`.
//
// Time is the Environment's: pause and rate waits are computed from env.clock() and slept with
// env.Sleep (a TestEnvironment runs them without real sleeping); waits for a permit or for the
// callers ahead are condition-variable waits in real time. A clock that jumps back is not
// trusted further than the limits allow (a pause never reaches past now + max_pause).
//
// Thread-safe. The environment must outlive the gate, and the gate every Permit and Acquire.
class ModelGate {
 public:
  using Options = ModelGateOptions;

  // The right to one call in flight; released on destruction. Move-only.
  class Permit {
   public:
    Permit(Permit&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { Release(); }
    void Release();

   private:
    friend class ModelGate;
    explicit Permit(ModelGate* gate) : gate_(gate) {}
    ModelGate* gate_;
  };

  // Figures for /metrics; counters count since construction.
  struct Stats {
    int64_t in_flight = 0;            // permits held now
    int64_t waiting = 0;              // callers queued now
    int64_t throttled_total = 0;      // Throttle calls: the server asked us to slow down
    int64_t waits_total = 0;          // Acquires that could not start at once
    int64_t waited_millis_total = 0;  // time those spent waiting, permit or pause or rate
    int64_t gave_up_total = 0;        // Acquires that failed because the wait was too long
  };

  explicit ModelGate(Options options, Environment& env = SystemEnvironment());
  ModelGate(const ModelGate&) = delete;
  ModelGate& operator=(const ModelGate&) = delete;

  // Blocks until it is this caller's turn, no pause holds, the rate allows a start and a permit
  // is free. Fails with kUnavailable ("the model provider asked us to slow down; try again in
  // 5 s", or that the rate limit or the queue is full) when that would take more than
  // `max_wait`, without waiting that long when the pause or the rate says so up front.
  Result<Permit> Acquire(std::chrono::milliseconds max_wait);

  // The model server asked us to slow down: no call starts before now + `wait`, clamped to
  // [0, max_pause]. A later pause already recorded stays. Counts one throttle event and lets
  // every queued caller see the pause (those that cannot wait that long give up at once).
  void Throttle(std::chrono::milliseconds wait);

  Stats stats() const;
  // "at most 1024 calls at once, no per-minute limit" / "..., at most 600 a minute".
  std::string Describe() const;
  const Options& options() const { return options_; }

 private:
  struct Waiter {
    std::condition_variable cv;
  };

  void ReleaseOne();
  // Both under mu_; in milliseconds from `now_ms`, 0 when a call may start now.
  int64_t PauseLeftLocked(int64_t now_ms);
  int64_t RateWaitLocked(int64_t now_ms);
  void GrantLocked(int64_t now_ms);

  const Options options_;
  Environment& env_;
  const int64_t interval_us_;   // rate: the spacing of starts; 0 without a limit
  const int64_t tolerance_us_;  // rate: how far ahead of the spacing a burst may run

  mutable std::mutex mu_;
  std::list<Waiter*> queue_;  // FIFO; the front is the next to start
  int in_flight_ = 0;
  int64_t pause_until_ms_ = 0;          // env clock; no start before it
  int64_t theoretical_arrival_us_ = 0;  // rate (GCRA): when the next start would be due
  Stats stats_;
};

}  // namespace depositbot
