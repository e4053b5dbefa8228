#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace depositbot::testing {

// A cpp-httplib task queue that serves every connection on a thread of its own, so a fake
// answers as many requests at once as the bot sends (its default pool answers 8 and queues the
// rest, which would make the fake the bottleneck of a throughput test or benchmark). Threads
// that ended are joined when the next one starts; shutdown() joins the rest.
class ThreadPerConnection : public httplib::TaskQueue {
 public:
  void enqueue(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto id : finished_) {
      auto it = threads_.find(id);
      if (it != threads_.end()) {
        it->second.join();
        threads_.erase(it);
      }
    }
    finished_.clear();
    std::thread t([this, fn = std::move(fn)] {
      fn();
      std::lock_guard<std::mutex> l(mu_);
      finished_.push_back(std::this_thread::get_id());
    });
    threads_.emplace(t.get_id(), std::move(t));
  }
  void shutdown() override {
    std::map<std::thread::id, std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(threads_);
    }
    for (auto& [id, t] : threads) t.join();
  }

 private:
  std::mutex mu_;
  std::map<std::thread::id, std::thread> threads_;
  std::vector<std::thread::id> finished_;
};

// Makes a fake take a burst of connections: every connection on a thread of its own
// (ThreadPerConnection), and an accept backlog of 4096 instead of cpp-httplib's 5, with which a
// few hundred connections at once see their SYNs dropped and connects time out after
// retransmissions. Prepare() before the server binds, Raise() after (a second listen() on a
// listening socket only changes its backlog).
class BurstAccept {
 public:
  void Prepare(httplib::Server& server) {
    server.new_task_queue = [] { return new ThreadPerConnection(); };
    server.set_socket_options([this](socket_t sock) {
      httplib::default_socket_options(sock);
      sock_ = sock;
    });
  }
  void Raise() {
    if (sock_ >= 0) ::listen(sock_, 4096);
  }

 private:
  std::atomic<int> sock_{-1};
};

// Runs an httplib::Server on 127.0.0.1 on a free port in a background thread.
// The constructor returns once the server accepts connections; the destructor
// stops and joins it. Fakes own one of these.
class LoopbackServer {
 public:
  explicit LoopbackServer(httplib::Server& server) : server_(server) {
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~LoopbackServer() {
    server_.stop();
    thread_.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server& server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace depositbot::testing
