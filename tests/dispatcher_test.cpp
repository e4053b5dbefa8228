#include "chat/dispatcher.h"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <stdexcept>
#include <vector>

using namespace depositbot;

TEST_CASE("tasks of one chat run one at a time in submission order") {
  Dispatcher d(4, 1000);
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
  Dispatcher d(2, 100);
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
  Dispatcher d(1, 10);
  std::atomic<int> ran{0};
  REQUIRE(d.Submit(3, [] { throw std::runtime_error("boom"); }));
  REQUIRE(d.Submit(3, [&] { ++ran; }));
  REQUIRE(d.Stop(std::chrono::seconds(10)));
  CHECK(ran == 1);
}

TEST_CASE("stop finishes in-flight and queued work, then refuses new work") {
  Dispatcher d(2, 100);
  std::atomic<int> ran{0};
  for (int chat = 0; chat < 10; ++chat) {
    for (int i = 0; i < 5; ++i) REQUIRE(d.Submit(chat, [&] { ++ran; }));
  }
  CHECK(d.Stop(std::chrono::seconds(30)));
  CHECK(ran == 50);
  CHECK_FALSE(d.Submit(1, [] {}));
  CHECK(d.Queued() == 0);
}

TEST_CASE("submission blocks when the queue is full until a worker frees space") {
  Dispatcher d(1, 2);
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::atomic<int> ran{0};
  REQUIRE(d.Submit(1, [gate, &ran] {
    gate.wait();
    ++ran;
  }));                                   // running
  REQUIRE(d.Submit(2, [&] { ++ran; }));  // queued 1
  REQUIRE(d.Submit(3, [&] { ++ran; }));  // queued 2 (full)
  auto blocked = std::async(std::launch::async, [&] { return d.Submit(4, [&] { ++ran; }); });
  CHECK(blocked.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  release.set_value();
  CHECK(blocked.get());
  REQUIRE(d.Stop(std::chrono::seconds(10)));
  CHECK(ran == 4);
}
