#include "chat/dispatcher.h"

#include <algorithm>
#include <exception>
#include <system_error>

#include "common/log.h"

namespace depositbot {

Dispatcher::Dispatcher(size_t max_in_flight, std::chrono::milliseconds idle)
    : max_in_flight_(max_in_flight == 0 ? 1 : max_in_flight), idle_(idle) {}

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

bool Dispatcher::Submit(int64_t key, std::function<void()> task) {
  if (!Reserve()) return false;
  return SubmitReserved(key, std::move(task));
}

bool Dispatcher::SubmitReserved(int64_t key, std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) {
    if (in_flight_ > 0) --in_flight_;
    if (in_flight_ == 0) idle_cv_.notify_all();
    return false;
  }
  auto& q = queues_[key];
  const bool new_key = q.empty();
  q.push_back(std::move(task));
  if (new_key) {  // a key with work is either in ready_ or held by exactly one thread
    // Each key put in ready_ is claimed by one thread: an idle one woken for it, or a new one.
    ready_.push_back(key);
    if (idle_threads_ > 0) {
      --idle_threads_;
      ++wakeups_;
      work_cv_.notify_one();
    } else if (!Spawn()) {
      // No thread could be started (the system's limit): undo, the caller keeps the update.
      ready_.pop_back();
      queues_.erase(key);
      --in_flight_;
      if (in_flight_ == 0) idle_cv_.notify_all();
      return false;
    }
  }
  return true;
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
      ++idle_threads_;
      work_cv_.wait_for(lock, idle_, [&] { return shutdown_ || wakeups_ > 0; });
      if (wakeups_ == 0) {  // idle too long, or shutting down: nobody claimed this thread
        --idle_threads_;
        break;
      }
      --wakeups_;  // the submitter took this thread out of idle_threads_
    }
    claimed = false;
    const int64_t key = ready_.front();
    ready_.pop_front();
    // This thread owns the key until its queue is empty: its tasks run here, in order.
    while (true) {
      auto& q = queues_[key];
      std::function<void()> task = std::move(q.front());
      ++running_;
      lock.unlock();
      try {
        task();
      } catch (const std::exception& e) {
        Log(LogLevel::kError, "dispatch.task_failed",
            {{"chat_id", std::to_string(key)}, {"error", e.what()}});
      } catch (...) {
        Log(LogLevel::kError, "dispatch.task_failed", {{"chat_id", std::to_string(key)}});
      }
      task = nullptr;  // its captures are released before the slot is given back
      lock.lock();
      --running_;
      --in_flight_;
      auto& after = queues_[key];
      after.pop_front();
      if (in_flight_ == 0) idle_cv_.notify_all();
      if (after.empty()) {
        queues_.erase(key);
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

bool Dispatcher::HasQueuedBehind(int64_t key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = queues_.find(key);
  return it != queues_.end() && it->second.size() > 1;  // the running task stays at the front
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
