#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <vector>

#include "common/clock.h"

namespace depositbot {

// What a component needs from the world besides its inputs: the time, a way to wait, and chance
// (backoff jitter, generated ids). One seam for all three, like leveldb's Env: production passes
// SystemEnvironment(), tests a TestEnvironment whose clock moves only when the code sleeps and
// whose draws repeat from a seed. A class that only reads the time takes a `const Clock&`
// (clock() is one).
//
// Thread-safe: any thread may call any method at once. Components keep a reference; the
// environment must outlive them.
class Environment {
 public:
  virtual ~Environment() = default;

  virtual const Clock& clock() const = 0;
  // Blocks the calling thread for `duration` (zero or less: returns at once). Not cancellable:
  // no caller needs that today (a 429 or a conflict backoff is short); a loop that must stop
  // early waits on its own condition variable.
  virtual void Sleep(std::chrono::microseconds duration) = 0;
  // A uniformly distributed 64-bit value.
  virtual uint64_t Random() = 0;

  int64_t NowMillis() const { return clock().NowMillis(); }
  // Uniform in [0, bound): Random() % bound (a bias below 2^-40 for the bounds used here); 0 for
  // a bound of 0 or less.
  int64_t UniformBelow(int64_t bound);
  // Uniform in [0, 1) with 53 random bits.
  double UniformUnit();
};

// The real world: SystemClock, std::this_thread::sleep_for, and a mt19937_64 seeded from
// std::random_device (behind a mutex). One object for the whole process, never destroyed.
Environment& SystemEnvironment();

// A deterministic environment for tests and offline runs: a FixedClock that stands still until
// Sleep advances it, sleeps recorded instead of slept, and draws from a mt19937_64 with a fixed
// seed (the same seed gives the same draws), after any queued with QueueRandom.
class TestEnvironment : public Environment {
 public:
  static constexpr int64_t kDefaultNowMillis = 1772366400000;  // 2026-03-01T12:00:00Z

  explicit TestEnvironment(int64_t now_millis = kDefaultNowMillis, uint64_t seed = 1);

  const Clock& clock() const override { return clock_; }
  FixedClock& fixed_clock() { return clock_; }
  // Records `duration` and advances the clock by its whole milliseconds; returns at once.
  void Sleep(std::chrono::microseconds duration) override;
  uint64_t Random() override;

  // The next draws, in order, before the seeded generator resumes.
  void QueueRandom(std::vector<uint64_t> draws);
  // Every Sleep so far, in call order.
  std::vector<std::chrono::microseconds> Sleeps() const;
  std::vector<std::chrono::milliseconds> SleepsMillis() const;

 private:
  FixedClock clock_;
  mutable std::mutex mu_;
  std::vector<std::chrono::microseconds> sleeps_;
  std::deque<uint64_t> queued_;
  std::mt19937_64 rng_;
};

}  // namespace depositbot
