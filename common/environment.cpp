#include "common/environment.h"

#include <thread>

namespace depositbot {
namespace {

class RealEnvironment final : public Environment {
 public:
  RealEnvironment() : rng_(std::random_device{}()) {}

  const Clock& clock() const override { return clock_; }
  void Sleep(std::chrono::microseconds duration) override {
    if (duration.count() > 0) std::this_thread::sleep_for(duration);
  }
  uint64_t Random() override {
    std::lock_guard<std::mutex> lock(mu_);
    return rng_();
  }

 private:
  SystemClock clock_;
  std::mutex mu_;
  std::mt19937_64 rng_;
};

}  // namespace

int64_t Environment::UniformBelow(int64_t bound) {
  if (bound <= 0) return 0;
  return static_cast<int64_t>(Random() % static_cast<uint64_t>(bound));
}

double Environment::UniformUnit() { return static_cast<double>(Random() >> 11) * 0x1.0p-53; }

Environment& SystemEnvironment() {
  // Leaked on purpose: threads still logging or retrying at exit must not find it destroyed.
  static Environment* env = new RealEnvironment();
  return *env;
}

TestEnvironment::TestEnvironment(int64_t now_millis, uint64_t seed)
    : clock_(now_millis), rng_(seed) {}

void TestEnvironment::Sleep(std::chrono::microseconds duration) {
  std::lock_guard<std::mutex> lock(mu_);
  sleeps_.push_back(duration);
  if (duration.count() > 0) clock_.Advance(duration.count() / 1000);
}

uint64_t TestEnvironment::Random() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!queued_.empty()) {
    uint64_t draw = queued_.front();
    queued_.pop_front();
    return draw;
  }
  return rng_();
}

void TestEnvironment::QueueRandom(std::vector<uint64_t> draws) {
  std::lock_guard<std::mutex> lock(mu_);
  queued_.insert(queued_.end(), draws.begin(), draws.end());
}

std::vector<std::chrono::microseconds> TestEnvironment::Sleeps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sleeps_;
}

std::vector<std::chrono::milliseconds> TestEnvironment::SleepsMillis() const {
  std::vector<std::chrono::milliseconds> out;
  for (auto d : Sleeps()) out.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(d));
  return out;
}

}  // namespace depositbot
