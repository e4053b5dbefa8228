#pragma once

#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/task.h"

namespace depositbot {

// Runs tasks keyed by chat: tasks with the same key run one at a time in submission order;
// tasks of different keys run at once, so one slow chat never holds up another, and the
// number of conversations in flight is bounded by `max_in_flight`, not by a thread count.
//
// A task is a coroutine (Task<void>). While it waits on the model it is suspended and holds no
// thread: the awaited call resumes it through this dispatcher (a Resumer) when the answer
// comes, and its chat goes back in line for a thread. Threads run the pieces between waits
// (the database, a tool, a Telegram send), at most `max_threads` at once; they are started on
// demand and end after `idle` without work. So a thousand conversations waiting on the model
// cost a thousand coroutine frames, not a thousand stacks, and the cap on threads bounds only
// work that is running, never how many conversations can wait. A plain function task is a
// coroutine that never suspends: it holds its thread to the end.
//
// Why not one thread per waiting conversation (the design before): a thread blocked in read
// keeps the pages of its stack it touched (~30 KiB) and its allocator cache, which made 1,000
// waiting conversations cost ~90 MiB.
//
// Admission is bounded: at most `max_in_flight` tasks are queued, running or suspended. Past
// that, Reserve()/Submit() refuse at once (the caller answers "busy") instead of blocking the
// receiver or growing the queue without bound. A task that throws is logged and does not stop
// its chat's queue.
class Dispatcher final : public Resumer {
 public:
  using Job = std::function<Task<void>()>;

  explicit Dispatcher(size_t max_in_flight, size_t max_threads = kDefaultMaxThreads,
                      std::chrono::milliseconds idle = std::chrono::seconds(30));
  ~Dispatcher() override;
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  static constexpr size_t kDefaultMaxThreads = 64;

  // Takes room for one task; false when max_in_flight tasks are queued, running or suspended,
  // or after Stop(). A reservation is given back by SubmitReserved(key, ...) or Unreserve().
  bool Reserve();
  void Unreserve();
  // Queues `job` (which makes the task when its turn comes) behind the earlier tasks of `key`,
  // into a slot taken with Reserve(). False (and the slot given back) once Stop() was called,
  // or when no thread could be started while none runs.
  bool SubmitReserved(int64_t key, Job job);
  bool SubmitReserved(int64_t key, std::function<void()> task);
  // Reserve() then SubmitReserved(); false when busy or stopping.
  bool Submit(int64_t key, Job job);
  bool Submit(int64_t key, std::function<void()> task);
  // Stops accepting tasks and waits up to `bound` for queued, running and suspended ones. True
  // when all finished (and every thread was joined). On false the remaining threads are
  // detached and still run, and suspended tasks may still be resumed: nothing they use may be
  // destroyed, so the caller must end the process without unwinding (serve calls _Exit).
  bool Stop(std::chrono::milliseconds bound);

  // Resumer: `h` (a coroutine of key's running task) continues on one of the threads.
  void Resume(int64_t key, std::coroutine_handle<> h) override;
  // A running task blocks its thread for a while (a provider's pause): that thread does not
  // count against max_threads until EndBlocking, so waiting work can get another one.
  void BeginBlocking() override;
  void EndBlocking() override;

  size_t capacity() const { return max_in_flight_; }
  size_t max_threads() const { return max_threads_; }
  bool stopping() const;       // Stop() was called: a refused Reserve() is not "busy"
  size_t InFlight() const;     // reserved, queued, running or suspended
  size_t Running() const;      // tasks running on a thread now
  size_t Suspended() const;    // tasks waiting (on the model) without a thread
  size_t Threads() const;      // alive, running or idle
  size_t IdleThreads() const;  // waiting for work
  // From a running task of `key`: whether more tasks of `key` are queued behind it.
  bool HasQueuedBehind(int64_t key) const;
  size_t PeakThreads() const;

 private:
  // A key with work: its jobs in order (the front one is the current task once started).
  struct Chat {
    std::deque<Job> jobs;
    std::optional<Task<void>> current;  // started, not yet finished
    std::coroutine_handle<> resume;     // where `current` continues, once its wait is over
    bool suspended = false;             // waiting for Resume, owned by no thread
  };

  void Work();
  // With mu_ held: puts `key` in line for a thread (an idle one, a new one, or the next that
  // frees up). False only when no thread could be started and none is alive.
  bool MakeReady(int64_t key);
  bool Spawn();                         // with mu_ held; false when no thread could be started
  size_t CountedThreadsLocked() const;  // alive and not blocking: what max_threads bounds
  void JoinFinished();                  // with mu_ held
  void FinishTask(std::unique_lock<std::mutex>& lock, Chat& chat, int64_t key);

  const size_t max_in_flight_;
  const size_t max_threads_;
  const std::chrono::milliseconds idle_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, idle_cv_;
  std::map<int64_t, Chat> chats_;  // keys with work
  std::deque<int64_t> ready_;      // keys waiting for a thread
  size_t in_flight_ = 0, running_ = 0, suspended_ = 0, peak_threads_ = 0;
  size_t idle_threads_ = 0;  // waiting for work and not yet claimed
  size_t wakeups_ = 0;       // idle threads claimed for a key in ready_, not yet awake
  size_t unclaimed_ = 0;     // keys in ready_ no thread was claimed for (at max_threads)
  size_t blocked_ = 0;       // threads inside a BlockingScope: not counted against max_threads
  bool stopping_ = false, shutdown_ = false;
  std::map<std::thread::id, std::thread> threads_;
  std::vector<std::thread::id> finished_;  // threads that ended, to join
};

}  // namespace depositbot
