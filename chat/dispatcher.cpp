#include "chat/dispatcher.h"

#include <algorithm>
#include <exception>
#include <system_error>

#include "common/log.h"

namespace depositbot {
namespace {

// A plain function as a task that never suspends.
Task<void> RunPlain(std::function<void()> task) {
  task();
  co_return;
}

void LogFailure(int64_t key, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "dispatch.task_failed",
        {{"chat_id", std::to_string(key)}, {"error", e.what()}});
  } catch (...) {
    Log(LogLevel::kError, "dispatch.task_failed", {{"chat_id", std::to_string(key)}});
  }
}

}  // namespace

Dispatcher::Dispatcher(size_t max_in_flight, size_t max_threads, std::chrono::milliseconds idle)
    : max_in_flight_(max_in_flight == 0 ? 1 : max_in_flight),
      max_threads_(max_threads == 0 ? 1 : max_threads),
      idle_(idle) {}

Dispatcher::~Dispatcher() {
  if (!shutdown_) Stop(std::chrono::milliseconds(10000));
}

bool Dispatcher::Reserve() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || in_flight_ >= max_in_flight_) return false;
  ++in_flight_;
  return true;
}

void Dispatcher::Unreserve() {
  std::lock_guard<std::mutex> lock(mu_);
  if (in_flight_ > 0) --in_flight_;
  if (in_flight_ == 0) idle_cv_.notify_all();
}

bool Dispatcher::Submit(int64_t key, Job job) {
  if (!Reserve()) return false;
  return SubmitReserved(key, std::move(job));
}

bool Dispatcher::Submit(int64_t key, std::function<void()> task) {
  if (!Reserve()) return false;
  return SubmitReserved(key, std::move(task));
}

bool Dispatcher::SubmitReserved(int64_t key, std::function<void()> task) {
  return SubmitReserved(key, Job([task = std::move(task)] { return RunPlain(task); }));
}

bool Dispatcher::SubmitReserved(int64_t key, Job job) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) {
    if (in_flight_ > 0) --in_flight_;
    if (in_flight_ == 0) idle_cv_.notify_all();
    return false;
  }
  Chat& chat = chats_[key];
  const bool new_key = chat.jobs.empty();
  chat.jobs.push_back(std::move(job));
  // A key with work is in ready_, or held by exactly one thread, or suspended.
  if (new_key && !MakeReady(key)) {
    // No thread could be started and none runs (the system's limit): undo, the caller keeps
    // the update.
    chats_.erase(key);
    --in_flight_;
    if (in_flight_ == 0) idle_cv_.notify_all();
    return false;
  }
  return true;
}

void Dispatcher::Resume(int64_t key, std::coroutine_handle<> h) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = chats_.find(key);
  if (it == chats_.end()) {  // a bug: nothing of this key is running or waiting
    Log(LogLevel::kError, "dispatch.resume_unknown", {{"chat_id", std::to_string(key)}});
    return;
  }
  Chat& chat = it->second;
  chat.resume = h;
  if (!chat.suspended) return;  // still on its thread: that thread resumes it next
  chat.suspended = false;
  --suspended_;
  if (!MakeReady(key)) {
    // No thread at all: it runs when the next thread starts (a new submission spawns one).
    Log(LogLevel::kError, "dispatch.no_thread", {{"chat_id", std::to_string(key)}});
    ready_.push_back(key);
    ++unclaimed_;
  }
}

bool Dispatcher::MakeReady(int64_t key) {
  ready_.push_back(key);
  if (idle_threads_ > 0) {
    --idle_threads_;
    ++wakeups_;
    work_cv_.notify_one();
    return true;
  }
  const size_t alive = threads_.size() - finished_.size();
  if (CountedThreadsLocked() < max_threads_ && Spawn()) return true;
  if (alive > 0) {  // the next thread that frees up takes it
    ++unclaimed_;
    return true;
  }
  ready_.pop_back();
  return false;
}

size_t Dispatcher::CountedThreadsLocked() const {
  const size_t alive = threads_.size() - finished_.size();
  return alive > blocked_ ? alive - blocked_ : 0;
}

void Dispatcher::BeginBlocking() {
  std::lock_guard<std::mutex> lock(mu_);
  ++blocked_;
  // A chat waiting for a thread gets one now instead of after this wait.
  if (unclaimed_ > 0 && CountedThreadsLocked() < max_threads_ && Spawn()) --unclaimed_;
}

void Dispatcher::EndBlocking() {
  std::lock_guard<std::mutex> lock(mu_);
  if (blocked_ > 0) --blocked_;
}

bool Dispatcher::Spawn() {
  JoinFinished();
  try {
    std::thread t([this] { Work(); });
    threads_.emplace(t.get_id(), std::move(t));
  } catch (const std::system_error& e) {
    Log(LogLevel::kError, "dispatch.thread_failed",
        {{"threads", std::to_string(threads_.size())}, {"error", e.what()}});
    return false;
  }
  peak_threads_ = std::max(peak_threads_, threads_.size());
  return true;
}

void Dispatcher::JoinFinished() {
  for (auto id : finished_) {
    auto it = threads_.find(id);
    if (it == threads_.end()) continue;
    it->second.join();  // it has left Work(): only its return remains
    threads_.erase(it);
  }
  finished_.clear();
}

void Dispatcher::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  bool claimed = true;  // a new thread is started for the key just put in ready_
  while (true) {
    if (!claimed) {
      if (unclaimed_ > 0) {
        --unclaimed_;
      } else {
        ++idle_threads_;
        work_cv_.wait_for(lock, idle_, [&] { return shutdown_ || wakeups_ > 0; });
        if (wakeups_ == 0) {  // idle too long, or shutting down: nobody claimed this thread
          --idle_threads_;
          break;
        }
        --wakeups_;  // the submitter took this thread out of idle_threads_
      }
    }
    claimed = false;
    const int64_t key = ready_.front();
    ready_.pop_front();
    // This thread owns the key until its queue is empty or its task waits: its tasks run here,
    // in order.
    while (true) {
      Chat& chat = chats_[key];  // std::map: the reference stays valid while the key has work
      std::coroutine_handle<> resume = std::exchange(chat.resume, nullptr);
      // The job stays at the front until its task ends: a coroutine lambda's captures live in
      // it. std::deque keeps references to its elements valid across push_back.
      Job* job = chat.current ? nullptr : &chat.jobs.front();
      ++running_;
      lock.unlock();
      std::optional<Task<void>> started;
      std::exception_ptr failed;
      {
        ResumeScope scope(ResumeContext{this, key});
        try {
          if (job != nullptr) {
            started.emplace((*job)());
            started->Start();
          } else if (resume) {
            resume.resume();
          }
        } catch (...) {  // job() itself failed; a task's body keeps its exception
          failed = std::current_exception();
        }
      }
      lock.lock();
      --running_;
      if (started) chat.current = std::move(*started);
      if (chat.current && !chat.current->done()) {
        if (chat.resume) continue;  // resumed while it ran here: go on at once
        chat.suspended = true;      // waits without a thread; Resume() puts it back in line
        ++suspended_;
        break;
      }
      std::optional<Task<void>> ended = std::move(chat.current);
      chat.current.reset();
      Job done = std::move(chat.jobs.front());  // popped below; released here, unlocked
      lock.unlock();
      if (ended) {
        try {
          ended->TakeResult();
        } catch (...) {
          failed = std::current_exception();
        }
        ended.reset();
      }
      done = nullptr;  // its captures are released before the slot is given back
      if (failed) LogFailure(key, failed);
      lock.lock();
      --in_flight_;
      Chat& after = chats_[key];
      after.jobs.pop_front();
      if (in_flight_ == 0) idle_cv_.notify_all();
      if (after.jobs.empty()) {
        chats_.erase(key);
        break;
      }
    }
  }
  finished_.push_back(std::this_thread::get_id());
  idle_cv_.notify_all();
}

bool Dispatcher::Stop(std::chrono::milliseconds bound) {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  bool drained = idle_cv_.wait_for(lock, bound, [&] { return in_flight_ == 0; });
  shutdown_ = true;
  work_cv_.notify_all();
  if (drained) {
    // Every thread leaves Work() now that shutdown_ is set and nothing is ready.
    idle_cv_.wait(lock, [&] { return finished_.size() == threads_.size(); });
    JoinFinished();
  } else {
    for (auto& [id, t] : threads_) t.detach();
    threads_.clear();
    finished_.clear();
  }
  return drained;
}

bool Dispatcher::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

size_t Dispatcher::InFlight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

size_t Dispatcher::Running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

size_t Dispatcher::Suspended() const {
  std::lock_guard<std::mutex> lock(mu_);
  return suspended_;
}

bool Dispatcher::HasQueuedBehind(int64_t key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = chats_.find(key);
  return it != chats_.end() && it->second.jobs.size() > 1;  // the current task stays in front
}

size_t Dispatcher::IdleThreads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_threads_;
}

size_t Dispatcher::Threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size() - finished_.size();
}

size_t Dispatcher::PeakThreads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_threads_;
}

}  // namespace depositbot
