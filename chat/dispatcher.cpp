#include "chat/dispatcher.h"

#include <exception>

#include "common/log.h"

namespace depositbot {

Dispatcher::Dispatcher(size_t workers, size_t max_queued)
    : max_queued_(max_queued == 0 ? 1 : max_queued) {
  if (workers == 0) workers = 1;
  for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
}

Dispatcher::~Dispatcher() {
  if (!shutdown_) Stop(std::chrono::milliseconds(10000));
}

bool Dispatcher::Submit(int64_t key, std::function<void()> task) {
  std::unique_lock<std::mutex> lock(mu_);
  space_cv_.wait(lock, [&] { return stopping_ || queued_ < max_queued_; });
  if (stopping_) return false;
  queues_[key].push_back(std::move(task));
  ++queued_;
  if (scheduled_.insert(key).second) {
    ready_.push_back(key);
    work_cv_.notify_one();
  }
  return true;
}

void Dispatcher::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return shutdown_ || !ready_.empty(); });
    if (ready_.empty()) return;  // shutdown_ with nothing left
    int64_t key = ready_.front();
    ready_.pop_front();
    auto& q = queues_[key];
    std::function<void()> task = std::move(q.front());
    q.pop_front();
    --queued_;
    ++running_;
    space_cv_.notify_one();
    lock.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      Log(LogLevel::kError, "dispatch.task_failed",
          {{"chat_id", std::to_string(key)}, {"error", e.what()}});
    } catch (...) {
      Log(LogLevel::kError, "dispatch.task_failed", {{"chat_id", std::to_string(key)}});
    }
    lock.lock();
    --running_;
    if (queues_[key].empty()) {
      queues_.erase(key);
      scheduled_.erase(key);
    } else {
      ready_.push_back(key);  // the chat's next task, behind other chats
      work_cv_.notify_one();
    }
    if (queued_ == 0 && running_ == 0) idle_cv_.notify_all();
  }
}

bool Dispatcher::Stop(std::chrono::milliseconds bound) {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  space_cv_.notify_all();
  bool drained = idle_cv_.wait_for(lock, bound, [&] { return queued_ == 0 && running_ == 0; });
  shutdown_ = true;
  work_cv_.notify_all();
  lock.unlock();
  for (auto& t : threads_) {
    if (drained) {
      t.join();
    } else {
      t.detach();
    }
  }
  threads_.clear();
  return drained;
}

size_t Dispatcher::Queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_;
}

size_t Dispatcher::Running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

}  // namespace depositbot
