#include "agent/model_gate.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/environment.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using depositbot::testing::Contains;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kLong{60000};  // a bound no test reaches

ModelGate::Options Cap(int n, int64_t per_minute = 0) {
  ModelGate::Options o;
  o.max_concurrent = n;
  o.max_requests_per_minute = per_minute;
  return o;
}

// Polls `done` until it holds or ten seconds pass (for states another thread reaches: a
// caller queued in the gate). True if it held.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("the caller beyond the concurrency cap waits until a call in flight ends") {
  TestEnvironment env;
  ModelGate gate(Cap(2), env);
  auto a = gate.Acquire(kLong);
  auto b = gate.Acquire(kLong);
  REQUIRE(a);
  REQUIRE(b);
  std::atomic<bool> third_started{false};
  std::thread third([&] {
    auto c = gate.Acquire(kLong);
    third_started = static_cast<bool>(c);
  });
  REQUIRE(Eventually([&] { return gate.stats().waiting == 1; }));
  CHECK_FALSE(third_started);
  CHECK(gate.stats().in_flight == 2);
  a->Release();
  third.join();
  CHECK(third_started);
  CHECK(gate.stats().waiting == 0);
  CHECK(gate.stats().in_flight == 1);  // b; the third released its permit on leaving
  CHECK(gate.stats().waits_total == 1);
  CHECK(env.Sleeps().empty());
}

TEST_CASE("many threads at once never hold more permits than the cap") {
  TestEnvironment env;
  ModelGate gate(Cap(3), env);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto p = gate.Acquire(kLong);
        if (!p) continue;
        ++granted;
        int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::yield();
        --inside;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(granted == 16 * 50);
  CHECK(most <= 3);
  CHECK(gate.stats().in_flight == 0);
  CHECK(gate.stats().waiting == 0);
}

TEST_CASE("callers waiting for a permit start in the order they came") {
  TestEnvironment env;
  ModelGate gate(Cap(1), env);
  auto held = gate.Acquire(kLong);
  REQUIRE(held);
  std::mutex mu;
  std::vector<std::string> order;
  std::vector<std::thread> threads;
  for (std::string name : {"A", "B", "C", "D"}) {
    const int64_t before = gate.stats().waiting;
    threads.emplace_back([&, name] {
      auto p = gate.Acquire(kLong);
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(p ? name : "refused");
    });
    // The next one comes only once this one is in the queue.
    REQUIRE(Eventually([&] { return gate.stats().waiting == before + 1; }));
  }
  held->Release();
  for (auto& t : threads) t.join();
  CHECK(order == std::vector<std::string>{"A", "B", "C", "D"});
}

TEST_CASE("a per-minute limit spaces calls evenly instead of refusing them") {
  TestEnvironment env;
  ModelGate gate(Cap(10, 60), env);  // one a second
  for (int i = 0; i < 3; ++i) REQUIRE(gate.Acquire(kLong));
  CHECK(env.SleepsMillis() == std::vector<milliseconds>{milliseconds(1000), milliseconds(1000)});
  CHECK(gate.stats().waits_total == 2);
  CHECK(gate.stats().waited_millis_total == 2000);
}

TEST_CASE("a per-minute limit allows a burst of one second's worth, then spaces the rest") {
  TestEnvironment env;
  ModelGate gate(Cap(10, 120), env);  // two a second: a burst of 2, then one per 500 ms
  for (int i = 0; i < 4; ++i) REQUIRE(gate.Acquire(kLong));
  CHECK(env.SleepsMillis() == std::vector<milliseconds>{milliseconds(500), milliseconds(500)});
}

TEST_CASE("a pause one caller reports delays the next caller's start") {
  TestEnvironment env;
  ModelGate gate(Cap(4), env);
  gate.Throttle(milliseconds(2000));
  REQUIRE(gate.Acquire(kLong));
  CHECK(env.SleepsMillis() == std::vector<milliseconds>{milliseconds(2000)});
  auto st = gate.stats();
  CHECK(st.throttled_total == 1);
  CHECK(st.waits_total == 1);
  CHECK(st.waited_millis_total == 2000);
  // Once it is over, calls start at once again.
  REQUIRE(gate.Acquire(kLong));
  CHECK(env.SleepsMillis().size() == 1);
}

TEST_CASE("a pause reported while callers are queued holds them as well") {
  TestEnvironment env;
  ModelGate gate(Cap(1), env);
  auto held = gate.Acquire(kLong);
  REQUIRE(held);
  std::atomic<bool> started{false};
  std::thread queued([&] { started = static_cast<bool>(gate.Acquire(kLong)); });
  REQUIRE(Eventually([&] { return gate.stats().waiting == 1; }));
  gate.Throttle(milliseconds(3000));
  held->Release();
  queued.join();
  CHECK(started);
  CHECK(env.SleepsMillis() == std::vector<milliseconds>{milliseconds(3000)});
}

TEST_CASE("a shorter pause never shortens a longer one already recorded") {
  TestEnvironment env;
  ModelGate gate(Cap(4), env);
  gate.Throttle(milliseconds(5000));
  gate.Throttle(milliseconds(1000));
  REQUIRE(gate.Acquire(kLong));
  CHECK(env.SleepsMillis() == std::vector<milliseconds>{milliseconds(5000)});
  CHECK(gate.stats().throttled_total == 2);
}

TEST_CASE("a longer pause extends a shorter one") {
  TestEnvironment env;
  ModelGate gate(Cap(4), env);
  gate.Throttle(milliseconds(1000));
  gate.Throttle(milliseconds(4000));
  REQUIRE(gate.Acquire(kLong));
  CHECK(env.SleepsMillis() == std::vector<milliseconds>{milliseconds(4000)});
}

TEST_CASE("a pause beyond max_pause is cut to it, and a negative one pauses nothing") {
  TestEnvironment env;
  ModelGate::Options o = Cap(4);
  o.max_pause = milliseconds(30000);
  ModelGate gate(o, env);
  gate.Throttle(milliseconds(-5000));
  REQUIRE(gate.Acquire(kLong));
  CHECK(env.Sleeps().empty());
  gate.Throttle(std::chrono::hours(1));
  REQUIRE(gate.Acquire(kLong));
  CHECK(env.SleepsMillis() == std::vector<milliseconds>{milliseconds(30000)});
  CHECK(gate.stats().throttled_total == 2);
}

TEST_CASE("a clock set back does not stretch a pause past max_pause") {
  TestEnvironment env;
  ModelGate gate(Cap(4), env);  // max_pause 30 s
  gate.Throttle(milliseconds(5000));
  env.fixed_clock().Advance(-3600 * 1000);
  REQUIRE(gate.Acquire(kLong));
  CHECK(env.SleepsMillis() == std::vector<milliseconds>{milliseconds(30000)});
}

TEST_CASE("a caller that cannot wait out the pause gives up at once, saying when to try again") {
  TestEnvironment env;
  ModelGate gate(Cap(4), env);
  gate.Throttle(milliseconds(4200));
  auto r = gate.Acquire(milliseconds(1000));
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message == "the model provider asked us to slow down; try again in 5 s");
  CHECK(env.Sleeps().empty());
  CHECK(gate.stats().gave_up_total == 1);
  CHECK(gate.stats().waiting == 0);
  CHECK(gate.stats().in_flight == 0);
}

TEST_CASE("a queued caller that can wait out a new pause keeps its place and waits it out") {
  TestEnvironment env;
  ModelGate gate(Cap(1), env);
  auto held = gate.Acquire(kLong);
  REQUIRE(held);
  Result<ModelGate::Permit> queued_result = Error::Internal("not run");
  std::thread queued([&] { queued_result = gate.Acquire(kLong); });
  REQUIRE(Eventually([&] { return gate.stats().waiting == 1; }));
  gate.Throttle(std::chrono::hours(1));  // cut to 30 s, within kLong: it keeps waiting
  CHECK(gate.stats().waiting == 1);
  held->Release();
  queued.join();
  REQUIRE(queued_result);
  CHECK(env.SleepsMillis() == std::vector<milliseconds>{milliseconds(30000)});
}

TEST_CASE("a queued caller whose bound is shorter than a new pause leaves the queue at once") {
  TestEnvironment env;
  ModelGate gate(Cap(1), env);
  auto held = gate.Acquire(kLong);
  REQUIRE(held);
  Result<ModelGate::Permit> queued_result = Error::Internal("not run");
  std::thread queued([&] { queued_result = gate.Acquire(milliseconds(20000)); });
  REQUIRE(Eventually([&] { return gate.stats().waiting == 1; }));
  gate.Throttle(milliseconds(25000));
  queued.join();  // before `held` is released: the pause, not a permit, decided
  REQUIRE_FALSE(queued_result);
  CHECK(Contains(queued_result.error().message, "asked us to slow down; try again in 25 s"));
  CHECK(gate.stats().in_flight == 1);
  CHECK(gate.stats().waiting == 0);
}

TEST_CASE("a per-minute limit that would make a caller wait past its bound refuses it") {
  TestEnvironment env;
  ModelGate gate(Cap(4, 1), env);  // one a minute
  REQUIRE(gate.Acquire(kLong));
  auto r = gate.Acquire(milliseconds(10000));
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message ==
        "the limit of 1 model requests a minute is reached; try again in 60 s");
  CHECK(env.Sleeps().empty());
}

TEST_CASE("a caller that finds every permit held past its bound gives up as busy") {
  TestEnvironment env;
  ModelGate gate(Cap(1), env);
  auto held = gate.Acquire(kLong);
  REQUIRE(held);
  auto r = gate.Acquire(milliseconds(20));
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message ==
        "the model is busy (1 calls in flight, 0 more waiting); try again in a minute");
  CHECK(gate.stats().gave_up_total == 1);
  CHECK(gate.stats().waiting == 0);
  // The permit it did not get is still there for the next caller.
  held->Release();
  CHECK(gate.Acquire(milliseconds(0)));
}

TEST_CASE("a permit moved away is released once, by its last holder") {
  TestEnvironment env;
  ModelGate gate(Cap(1), env);
  {
    auto p = gate.Acquire(kLong);
    REQUIRE(p);
    ModelGate::Permit moved = std::move(*p);
    CHECK(gate.stats().in_flight == 1);
  }
  CHECK(gate.stats().in_flight == 0);
}

TEST_CASE("the gate describes its capacity in one phrase") {
  TestEnvironment env;
  CHECK(ModelGate(Cap(1024), env).Describe() == "at most 1024 calls at once, no per-minute limit");
  CHECK(ModelGate(Cap(8, 600), env).Describe() == "at most 8 calls at once, at most 600 a minute");
  CHECK(ModelGate(Cap(0), env).options().max_concurrent == 1);
}
