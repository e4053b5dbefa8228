#include "common/http_client.h"

#include <doctest/doctest.h>
#include <httplib.h>

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
