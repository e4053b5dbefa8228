// The one environment seam (common/environment.h): the deterministic one tests use, and the
// real one production uses.

#include "common/environment.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <vector>

using depositbot::Environment;
using depositbot::SystemEnvironment;
using depositbot::TestEnvironment;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

std::vector<uint64_t> Draws(Environment& env, int n) {
  std::vector<uint64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(env.Random());
  return out;
}

}  // namespace

TEST_CASE("two test environments with one seed draw the same numbers, another seed others") {
  TestEnvironment a(TestEnvironment::kDefaultNowMillis, 7);
  TestEnvironment b(TestEnvironment::kDefaultNowMillis, 7);
  TestEnvironment c(TestEnvironment::kDefaultNowMillis, 8);
  std::vector<uint64_t> first = Draws(a, 16);
  CHECK(first == Draws(b, 16));
  CHECK(first != Draws(c, 16));
  CHECK(std::set<uint64_t>(first.begin(), first.end()).size() == first.size());
}

TEST_CASE("queued draws come first, then the seeded sequence resumes where it was") {
  TestEnvironment plain;
  TestEnvironment queued;
  queued.QueueRandom({5, 1'234'567});
  CHECK(queued.Random() == 5);
  CHECK(queued.Random() == 1'234'567);
  CHECK(Draws(queued, 4) == Draws(plain, 4));
}

TEST_CASE("a test environment records sleeps instead of sleeping, and time moves by them") {
  TestEnvironment env(1'000'000);
  env.Sleep(milliseconds(500));
  env.Sleep(microseconds(2'500));
  CHECK(env.Sleeps() == std::vector<microseconds>{microseconds(500'000), microseconds(2'500)});
  CHECK(env.SleepsMillis() == std::vector<milliseconds>{milliseconds(500), milliseconds(2)});
  CHECK(env.NowMillis() == 1'000'000 + 500 + 2);
  env.fixed_clock().Advance(10);
  CHECK(env.clock().NowMillis() == 1'000'512);
}

TEST_CASE("uniform draws stay inside their range") {
  TestEnvironment env;
  env.QueueRandom({0, ~uint64_t{0}, 41});
  CHECK(env.UniformUnit() == 0.0);
  double top = env.UniformUnit();
  CHECK(top < 1.0);
  CHECK(top > 0.999);
  CHECK(env.UniformBelow(10) == 1);
  CHECK(env.UniformBelow(0) == 0);
  for (int i = 0; i < 1000; ++i) {
    int64_t v = env.UniformBelow(7);
    CHECK(v >= 0);
    CHECK(v < 7);
  }
}

TEST_CASE("the system environment is one object, and a zero sleep returns at once") {
  Environment& env = SystemEnvironment();
  CHECK(&env == &SystemEnvironment());
  env.Sleep(microseconds(0));
  env.Sleep(microseconds(-5));
  CHECK(env.NowMillis() > TestEnvironment::kDefaultNowMillis - 400LL * 24 * 3600 * 1000);
}
