#include "agent/model_gate.h"

#include <algorithm>

#include "common/task.h"

namespace depositbot {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// Longer than any wait a caller may mean; keeps the microsecond arithmetic far from overflow.
constexpr int64_t kMaxWaitMillis = 24 * 3600 * 1000;

int64_t CeilSeconds(int64_t millis) { return (millis + 999) / 1000; }

int64_t SpacingMicros(int64_t per_minute) {
  if (per_minute <= 0) return 0;
  // Rounded up: the spacing may make us a hair slower than the limit, never faster.
  return (60'000'000 + per_minute - 1) / per_minute;
}

}  // namespace

ModelGate::Permit& ModelGate::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    Release();
    gate_ = other.gate_;
    other.gate_ = nullptr;
  }
  return *this;
}

void ModelGate::Permit::Release() {
  if (gate_ == nullptr) return;
  gate_->ReleaseOne();
  gate_ = nullptr;
}

ModelGate::ModelGate(Options options, Environment& env)
    : options_([&] {
        options.max_concurrent = std::max(1, options.max_concurrent);
        options.max_requests_per_minute = std::max<int64_t>(0, options.max_requests_per_minute);
        options.max_pause =
            std::clamp(options.max_pause, milliseconds(0), milliseconds(kMaxWaitMillis));
        return options;
      }()),
      env_(env),
      interval_us_(SpacingMicros(options_.max_requests_per_minute)),
      tolerance_us_(interval_us_ == 0
                        ? 0
                        : (std::max<int64_t>(1, options_.max_requests_per_minute / 60) - 1) *
                              interval_us_) {}

int64_t ModelGate::PauseLeftLocked(int64_t now_ms) {
  // A clock set back must not stretch a pause past what any server may ask for.
  pause_until_ms_ = std::min(pause_until_ms_, now_ms + options_.max_pause.count());
  return std::max<int64_t>(0, pause_until_ms_ - now_ms);
}

int64_t ModelGate::RateWaitLocked(int64_t now_ms) {
  if (interval_us_ == 0) return 0;
  // GCRA: a start is due at the theoretical arrival time; up to `tolerance` early is a burst.
  // After a start it is never further ahead than now + tolerance + interval, so a clamp there
  // changes nothing unless the clock went back.
  const int64_t now_us = now_ms * 1000;
  theoretical_arrival_us_ =
      std::min(theoretical_arrival_us_, now_us + tolerance_us_ + interval_us_);
  const int64_t wait_us = theoretical_arrival_us_ - tolerance_us_ - now_us;
  return wait_us <= 0 ? 0 : (wait_us + 999) / 1000;
}

void ModelGate::GrantLocked(int64_t now_ms) {
  ++in_flight_;
  if (interval_us_ != 0) {
    theoretical_arrival_us_ = std::max(theoretical_arrival_us_, now_ms * 1000) + interval_us_;
  }
}

Result<ModelGate::Permit> ModelGate::Acquire(milliseconds max_wait) {
  const int64_t budget_us = std::clamp<int64_t>(max_wait.count(), 0, kMaxWaitMillis) * 1000;
  std::unique_lock<std::mutex> lock(mu_);
  int64_t now = env_.NowMillis();
  if (queue_.empty() && in_flight_ < options_.max_concurrent && PauseLeftLocked(now) == 0 &&
      RateWaitLocked(now) == 0) {
    GrantLocked(now);
    return Permit(this);
  }

  // This thread waits: under the Dispatcher, work that could run meanwhile gets another.
  BlockingScope blocking;
  Waiter self;
  const auto me = queue_.insert(queue_.end(), &self);
  ++stats_.waits_total;
  int64_t waited_us = 0;  // env sleeps plus real condition-variable waits
  // Leaves the queue; the next in line may now be at the front and able to start.
  auto leave = [&] {
    const bool was_front = queue_.begin() == me;
    queue_.erase(me);
    if (was_front && !queue_.empty()) queue_.front()->cv.notify_one();
    stats_.waited_millis_total += waited_us / 1000;
  };
  auto give_up = [&](std::string message) -> Result<Permit> {
    leave();
    ++stats_.gave_up_total;
    return Error::Unavailable(std::move(message));
  };

  for (;;) {
    now = env_.NowMillis();
    const int64_t left_us = budget_us - waited_us;
    const int64_t pause_ms = PauseLeftLocked(now);
    if (pause_ms > 0 && pause_ms * 1000 > left_us) {
      return give_up("the model provider asked us to slow down; try again in " +
                     std::to_string(CeilSeconds(pause_ms)) + " s");
    }
    if (queue_.front() == &self) {
      const int64_t wait_ms = std::max(pause_ms, RateWaitLocked(now));
      if (wait_ms > 0) {
        if (wait_ms * 1000 > left_us) {
          return give_up("the limit of " + std::to_string(options_.max_requests_per_minute) +
                         " model requests a minute is reached; try again in " +
                         std::to_string(CeilSeconds(wait_ms)) + " s");
        }
        // At the front and sleeping: those behind wait their turn, and the pause or the rate
        // holds for them too. Nothing can shorten this wait, so the sleep need not be woken.
        lock.unlock();
        env_.Sleep(milliseconds(wait_ms));
        lock.lock();
        waited_us += wait_ms * 1000;
        continue;
      }
      if (in_flight_ < options_.max_concurrent) {
        GrantLocked(now);
        leave();
        return Permit(this);
      }
    }
    if (left_us <= 0) {
      return give_up("the model is busy (" + std::to_string(in_flight_) + " calls in flight, " +
                     std::to_string(queue_.size() - 1) + " more waiting); try again in a minute");
    }
    const auto started = std::chrono::steady_clock::now();
    self.cv.wait_for(lock, microseconds(left_us));
    waited_us +=
        std::chrono::duration_cast<microseconds>(std::chrono::steady_clock::now() - started)
            .count();
  }
}

void ModelGate::ReleaseOne() {
  std::lock_guard<std::mutex> lock(mu_);
  --in_flight_;
  if (!queue_.empty()) queue_.front()->cv.notify_one();
}

void ModelGate::Throttle(milliseconds wait) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = env_.NowMillis();
  const int64_t ms = std::clamp<int64_t>(wait.count(), 0, options_.max_pause.count());
  PauseLeftLocked(now);
  pause_until_ms_ = std::max(pause_until_ms_, now + ms);
  ++stats_.throttled_total;
  for (Waiter* w : queue_) w->cv.notify_one();
}

ModelGate::Stats ModelGate::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats out = stats_;
  out.in_flight = in_flight_;
  out.waiting = static_cast<int64_t>(queue_.size());
  return out;
}

std::string ModelGate::Describe() const {
  std::string out = "at most " + std::to_string(options_.max_concurrent) + " calls at once, ";
  if (options_.max_requests_per_minute == 0) return out + "no per-minute limit";
  return out + "at most " + std::to_string(options_.max_requests_per_minute) + " a minute";
}

}  // namespace depositbot
