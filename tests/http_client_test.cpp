#include "common/http_client.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
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
