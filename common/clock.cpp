#include "common/clock.h"

#include <ctime>

namespace depositbot {

std::string FormatUtc(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::chrono::steady_clock::time_point SaturatingDeadline(std::chrono::steady_clock::time_point now,
                                                         int64_t seconds) {
  using std::chrono::steady_clock;
  if (seconds <= 0) return now;
  // Whole seconds left before the clock's end (all of the clock's span when `now` is before its
  // epoch); below that, seconds(s) converts to ticks without overflow and the sum stays in range.
  int64_t room =
      std::chrono::duration_cast<std::chrono::seconds>(steady_clock::duration::max()).count();
  if (now.time_since_epoch().count() >= 0) {
    room = std::chrono::duration_cast<std::chrono::seconds>(steady_clock::time_point::max() - now)
               .count();
  }
  if (seconds >= room) return steady_clock::time_point::max();
  return now + std::chrono::seconds(seconds);
}

}  // namespace depositbot
