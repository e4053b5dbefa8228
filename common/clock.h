#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace depositbot {

// Wall-clock time as a seam: production uses SystemClock, tests and fixture
// replay a FixedClock. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
  int64_t NowSeconds() const { return NowMillis() / 1000; }
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(int64_t millis) : now_(millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void Advance(int64_t millis) { now_ += millis; }
  void Set(int64_t millis) { now_ = millis; }

 private:
  std::atomic<int64_t> now_;
};

// "2026-11-28T23:13:36Z" for a Unix time in seconds (UTC).
std::string FormatUtc(int64_t unix_seconds);

// `now` plus `seconds`, clamped to the clock's range instead of overflowing: a deadline taken
// from a setting or a flag may be "practically never" (time_point::max()) but never wraps into
// the past, where a wait would return at once and its loop would spin. Seconds <= 0 give `now`.
std::chrono::steady_clock::time_point SaturatingDeadline(std::chrono::steady_clock::time_point now,
                                                         int64_t seconds);

}  // namespace depositbot
