#pragma once

#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace depositbot {

// Where a coroutine suspended on an outside answer (a model call) continues. The runner of a
// piece of work that may suspend (the Dispatcher, for a chat's turn) installs itself for the
// piece's thread with ResumeScope; an awaited operation that completes later, on any thread,
// calls Resume(key, h), and the runner resumes `h` on one of its threads, in the key's order.
// Without a runner installed (SyncWait, a test, the terminal) awaited operations block the
// calling thread instead, so the same coroutine serves both.
class Resumer {
 public:
  virtual ~Resumer() = default;
  // Thread-safe; may be called before the await_suspend that started the operation returned.
  virtual void Resume(int64_t key, std::coroutine_handle<> h) = 0;
  // Around a wait that must block its thread (a provider's pause, a retry's backoff, a model
  // that has no asynchronous call): the runner may start another thread meanwhile, so that
  // such waits never hold up work that could run. Called in pairs, on the waiting thread.
  virtual void BeginBlocking() {}
  virtual void EndBlocking() {}
};

struct ResumeContext {
  Resumer* resumer = nullptr;
  int64_t key = 0;
};

// The context installed on this thread (resumer null: awaited operations block).
ResumeContext CurrentResumeContext();

// Installs `context` on this thread for the scope's life, restoring the one before.
class ResumeScope {
 public:
  explicit ResumeScope(ResumeContext context);
  ~ResumeScope();
  ResumeScope(const ResumeScope&) = delete;
  ResumeScope& operator=(const ResumeScope&) = delete;

 private:
  ResumeContext previous_;
};

// Marks a blocking wait on this thread for the runner installed here, if any (see
// Resumer::BeginBlocking). Must not span a co_await.
class BlockingScope {
 public:
  BlockingScope() : resumer_(CurrentResumeContext().resumer) {
    if (resumer_ != nullptr) resumer_->BeginBlocking();
  }
  ~BlockingScope() {
    if (resumer_ != nullptr) resumer_->EndBlocking();
  }
  BlockingScope(const BlockingScope&) = delete;
  BlockingScope& operator=(const BlockingScope&) = delete;

 private:
  Resumer* resumer_;
};

template <typename T>
class Task;

namespace task_detail {

template <typename T>
struct ValueSlot {
  std::optional<T> value;
  void return_value(T v) { value.emplace(std::move(v)); }
  T Take() { return std::move(*value); }
};

template <>
struct ValueSlot<void> {
  void return_void() {}
  void Take() {}
};

}  // namespace task_detail

// A lazily started coroutine that yields one T (or void). Awaiting it from another coroutine
// runs it with the awaiter as its continuation (symmetric transfer: no stack growth per
// level); a top-level Task is started with Start() by its owner, or run to the end with
// SyncWait(). An exception escaping the body is rethrown to whoever awaits the result.
// Move-only; destroying a Task destroys its frame, which must not be running or awaited then.
template <typename T>
class [[nodiscard]] Task {
 public:
  struct promise_type : task_detail::ValueSlot<T> {
    std::exception_ptr error;
    std::coroutine_handle<> continuation;

    Task get_return_object() { return Task(Handle::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        if (auto c = h.promise().continuation) return c;
        return std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() { error = std::current_exception(); }
  };
  using Handle = std::coroutine_handle<promise_type>;

  Task(Task&& other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, nullptr);
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  // Runs the body until it ends or first suspends (for the owner of a top-level Task).
  void Start() { h_.resume(); }
  bool done() const { return !h_ || h_.done(); }
  // After done(): the result, or the body's exception rethrown.
  T TakeResult() {
    if (h_.promise().error) std::rethrow_exception(h_.promise().error);
    return h_.promise().Take();
  }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
    h_.promise().continuation = awaiting;
    return h_;
  }
  T await_resume() { return TakeResult(); }

 private:
  explicit Task(Handle h) : h_(h) {}
  Handle h_;
};

// Runs `task` to its end on this thread and returns its result. Operations it awaits block this
// thread (no Resumer is visible inside), so it never suspends part-way.
template <typename T>
T SyncWait(Task<T> task) {
  ResumeScope blocking(ResumeContext{});
  task.Start();
  if (!task.done()) throw std::logic_error("SyncWait: a task suspended without a resumer");
  return task.TakeResult();
}

// Awaits an operation that reports its outcome once through a callback, from any thread:
// `start(done)` begins it and `done(R)` delivers the outcome. Under a Resumer the coroutine
// suspends and holds no thread until the outcome comes; without one, the calling thread waits.
// `start` may call `done` before it returns.
template <typename R>
class [[nodiscard]] Completion {
 public:
  using Done = std::function<void(R)>;
  explicit Completion(std::function<void(Done)> start) : start_(std::move(start)) {}

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    // Moved out first: once `done` runs, the coroutine may be resumed and this awaiter (in its
    // frame) destroyed on another thread while `start` is still returning here.
    std::function<void(Done)> start = std::move(start_);
    const ResumeContext context = CurrentResumeContext();
    if (context.resumer == nullptr) {
      std::mutex mu;
      std::condition_variable cv;
      bool finished = false;
      start([&](R outcome) {
        std::lock_guard<std::mutex> lock(mu);
        outcome_.emplace(std::move(outcome));
        finished = true;
        cv.notify_all();
      });
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return finished; });
      return false;  // the outcome is here: go on without suspending
    }
    start([this, h, context](R outcome) {
      outcome_.emplace(std::move(outcome));
      context.resumer->Resume(context.key, h);
    });
    return true;
  }
  R await_resume() { return std::move(*outcome_); }

 private:
  std::function<void(Done)> start_;
  std::optional<R> outcome_;
};

}  // namespace depositbot
