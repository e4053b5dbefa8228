#include "chat/dispatcher.h"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace depositbot;

TEST_CASE("tasks of one chat run one at a time in submission order") {
  Dispatcher d(1000);
  std::mutex mu;
  std::vector<int> seen;
  std::atomic<int> concurrent{0}, max_concurrent{0};
  for (int i = 0; i < 200; ++i) {
    REQUIRE(d.Submit(7, [&, i] {
      int now = ++concurrent;
      int prev = max_concurrent.load();
      while (now > prev && !max_concurrent.compare_exchange_weak(prev, now)) {
      }
      {
        std::lock_guard<std::mutex> l(mu);
        seen.push_back(i);
      }
      --concurrent;
    }));
  }
  REQUIRE(d.Stop(std::chrono::seconds(30)));
  REQUIRE(seen.size() == 200);
  for (int i = 0; i < 200; ++i) CHECK(seen[i] == i);
  CHECK(max_concurrent == 1);
}

TEST_CASE("a slow chat does not block another chat") {
  Dispatcher d(100);
  std::promise<void> other_ran;
  auto other_done = other_ran.get_future();
  std::atomic<bool> slow_saw_other{false};
  // Chat 1's task waits until chat 2's task has run: with per-chat order but
  // parallel chats this finishes; a single global queue would deadlock here.
  REQUIRE(d.Submit(1, [&] {
    slow_saw_other = other_done.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  }));
  REQUIRE(d.Submit(2, [&] { other_ran.set_value(); }));
  REQUIRE(d.Stop(std::chrono::seconds(30)));
  CHECK(slow_saw_other);
}

TEST_CASE("a task that throws is contained and the chat's next task still runs") {
  Dispatcher d(10);
  std::atomic<int> ran{0};
  REQUIRE(d.Submit(3, [] { throw std::runtime_error("boom"); }));
  REQUIRE(d.Submit(3, [&] { ++ran; }));
  REQUIRE(d.Stop(std::chrono::seconds(10)));
  CHECK(ran == 1);
}

TEST_CASE("stop finishes in-flight and queued work, then refuses new work") {
  Dispatcher d(100);
  std::atomic<int> ran{0};
  for (int chat = 0; chat < 10; ++chat) {
    for (int i = 0; i < 5; ++i) REQUIRE(d.Submit(chat, [&] { ++ran; }));
  }
  CHECK(d.Stop(std::chrono::seconds(30)));
  CHECK(ran == 50);
  CHECK_FALSE(d.Submit(1, [] {}));
  CHECK(d.InFlight() == 0);
}

TEST_CASE(
    "past max_in_flight a submission is refused at once and admitted again after a task ends") {
  Dispatcher d(3);
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::atomic<int> ran{0};
  REQUIRE(d.Submit(1, [gate, &ran] {
    gate.wait();
    ++ran;
  }));
  REQUIRE(d.Submit(1, [&] { ++ran; }));  // behind chat 1's first task
  REQUIRE(d.Submit(2, [gate, &ran] {
    gate.wait();
    ++ran;
  }));
  CHECK(d.InFlight() == 3);
  CHECK_FALSE(d.Submit(3, [&] { ++ran; }));  // busy: refused, not queued, not blocking
  CHECK_FALSE(d.Reserve());
  release.set_value();
  // Room comes back as tasks end; a reservation then succeeds.
  bool admitted = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!admitted && std::chrono::steady_clock::now() < deadline) {
    admitted = d.Reserve();
    if (!admitted) std::this_thread::yield();
  }
  REQUIRE(admitted);
  REQUIRE(d.SubmitReserved(3, [&] { ++ran; }));
  REQUIRE(d.Stop(std::chrono::seconds(10)));
  CHECK(ran == 4);
}

TEST_CASE("every chat with work runs at once: 300 blocked chats are all running together") {
  Dispatcher d(1000);
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  bool release = false;
  for (int chat = 0; chat < 300; ++chat) {
    REQUIRE(d.Submit(chat, [&] {
      std::unique_lock<std::mutex> l(mu);
      ++started;
      cv.notify_all();
      cv.wait(l, [&] { return release; });
    }));
  }
  {
    std::unique_lock<std::mutex> l(mu);
    // All 300 wait inside their task at the same time: none needs another to finish first.
    REQUIRE(cv.wait_for(l, std::chrono::seconds(30), [&] { return started == 300; }));
    CHECK(d.Running() == 300);
    release = true;
  }
  cv.notify_all();
  REQUIRE(d.Stop(std::chrono::seconds(30)));
  CHECK(d.PeakThreads() == 300);
}

TEST_CASE("an idle thread takes the next chat, and idle threads end after the idle time") {
  Dispatcher d(100, std::chrono::milliseconds(20));
  for (int round = 0; round < 20; ++round) {
    std::promise<void> done;
    auto f = done.get_future();
    REQUIRE(d.Submit(round, [&] { done.set_value(); }));
    f.wait();
    // The task has signalled but its thread may not be idle yet; the next chat is submitted
    // once it is (else a loaded machine starts a second thread, rightly).
    while (d.IdleThreads() == 0 && d.Threads() != 0) std::this_thread::yield();
  }
  // One chat at a time: the thread of the last one was reused (or had ended), never 20 at once.
  CHECK(d.PeakThreads() <= 2);
  bool ended = false;
  for (int i = 0; i < 5000 && !ended; ++i) {
    ended = d.Threads() == 0;
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(ended);
  REQUIRE(d.Stop(std::chrono::seconds(10)));
}
