#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace depositbot {

// Runs tasks keyed by chat: tasks with the same key run one at a time in submission order;
// tasks of different keys run at once, each chat with work on a thread of its own, so one slow
// model call never holds up another chat and the number of conversations waiting on the model
// is bounded by `max_in_flight`, not by a guessed pool size.
//
// Why threads and not asynchronous I/O: a turn is a synchronous chain (model call, tool,
// repository retry, registrar call, model call again) that mostly waits in a blocking read. A
// thread blocked in read costs the pages of its stack it touched (tens of KiB) and a kernel
// task; with a thread per chat that has work, the code stays straight-line and per-chat order
// needs no locking beyond the queue. Threads are started when a chat gets work and no idle
// thread is there, and end after `idle` without work.
//
// Admission is bounded: at most `max_in_flight` tasks are queued or running. Past that,
// Reserve()/Submit() refuse at once (the caller answers "busy") instead of blocking the
// receiver or growing the queue without bound. A task that throws is logged and does not stop
// its chat's queue.
class Dispatcher {
 public:
  explicit Dispatcher(size_t max_in_flight,
                      std::chrono::milliseconds idle = std::chrono::seconds(30));
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Takes room for one task; false when max_in_flight tasks are queued or running, or after
  // Stop(). A reservation is given back by Submit(key, task, reserved) or Unreserve().
  bool Reserve();
  void Unreserve();
  // Queues `task` behind the earlier tasks of `key`, into a slot taken with Reserve(). False
  // (and the slot given back) once Stop() was called, or when no thread could be started.
  bool SubmitReserved(int64_t key, std::function<void()> task);
  // Reserve() then SubmitReserved(); false when busy or stopping.
  bool Submit(int64_t key, std::function<void()> task);
  // Stops accepting tasks and waits up to `bound` for queued and running ones. True when all
  // finished (and every thread was joined). On false the remaining threads are detached and
  // still run: nothing their tasks use may be destroyed, so the caller must end the process
  // without unwinding (serve calls _Exit).
  bool Stop(std::chrono::milliseconds bound);

  size_t capacity() const { return max_in_flight_; }
  bool stopping() const;    // Stop() was called: a refused Reserve() is not "busy"
  size_t InFlight() const;  // reserved, queued or running
  size_t Running() const;
  size_t Threads() const;      // alive, running or idle
  size_t IdleThreads() const;  // waiting for work
  // From a running task of `key`: whether more tasks of `key` are queued behind it.
  bool HasQueuedBehind(int64_t key) const;
  size_t PeakThreads() const;

 private:
  void Work();
  bool Spawn();         // with mu_ held; false when no thread could be started
  void JoinFinished();  // with mu_ held

  const size_t max_in_flight_;
  const std::chrono::milliseconds idle_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, idle_cv_;
  std::map<int64_t, std::deque<std::function<void()>>> queues_;  // keys with work
  std::deque<int64_t> ready_;                                    // keys waiting for a thread
  size_t in_flight_ = 0, running_ = 0, peak_threads_ = 0;
  size_t idle_threads_ = 0;  // waiting for work and not yet claimed
  size_t wakeups_ = 0;       // idle threads claimed for a key in ready_, not yet awake
  bool stopping_ = false, shutdown_ = false;
  std::map<std::thread::id, std::thread> threads_;
  std::vector<std::thread::id> finished_;  // threads that ended, to join
};

}  // namespace depositbot
