#include "chat/dispatcher.h"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
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

TEST_CASE("with enough threads, 300 chats blocked in plain tasks are all running together") {
  Dispatcher d(1000, 300);
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
  Dispatcher d(100, Dispatcher::kDefaultMaxThreads, std::chrono::milliseconds(20));
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

namespace {

// An outside operation whose answers the test gives by hand, from its own thread.
struct HeldAnswers {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::function<void(int)>> waiting;

  Completion<int> Ask() {
    return Completion<int>([this](Completion<int>::Done done) {
      std::lock_guard<std::mutex> l(mu);
      waiting.push_back(std::move(done));
      cv.notify_all();
    });
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(30), [&] { return waiting.size() >= n; });
  }
  void AnswerAll(int value) {
    std::vector<std::function<void(int)>> answer;
    {
      std::lock_guard<std::mutex> l(mu);
      answer.swap(waiting);
    }
    for (auto& done : answer) done(value);
  }
};

}  // namespace

TEST_CASE("300 chats waiting on an outside answer are all in flight on two threads") {
  Dispatcher d(1000, /*max_threads=*/2);
  HeldAnswers answers;
  std::mutex mu;
  std::map<int64_t, std::vector<std::string>> seen;
  auto record = [&](int64_t chat, std::string what) {
    std::lock_guard<std::mutex> l(mu);
    seen[chat].push_back(std::move(what));
  };
  for (int64_t chat = 0; chat < 300; ++chat) {
    REQUIRE(d.Submit(chat, Dispatcher::Job([&, chat]() -> Task<void> {
                       record(chat, "asked");
                       int answer = co_await answers.Ask();
                       record(chat, "answered " + std::to_string(answer));
                     })));
    // The chat's next task waits for the first to end, answer included.
    REQUIRE(d.Submit(chat, [&, chat] { record(chat, "second"); }));
  }
  REQUIRE(answers.WaitFor(300));
  // A task is counted as suspended just after its question went out: wait until all are.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (d.Suspended() < 300 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  CHECK(d.Suspended() == 300);
  CHECK(d.InFlight() == 600);
  CHECK(d.PeakThreads() <= 2);
  answers.AnswerAll(42);
  REQUIRE(d.Stop(std::chrono::seconds(30)));
  for (int64_t chat = 0; chat < 300; ++chat) {
    CHECK(seen[chat] == std::vector<std::string>{"asked", "answered 42", "second"});
  }
  CHECK(d.Suspended() == 0);
  CHECK(d.PeakThreads() <= 2);
}

TEST_CASE("an answer given before the task has suspended is not lost") {
  Dispatcher d(10);
  std::atomic<int> got{0};
  REQUIRE(d.Submit(1, Dispatcher::Job([&]() -> Task<void> {
                     // The operation answers from inside its start, on the task's own thread.
                     got = co_await Completion<int>([](Completion<int>::Done done) { done(7); });
                   })));
  REQUIRE(d.Stop(std::chrono::seconds(10)));
  CHECK(got == 7);
}

TEST_CASE("stop waits for a task that waits on an answer, which then finishes") {
  Dispatcher d(10);
  HeldAnswers answers;
  std::atomic<bool> finished{false};
  REQUIRE(d.Submit(5, Dispatcher::Job([&]() -> Task<void> {
                     co_await answers.Ask();
                     finished = true;
                   })));
  REQUIRE(answers.WaitFor(1));
  std::thread answerer([&] { answers.AnswerAll(1); });
  CHECK(d.Stop(std::chrono::seconds(10)));
  answerer.join();
  CHECK(finished);
}

TEST_CASE("a task that throws after waiting is contained and the chat's next task runs") {
  Dispatcher d(10);
  HeldAnswers answers;
  std::atomic<int> ran{0};
  REQUIRE(d.Submit(3, Dispatcher::Job([&]() -> Task<void> {
                     co_await answers.Ask();
                     throw std::runtime_error("boom after the answer");
                   })));
  REQUIRE(d.Submit(3, [&] { ++ran; }));
  REQUIRE(answers.WaitFor(1));
  answers.AnswerAll(0);
  REQUIRE(d.Stop(std::chrono::seconds(10)));
  CHECK(ran == 1);
}

TEST_CASE("outside a dispatcher, awaiting an answer blocks the caller until it comes") {
  HeldAnswers answers;
  std::thread answerer([&] {
    REQUIRE(answers.WaitFor(1));
    answers.AnswerAll(9);
  });
  auto ask = [&]() -> Task<int> { co_return (co_await answers.Ask()) + 1; };
  CHECK(SyncWait(ask()) == 10);
  answerer.join();
}

TEST_CASE("a task blocked in a marked wait does not hold up a chat waiting for a thread") {
  Dispatcher d(10, /*max_threads=*/1);
  std::promise<void> other_ran;
  auto other_done = other_ran.get_future();
  std::atomic<bool> saw_other{false};
  // The only thread blocks (as in a provider's pause) until chat 2 has run: with the wait
  // marked, chat 2 gets a thread of its own meanwhile.
  REQUIRE(d.Submit(1, [&] {
    BlockingScope blocking;
    saw_other = other_done.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  }));
  REQUIRE(d.Submit(2, [&] { other_ran.set_value(); }));
  REQUIRE(d.Stop(std::chrono::seconds(30)));
  CHECK(saw_other);
}
