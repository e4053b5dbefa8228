#include "common/http_client.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/fakes/loopback_server.h"

using namespace depositbot;

TEST_CASE("base URLs parse into scheme, host, port and path") {
  auto u = HttpUrl::Parse("https://api.openai.com/v1/");
  REQUIRE(u);
  CHECK(u->scheme == "https");
  CHECK(u->host == "api.openai.com");
  CHECK(u->port == 443);
  CHECK(u->base_path == "/v1");
  auto l = HttpUrl::Parse("http://127.0.0.1:8081");
  REQUIRE(l);
  CHECK(l->port == 8081);
  CHECK(l->base_path.empty());
  CHECK_FALSE(HttpUrl::Parse("ftp://x"));
  CHECK_FALSE(HttpUrl::Parse("localhost:80"));
  CHECK_FALSE(HttpUrl::Parse("http://host:99999"));
  CHECK_FALSE(HttpUrl::Parse("http://user:pw@host"));
}

TEST_CASE("a refused connection is unavailable, not an unknown outcome") {
  // Run and stop a server so that nothing listens on its port any more.
  int port = 0;
  {
    httplib::Server probe;
    testing::LoopbackServer loop(probe);
    port = loop.port();
  }
  HttpClient c(*HttpUrl::Parse("http://127.0.0.1:" + std::to_string(port)), {});
  auto r = c.Get("/x?ApiKey=secret");
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message.find("secret") == std::string::npos);
}

TEST_CASE("a read timeout after the request was sent is an unknown outcome") {
  httplib::Server srv;
  std::atomic<bool> release{false};
  srv.Post("/slow", [&](const httplib::Request&, httplib::Response& res) {
    while (!release) std::this_thread::yield();
    res.set_content("late", "text/plain");
  });
  Result<HttpResponse> r = Error::Internal("not run");
  {
    testing::LoopbackServer loop(srv);
    HttpOptions o;
    o.read_timeout = std::chrono::milliseconds(200);
    HttpClient c(*HttpUrl::Parse(loop.url()), o);
    r = c.Post("/slow?key=secret", "{}", "application/json");
    release = true;
  }
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnknownOutcome);
  CHECK(r.error().message.find("secret") == std::string::npos);
}

// A server whose /hold answers only when the test releases it, and counts what arrived.
struct HoldingServer {
  httplib::Server srv;
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  bool released = false;

  HoldingServer() {
    srv.Post("/hold", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock<std::mutex> lock(mu);
      ++arrived;
      cv.notify_all();
      cv.wait(lock, [this] { return released; });
      res.set_content("late", "text/plain");
    });
    // The same, answering with the request's body.
    srv.Post("/hold-echo", [this](const httplib::Request& req, httplib::Response& res) {
      std::unique_lock<std::mutex> lock(mu);
      ++arrived;
      cv.notify_all();
      cv.wait(lock, [this] { return released; });
      res.set_content(req.body, "text/plain");
    });
  }
  void WaitForArrivals(int n) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return arrived >= n; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    cv.notify_all();
  }
};

TEST_CASE("cancelling ends a call waiting for its answer, and later calls are never sent") {
  HoldingServer hold;
  testing::LoopbackServer loop(hold.srv);
  HttpCancel cancel;
  HttpOptions o;
  o.read_timeout = std::chrono::minutes(5);  // only the cancel can end the wait
  o.cancel = &cancel;
  HttpClient c(*HttpUrl::Parse(loop.url()), o);
  Result<HttpResponse> r = Error::Internal("not run");
  std::thread caller([&] { r = c.Post("/hold?key=secret", "{}", "application/json"); });
  hold.WaitForArrivals(1);
  cancel.Cancel();
  caller.join();  // before the server answers: Release() comes after
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnknownOutcome);  // the server had the request
  CHECK(r.error().message.find("cancelled") != std::string::npos);
  CHECK(r.error().message.find("secret") == std::string::npos);

  auto later = c.Post("/hold", "{}", "application/json");
  REQUIRE_FALSE(later);
  CHECK(later.error().message.find("cancelled before it was sent") != std::string::npos);
  hold.Release();
  std::lock_guard<std::mutex> lock(hold.mu);
  CHECK(hold.arrived == 1);
}

TEST_CASE("a call given a cancel that is never used works as usual") {
  HoldingServer hold;
  hold.Release();
  testing::LoopbackServer loop(hold.srv);
  HttpCancel cancel;
  HttpOptions o;
  o.cancel = &cancel;
  auto r = HttpClient(*HttpUrl::Parse(loop.url()), o).Post("/hold", "{}", "application/json");
  REQUIRE(r);
  CHECK(r->body == "late");
}

TEST_CASE("responses carry status, body and lower-cased headers") {
  httplib::Server srv;
  srv.Post("/v1/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.status = 429;
    res.set_header("Retry-After", "2");
    res.set_content(req.body + "|" + req.get_header_value("Authorization"), "text/plain");
  });
  testing::LoopbackServer loop(srv);
  HttpClient c(*HttpUrl::Parse(loop.url() + "/v1"), {});
  auto r = c.Post("/echo", "hi", "text/plain", {{"Authorization", "Bearer k"}});
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(r->body == "hi|Bearer k");
  CHECK(r->Header("retry-after") == "2");
}

TEST_CASE("query components are percent-encoded") {
  CHECK(UrlEncode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9");
  CHECK(UrlEncode("Safe-._~09") == "Safe-._~09");
}

// Collects what PostAsync callbacks are given, by request index, counting every call.
struct AsyncOutcomes {
  std::mutex mu;
  std::condition_variable cv;
  std::map<int, std::vector<Result<HttpResponse>>> by_index;
  std::map<int, std::thread::id> threads;
  int calls = 0;

  HttpDone For(int index) {
    return [this, index](Result<HttpResponse> r) {
      std::lock_guard<std::mutex> lock(mu);
      by_index[index].push_back(std::move(r));
      threads[index] = std::this_thread::get_id();
      ++calls;
      cv.notify_all();
    };
  }
  void WaitForCalls(int n) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return calls >= n; });
  }
  // The one result of request `index` (checks it was given exactly once).
  Result<HttpResponse> Only(int index) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = by_index.find(index);
    REQUIRE(it != by_index.end());
    REQUIRE(it->second.size() == 1);
    return it->second.front();
  }
};

TEST_CASE(
    "an asynchronous POST sends body, content type and headers exactly, any status is an answer") {
  httplib::Server srv;
  std::mutex mu;
  std::vector<std::string> seen;
  srv.Post("/v1/echo", [&](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(req.get_header_value("Content-Type") + "|" +
                     req.get_header_value("Authorization") + "|" + req.get_header_value("X-Trace") +
                     "|" + (req.has_header("Expect") ? "expect" : "-"));
    }
    res.status = req.body.size() > 100 ? 500 : 429;
    res.set_header("Retry-After", "7");
    res.set_header("X-Request-ID", "req-1");
    res.set_content(req.body, "text/plain");
  });
  testing::LoopbackServer loop(srv);
  AsyncOutcomes out;
  // Over 1 MiB: curl would otherwise ask "Expect: 100-continue" and wait.
  std::string big(1536 * 1024, 'x');
  big[0] = 'a';
  big.back() = 'z';
  {
    HttpClient c(*HttpUrl::Parse(loop.url() + "/v1"), {});
    c.PostAsync("/echo", "{\"a\":1}", "application/json",
                {{"Authorization", "Bearer k"}, {"X-Trace", "t 1"}}, out.For(0));
    c.PostAsync("/echo", big, "application/octet-stream", {}, out.For(1));
    out.WaitForCalls(2);
  }
  auto small = out.Only(0);
  REQUIRE(small);
  CHECK(small->status == 429);
  CHECK(small->body == "{\"a\":1}");
  CHECK(small->Header("retry-after") == "7");
  CHECK(small->Header("x-request-id") == "req-1");
  CHECK(small->Header("content-type") == "text/plain");
  auto large = out.Only(1);
  REQUIRE(large);
  CHECK(large->status == 500);
  CHECK(large->body == big);
  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(seen.size() == 2);
  std::sort(seen.begin(), seen.end());
  CHECK(seen[0] == "application/json|Bearer k|t 1|-");
  CHECK(seen[1] == "application/octet-stream|||-");
  CHECK(out.calls == 2);
}

TEST_CASE(
    "an asynchronous POST to a closed port is unavailable and names host, port and path only") {
  int port = 0;
  {
    httplib::Server probe;
    testing::LoopbackServer loop(probe);
    port = loop.port();
  }
  AsyncOutcomes out;
  {
    HttpClient c(*HttpUrl::Parse("http://127.0.0.1:" + std::to_string(port) + "/v1"), {});
    c.PostAsync("/x?ApiKey=secret", "{}", "application/json", {}, out.For(0));
    out.WaitForCalls(1);
  }
  auto r = out.Only(0);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message.find("127.0.0.1:" + std::to_string(port) + "/v1/x") != std::string::npos);
  CHECK(r.error().message.find("secret") == std::string::npos);
  CHECK(out.calls == 1);
}

TEST_CASE("an asynchronous POST the server never answers ends as an unknown outcome") {
  HoldingServer hold;
  testing::LoopbackServer loop(hold.srv);
  AsyncOutcomes out;
  {
    HttpOptions o;
    o.connect_timeout = std::chrono::milliseconds(100);
    o.write_timeout = std::chrono::milliseconds(100);
    o.read_timeout = std::chrono::milliseconds(100);
    HttpClient c(*HttpUrl::Parse(loop.url()), o);
    c.PostAsync("/hold?key=secret", "{}", "application/json", {}, out.For(0));
    out.WaitForCalls(1);  // only the timeout can end it: the server holds it until after
  }
  hold.Release();
  auto r = out.Only(0);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnknownOutcome);
  CHECK(r.error().message.find("/hold") != std::string::npos);
  CHECK(r.error().message.find("secret") == std::string::npos);
  CHECK(out.calls == 1);
}

TEST_CASE("an asynchronous POST sent and then unanswered ends after the read timeout, as Post") {
  HoldingServer hold;
  testing::LoopbackServer loop(hold.srv);
  AsyncOutcomes out;
  {
    HttpOptions o;  // the long connect and write timeouts of a model client
    o.connect_timeout = std::chrono::milliseconds(5000);
    o.write_timeout = std::chrono::milliseconds(10000);
    o.read_timeout = std::chrono::milliseconds(100);
    HttpClient c(*HttpUrl::Parse(loop.url()), o);
    c.PostAsync("/hold", "{}", "application/json", {}, out.For(0));
    out.WaitForCalls(1);
  }
  hold.Release();
  auto r = out.Only(0);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnknownOutcome);
  // Sent, then no byte for the read timeout: not the sum of all three timeouts.
  CHECK(r.error().message.find("no answer for 100 ms") != std::string::npos);
}

TEST_CASE("300 asynchronous POSTs wait at the server at once, and each gets its own answer") {
  constexpr int kRequests = 300;
  HoldingServer hold;
  testing::BurstAccept burst;
  burst.Prepare(hold.srv);  // a thread per connection: all 300 are held at once
  testing::LoopbackServer loop(hold.srv);
  burst.Raise();
  AsyncOutcomes out;
  std::thread::id caller = std::this_thread::get_id();
  {
    HttpOptions o;
    o.read_timeout = std::chrono::minutes(5);  // only the release ends the wait
    HttpClient c(*HttpUrl::Parse(loop.url()), o);
    // From several threads at once, as conversations would.
    std::vector<std::thread> senders;
    for (int s = 0; s < 4; ++s) {
      senders.emplace_back([&, s] {
        for (int i = s; i < kRequests; i += 4) {
          c.PostAsync("/hold-echo", "request " + std::to_string(i), "text/plain", {}, out.For(i));
        }
      });
    }
    for (auto& t : senders) t.join();
    hold.WaitForArrivals(kRequests);
    {
      std::lock_guard<std::mutex> lock(out.mu);
      CHECK(out.calls == 0);  // every one is still waiting for its answer
    }
    hold.Release();
    out.WaitForCalls(kRequests);
  }
  for (int i = 0; i < kRequests; ++i) {
    auto r = out.Only(i);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "request " + std::to_string(i));
  }
  std::lock_guard<std::mutex> lock(out.mu);
  CHECK(out.calls == kRequests);
  CHECK(out.threads[0] != caller);  // on the client's event-loop thread
  std::lock_guard<std::mutex> server_lock(hold.mu);
  CHECK(hold.arrived == kRequests);
}

TEST_CASE("cancelling ends a held asynchronous POST, and a later one is never sent") {
  HoldingServer hold;
  testing::LoopbackServer loop(hold.srv);
  HttpCancel cancel;
  AsyncOutcomes out;
  {
    HttpOptions o;
    o.read_timeout = std::chrono::minutes(5);  // only the cancel can end the wait
    o.cancel = &cancel;
    HttpClient c(*HttpUrl::Parse(loop.url()), o);
    c.PostAsync("/hold?key=secret", "{}", "application/json", {}, out.For(0));
    hold.WaitForArrivals(1);
    cancel.Cancel();
    out.WaitForCalls(1);  // before the server answers: Release() comes after

    c.PostAsync("/hold", "{}", "application/json", {}, out.For(1));
    std::lock_guard<std::mutex> lock(out.mu);
    CHECK(out.calls == 2);  // at once, on this thread
    CHECK(out.threads[1] == std::this_thread::get_id());
  }
  hold.Release();
  auto held = out.Only(0);
  REQUIRE_FALSE(held);
  CHECK(held.code() == ErrorCode::kUnknownOutcome);  // the server had the request
  CHECK(held.error().message.find("cancelled") != std::string::npos);
  CHECK(held.error().message.find("secret") == std::string::npos);
  auto later = out.Only(1);
  REQUIRE_FALSE(later);
  CHECK(later.code() == ErrorCode::kUnknownOutcome);
  CHECK(later.error().message.find("cancelled before it was sent") != std::string::npos);
  std::lock_guard<std::mutex> lock(hold.mu);
  CHECK(hold.arrived == 1);
  CHECK(out.calls == 2);
}

TEST_CASE("destroying the client ends its held asynchronous POST once, as an unknown outcome") {
  HoldingServer hold;
  testing::LoopbackServer loop(hold.srv);
  AsyncOutcomes out;
  {
    HttpOptions o;
    o.read_timeout = std::chrono::minutes(5);
    HttpClient c(*HttpUrl::Parse(loop.url()), o);
    c.PostAsync("/hold", "{}", "application/json", {}, out.For(0));
    hold.WaitForArrivals(1);
  }
  hold.Release();
  auto r = out.Only(0);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnknownOutcome);
  CHECK(r.error().message.find("shutting down") != std::string::npos);
  std::lock_guard<std::mutex> lock(out.mu);
  CHECK(out.calls == 1);
}

TEST_CASE("an asynchronous answer longer than max_response_bytes is refused") {
  httplib::Server srv;
  std::string answer(4096, 'y');
  srv.Post("/sized", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(answer, "text/plain");  // announces its length
  });
  srv.Post("/chunked", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [&](size_t offset, httplib::DataSink& sink) {
      if (offset >= answer.size()) {
        sink.done();
      } else {
        sink.write(answer.data() + offset, 512);
      }
      return true;
    });
  });
  testing::LoopbackServer loop(srv);
  AsyncOutcomes out;
  {
    HttpOptions o;
    o.max_response_bytes = 1000;
    HttpClient c(*HttpUrl::Parse(loop.url()), o);
    c.PostAsync("/sized", "{}", "application/json", {}, out.For(0));
    c.PostAsync("/chunked", "{}", "application/json", {}, out.For(1));
    HttpOptions exact;
    exact.max_response_bytes = answer.size();
    HttpClient fits(*HttpUrl::Parse(loop.url()), exact);
    fits.PostAsync("/chunked", "{}", "application/json", {}, out.For(2));
    out.WaitForCalls(3);
  }
  for (int i : {0, 1}) {
    auto r = out.Only(i);
    REQUIRE_FALSE(r);
    CHECK(r.code() == ErrorCode::kUnknownOutcome);
    CHECK(r.error().message.find("answer too large") != std::string::npos);
  }
  auto fits = out.Only(2);
  REQUIRE(fits);
  CHECK(fits->body == answer);
  std::lock_guard<std::mutex> lock(out.mu);
  CHECK(out.calls == 3);
}

TEST_CASE(
    "an https server whose certificate no trusted authority signed is unavailable, never asked") {
  httplib::SSLServer srv(DEPOSITBOT_TEST_DATA_DIR "/untrusted_localhost.crt",
                         DEPOSITBOT_TEST_DATA_DIR "/untrusted_localhost.key");
  REQUIRE(srv.is_valid());
  std::atomic<int> arrived{0};
  srv.Post("/x", [&](const httplib::Request&, httplib::Response& res) {
    ++arrived;
    res.set_content("answered", "text/plain");
  });
  testing::LoopbackServer loop(srv);
  AsyncOutcomes out;
  {
    HttpClient c(*HttpUrl::Parse("https://localhost:" + std::to_string(loop.port())), {});
    c.PostAsync("/x?key=secret", "{}", "application/json", {}, out.For(0));
    out.WaitForCalls(1);
  }
  auto r = out.Only(0);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(r.error().message.find("localhost:" + std::to_string(loop.port()) + "/x") !=
        std::string::npos);
  CHECK(r.error().message.find("secret") == std::string::npos);
  CHECK(arrived == 0);
}

TEST_CASE("a cancel racing asynchronous POSTs from other threads ends each exactly once") {
  HoldingServer hold;
  hold.Release();  // answers at once
  testing::BurstAccept burst;
  burst.Prepare(hold.srv);
  testing::LoopbackServer loop(hold.srv);
  burst.Raise();
  constexpr int kRequests = 200;
  HttpCancel cancel;
  AsyncOutcomes out;
  {
    HttpOptions o;
    o.cancel = &cancel;
    HttpClient c(*HttpUrl::Parse(loop.url()), o);
    std::vector<std::thread> senders;
    for (int s = 0; s < 2; ++s) {
      senders.emplace_back([&, s] {
        for (int i = s; i < kRequests; i += 2) {
          c.PostAsync("/hold-echo", std::to_string(i), "text/plain", {}, out.For(i));
        }
      });
    }
    hold.WaitForArrivals(1);
    cancel.Cancel();
    for (auto& t : senders) t.join();
    out.WaitForCalls(kRequests);
  }
  int answered = 0;
  for (int i = 0; i < kRequests; ++i) {
    auto r = out.Only(i);
    if (r) {
      CHECK(r->body == std::to_string(i));
      ++answered;
    } else {
      CHECK(r.code() == ErrorCode::kUnknownOutcome);
      CHECK(r.error().message.find("cancelled") != std::string::npos);
    }
  }
  std::lock_guard<std::mutex> lock(out.mu);
  CHECK(out.calls == kRequests);
  std::lock_guard<std::mutex> server_lock(hold.mu);
  CHECK(answered <= hold.arrived);  // nothing answered that the server did not see
}
