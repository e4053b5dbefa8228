#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace depositbot {

// A parsed http(s) base URL: "https://api.example.com:8443/v1" ->
// {https, api.example.com, 8443, "/v1"}. base_path never ends with '/'.
struct HttpUrl {
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;
  std::string base_path;

  static Result<HttpUrl> Parse(std::string_view url);
  // scheme://host:port, what cpp-httplib's client wants.
  std::string Origin() const;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  // Header names lower-cased.
  std::map<std::string, std::string> headers;

  std::string Header(const std::string& lower_name) const;
};

// Lets one thread abort another's blocking HttpClient call, e.g. a long poll when the process
// stops. Cancel() is final: the call in flight fails at once (its connection is shut down, so
// an answer being read is dropped) and every later call given this object fails before
// sending. A call cut off this way is kUnknownOutcome: the server may have acted on it. A call
// that got its whole answer before Cancel() returns that answer. Thread-safe; it must outlive
// the calls it is given (HttpOptions::cancel).
class HttpCancel {
 public:
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }

 private:
  friend class HttpCancelScope;  // http_client.cpp: registers a call while it runs
  // A call registers how to stop it while it runs; 0 (nothing registered) when already
  // cancelled, else the key to Leave() with.
  uint64_t Enter(std::function<void()> stop);
  void Leave(uint64_t key);

  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  uint64_t next_key_ = 1;                                // guarded by mu_
  std::map<uint64_t, std::function<void()>> in_flight_;  // guarded by mu_
};

// One part of a multipart/form-data body: a field, or a file when `filename` is set.
struct HttpFormPart {
  std::string name;
  std::string content;
  std::string filename;      // empty: a plain field
  std::string content_type;  // empty: none sent
};

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds write_timeout{10000};
  HttpCancel* cancel = nullptr;  // not owned; null: the call cannot be cancelled
  // PostAsync only: a longer answer body is refused (kUnknownOutcome "answer too large").
  size_t max_response_bytes = size_t{16} << 20;
};

// The outcome of an asynchronous request, given once to its callback.
using HttpDone = std::function<void(Result<HttpResponse>)>;

// A small HTTP client: blocking calls over cpp-httplib (OpenSSL for https), and PostAsync over
// libcurl's multi interface.
// Any HTTP status is a successful Result; transport failures are errors:
//   kUnavailable     the request was never sent (connect failed / timed out),
//   kUnknownOutcome  it was sent but no complete answer came (read timeout,
//                    connection reset): the server may have acted on it.
// Error messages name the host and path only, never the query string (where
// some APIs put keys). Thread-safe: each call uses its own connection.
class HttpClient {
 public:
  HttpClient(HttpUrl base, HttpOptions options);
  // Transfers of PostAsync still in flight end with kUnknownOutcome ("... shutting down") on
  // the event-loop thread, which is then joined. Must not run concurrently with PostAsync.
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) = delete;

  // `path` is appended to the base path ("/chat/completions").
  Result<HttpResponse> Post(std::string_view path, const std::string& body,
                            const std::string& content_type,
                            const std::map<std::string, std::string>& headers = {}) const;
  // The same as a multipart/form-data upload (RFC 7578), e.g. a file with its fields.
  Result<HttpResponse> PostMultipart(std::string_view path, const std::vector<HttpFormPart>& parts,
                                     const std::map<std::string, std::string>& headers = {}) const;
  // `path_and_query` is appended to the base path ("/xml.response?ApiUser=...").
  Result<HttpResponse> Get(std::string_view path_and_query,
                           const std::map<std::string, std::string>& headers = {}) const;

  // The same request as Post(), without blocking the caller: `done` gets the same Result
  // Post() would give (same error codes and messages), exactly once, on this client's
  // event-loop thread (one thread per HttpClient, started on the first call). `done` must not
  // block: it hands the result on (it may start another request, but not destroy this client). When
  // the request cannot start (already cancelled through options.cancel, or the client is being
  // destroyed) `done` runs at once on the caller's thread.
  //
  // Over libcurl's multi interface (one CURLM per client; HTTP/2 multiplexing for https where
  // the server offers it; at most 32 idle connections kept for reuse; peer and host verified
  // against the system CA bundle; no proxy from the environment). Timeouts: connect_timeout
  // bounds the connect and TLS handshake, connect_timeout + write_timeout the time until the
  // request is sent, and, as Post() has it, read_timeout the wait for each part of the answer
  // after that; the whole transfer is bounded by connect_timeout + write_timeout +
  // read_timeout, so a request never waits without bound (a server that trickles its answer is
  // cut off at that total, where Post() would wait on). The body is owned by the
  // transfer and sent without a copy. Thread-safe: any thread may call it at any time before the
  // destructor starts.
  void PostAsync(std::string_view path, std::string body, const std::string& content_type,
                 const std::map<std::string, std::string>& headers, HttpDone done) const;

  const HttpUrl& base() const { return base_; }

 private:
  class AsyncLoop;  // http_client.cpp: the event-loop thread and its CURLM

  HttpUrl base_;
  HttpOptions options_;
  std::unique_ptr<AsyncLoop> loop_;  // null only when moved from; its thread starts lazily
};

// Percent-encodes a query component (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view s);

}  // namespace depositbot
