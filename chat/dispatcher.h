#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace depositbot {

// A bounded worker pool that keeps per-chat order: tasks with the same key
// run one at a time in submission order; tasks of different keys run in
// parallel on `workers` threads, so one slow model call never blocks other
// chats. A task that throws is logged and does not stop its chat's queue.
class Dispatcher {
 public:
  Dispatcher(size_t workers, size_t max_queued);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Queues `task` behind the earlier tasks of `key`. Blocks while max_queued
  // tasks wait (back-pressure on the receiver). False once Stop() was called.
  bool Submit(int64_t key, std::function<void()> task);
  // Stops accepting tasks and waits up to `bound` for queued and running ones.
  // True when all finished. On false the remaining threads are detached and
  // still run: nothing their tasks use may be destroyed, so the caller must
  // end the process without unwinding (serve calls _Exit).
  bool Stop(std::chrono::milliseconds bound);
  size_t Queued() const;
  size_t Running() const;

 private:
  void Work();

  mutable std::mutex mu_;
  std::condition_variable work_cv_, space_cv_, idle_cv_;
  std::map<int64_t, std::deque<std::function<void()>>> queues_;
  std::deque<int64_t> ready_;
  std::set<int64_t> scheduled_;  // keys in ready_ or running
  size_t queued_ = 0, running_ = 0, max_queued_;
  bool stopping_ = false, shutdown_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace depositbot
