#include "common/http_client.h"

#include <curl/curl.h>
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "common/text.h"

namespace depositbot {

// A request registered with its HttpCancel for as long as it runs.
class HttpCancelScope {
 public:
  HttpCancelScope(HttpCancel& cancel, std::function<void()> stop)
      : cancel_(cancel), key_(cancel.Enter(std::move(stop))) {}
  ~HttpCancelScope() {
    if (key_ != 0) cancel_.Leave(key_);
  }
  HttpCancelScope(const HttpCancelScope&) = delete;
  HttpCancelScope& operator=(const HttpCancelScope&) = delete;
  // False when the cancel came first: send nothing.
  bool entered() const { return key_ != 0; }

  // For a request that outlives any one scope (PostAsync): entered by the caller, left by the
  // event loop when the request ends. Enter gives 0 when already cancelled.
  static uint64_t Enter(HttpCancel& cancel, std::function<void()> stop) {
    return cancel.Enter(std::move(stop));
  }
  static void Leave(HttpCancel& cancel, uint64_t key) { cancel.Leave(key); }

 private:
  HttpCancel& cancel_;
  uint64_t key_;
};

namespace {

std::string PathOnly(std::string_view path_and_query) {
  return std::string(path_and_query.substr(0, path_and_query.find('?')));
}

template <typename Client>
void Configure(Client& cli, const HttpOptions& o) {
  cli.set_connection_timeout(
      std::chrono::duration_cast<std::chrono::microseconds>(o.connect_timeout));
  cli.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(o.read_timeout));
  cli.set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(o.write_timeout));
  cli.set_keep_alive(false);
}

// host:port/path for messages, never the query string.
std::string Where(const HttpUrl& base, std::string_view path) {
  return base.host + ":" + std::to_string(base.port) + base.base_path + PathOnly(path);
}

Result<HttpResponse> Convert(httplib::Result res, const HttpUrl& base, std::string_view path) {
  std::string where = Where(base, path);
  if (!res) {
    httplib::Error e = res.error();
    std::string what = httplib::to_string(e);
    if (e == httplib::Error::Connection || e == httplib::Error::ConnectionTimeout ||
        e == httplib::Error::SSLConnection || e == httplib::Error::SSLServerVerification ||
        e == httplib::Error::SSLLoadingCerts || e == httplib::Error::BindIPAddress) {
      return Error::Unavailable("could not connect to " + where + ": " + what);
    }
    return Error::UnknownOutcome("no complete answer from " + where + ": " + what);
  }
  HttpResponse out;
  out.status = res->status;
  out.body = std::move(res->body);
  for (const auto& [k, v] : res->headers) out.headers[AsciiLower(k)] = v;
  return out;
}

// One request on its own connection, cancellable through options.cancel.
Result<HttpResponse> Send(const HttpUrl& base, const HttpOptions& options, std::string_view path,
                          const std::function<httplib::Result(httplib::Client&)>& call) {
  httplib::Client cli(base.Origin());
  Configure(cli, options);
  HttpCancel* cancel = options.cancel;
  if (cancel == nullptr) return Convert(call(cli), base, path);
  // Client::stop() shuts down the socket of a request in flight, but does nothing before the
  // socket exists. A Cancel() in that gap is caught here: the socket is created after the flag
  // is set, sees it, and is shut down before it connects, so the request fails at once (Linux:
  // the write gets EPIPE) instead of waiting out its read timeout. Only the flag is read here;
  // taking cancel->mu_ would invert the lock order with stop(), which holds httplib's socket
  // mutex around this callback.
  cli.set_socket_options([cancel](int sock) {
    if (cancel->cancelled()) ::shutdown(sock, SHUT_RDWR);
  });
  HttpCancelScope scope(*cancel, [&cli] { cli.stop(); });  // destroyed before `cli`
  if (!scope.entered()) {
    return Error::UnknownOutcome("request to " + Where(base, path) +
                                 " cancelled before it was sent");
  }
  auto res = call(cli);
  if (!res && cancel->cancelled()) {
    return Error::UnknownOutcome("request to " + Where(base, path) +
                                 " cancelled: no complete answer");
  }
  return Convert(std::move(res), base, path);
}

}  // namespace

namespace {

// Per-transfer memory is what limits how many requests wait at once (issue 13: a thousand model
// calls in flight). curl allocates a receive buffer of this size per transfer (default 16 KiB);
// answers arrive in more, smaller reads, which costs nothing next to a model's latency.
constexpr long kReceiveBufferBytes = 4096;
// The upload buffer, only used for bodies curl does not send along with the headers (over
// 64 KiB); curl's default is 64 KiB, this is its minimum.
constexpr long kUploadBufferBytes = 16384;
// Idle connections kept for reuse per client. curl's default is four per transfer ever added,
// i.e. thousands of idle TLS sessions after a burst.
constexpr long kMaxIdleConnections = 32;

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("curl_global_init failed");
    }
  });
}

// One PostAsync request: created on the caller's thread, owned by the event loop while it runs.
struct Transfer {
  uint64_t id = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string body;  // CURLOPT_POSTFIELDS points here: sent without a copy
  std::string where;
  std::string query;  // kept out of error messages
  size_t max_response_bytes = 0;
  bool https = false;
  bool too_large = false;
  HttpCancel* cancel = nullptr;
  uint64_t cancel_key = 0;  // 0: not registered with `cancel`
  // Read timeout as Post() has it (no byte for read_timeout once the request is sent), kept by
  // the loop: `deadline` is connect + write timeouts from the start until the request is sent,
  // then read_timeout after the last sign of the answer.
  std::chrono::milliseconds send_window{0}, read_timeout{0};
  std::chrono::steady_clock::time_point deadline;
  bool sent = false;
  curl_off_t received = 0;
  HttpDone done;
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = {};

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
};

// Ends a transfer that is in no CURLM (any more): leaves its HttpCancel, frees its handle, and
// gives `done` the result. The callback runs last, so it may start a new request.
void Complete(std::unique_ptr<Transfer> t, Result<HttpResponse> result) {
  if (t->cancel_key != 0) HttpCancelScope::Leave(*t->cancel, t->cancel_key);
  HttpDone done = std::move(t->done);
  t.reset();
  done(std::move(result));
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (n > t->max_response_bytes - t->response.body.size()) {
    t->too_large = true;
    return 0;  // not n: curl aborts the transfer (CURLE_WRITE_ERROR)
  }
  t->response.body.append(data, n);
  return n;
}

// Progress: the request sent, or more of the answer come, moves the read deadline.
int OnProgress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  // Called for every transfer each time the loop runs: only a change is worth a clock read.
  auto* t = static_cast<Transfer*>(user);
  if (!t->sent && ulnow >= ultotal) {
    long request_bytes = 0;  // the request line and headers went out: the connection is up
    curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &request_bytes);
    if (request_bytes > 0) {
      t->sent = true;
      t->deadline = std::chrono::steady_clock::now() + t->read_timeout;
    }
  }
  if (dlnow > t->received) {
    t->received = dlnow;
    t->deadline = std::chrono::steady_clock::now() + t->read_timeout;
  }
  return 0;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  t->deadline = std::chrono::steady_clock::now() + t->read_timeout;  // the answer is coming
  std::string_view line(data, n);
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
  // A status line starts an answer; the headers of an interim one (100 Continue) are dropped.
  if (line.substr(0, 5) == "HTTP/") {
    t->response.headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && is_space(value.front())) value.remove_prefix(1);
  t->response.headers[AsciiLower(line.substr(0, colon))] = std::string(value);
  return n;
}

// True when curl certainly did not send the request: it never got a connection to send it on.
bool NeverSent(const Transfer& t, CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return true;
    case CURLE_OPERATION_TIMEDOUT: {
      // A timeout before the connection (and for https its handshake) was up.
      curl_off_t connected = 0, handshaken = 0;
      long header_bytes = 0;
      curl_easy_getinfo(t.easy, CURLINFO_REQUEST_SIZE, &header_bytes);
      curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connected);
      curl_easy_getinfo(t.easy, CURLINFO_APPCONNECT_TIME_T, &handshaken);
      return header_bytes == 0 && (connected == 0 || (t.https && handshaken == 0));
    }
    default:
      return false;
  }
}

Result<HttpResponse> Outcome(Transfer& t, CURLcode code) {
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    t.response.status = static_cast<int>(status);
    return std::move(t.response);
  }
  if (t.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return Error::UnknownOutcome("no complete answer from " + t.where +
                                 ": answer too large (over " +
                                 std::to_string(t.max_response_bytes) + " bytes)");
  }
  // curl's own message is more precise than its code's, but must not leak the query string.
  std::string what = t.error;
  if (what.empty() || (!t.query.empty() && what.find(t.query) != std::string::npos)) {
    what = curl_easy_strerror(code);
  }
  if (NeverSent(t, code))
    return Error::Unavailable("could not connect to " + t.where + ": " + what);
  return Error::UnknownOutcome("no complete answer from " + t.where + ": " + what);
}

}  // namespace

// The event-loop thread of one HttpClient and the CURLM it owns. Requests and stops are handed
// to it through mu_ and curl_multi_wakeup; everything else is touched by the loop thread only.
class HttpClient::AsyncLoop {
 public:
  AsyncLoop() = default;
  AsyncLoop(const AsyncLoop&) = delete;
  AsyncLoop& operator=(const AsyncLoop&) = delete;
  // Ends the transfers in flight ("shutting down") on the loop thread and joins it.
  ~AsyncLoop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      if (multi_ != nullptr) curl_multi_wakeup(multi_);
    }
    if (thread_.joinable()) thread_.join();
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
  }

  uint64_t NextId() { return next_id_.fetch_add(1); }

  // Hands `t` to the loop, starting it on the first call; ends `t` at once on this thread when
  // the loop is stopping.
  void Submit(std::unique_ptr<Transfer> t) {
    std::string why;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        why = ShuttingDown(*t);
      } else if (!Started()) {
        why = "could not connect to " + t->where + ": curl_multi_init failed";
      } else {
        incoming_.push_back(std::move(t));
        curl_multi_wakeup(multi_);
        return;
      }
    }
    Complete(std::move(t), Error::Unavailable(std::move(why)));
  }

  // Asks the loop to abort transfer `id` (cancelled). Any thread; called with the HttpCancel's
  // lock held, so it only queues.
  void Stop(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || multi_ == nullptr) return;  // Run() checks cancelled() when it adds one
    stops_.push_back(id);
    curl_multi_wakeup(multi_);
  }

 private:
  static std::string ShuttingDown(const Transfer& t) {
    return "request to " + t.where + " not sent: the HTTP client is shutting down";
  }

  // Under mu_: creates the CURLM and the loop thread on the first request.
  bool Started() {
    if (multi_ != nullptr) return true;
    multi_ = curl_multi_init();
    if (multi_ == nullptr) return false;
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, kMaxIdleConnections);
    thread_ = std::thread([this] { Run(); });
    return true;
  }

  void Run() {
    std::vector<std::unique_ptr<Transfer>> incoming;
    std::vector<uint64_t> stops;
    std::vector<std::pair<Transfer*, CURLcode>> finished;
    for (;;) {
      bool stopping = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        incoming.swap(incoming_);
        stops.swap(stops_);
        stopping = stopping_;
      }
      for (auto& t : incoming) Add(std::move(t), stopping);
      incoming.clear();
      for (uint64_t id : stops) {
        auto it = active_.find(id);
        if (it == active_.end()) continue;  // already ended
        std::string why = "request to " + it->second->where + " cancelled: no complete answer";
        End(it, Error::UnknownOutcome(std::move(why)));
      }
      stops.clear();
      if (stopping) {
        while (!active_.empty()) {
          auto it = active_.begin();
          std::string why =
              "no complete answer from " + it->second->where + ": the HTTP client is shutting down";
          End(it, Error::UnknownOutcome(std::move(why)));
        }
        return;
      }
      int running = 0;
      curl_multi_perform(multi_, &running);
      // A message does not survive curl_multi_remove_handle: collect them all first.
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &t);
        finished.emplace_back(t, m->data.result);
      }
      for (auto [t, code] : finished) {
        auto it = active_.find(t->id);
        if (it != active_.end()) End(it, Outcome(*t, code));
      }
      finished.clear();
      curl_multi_poll(multi_, nullptr, 0, ExpireLate(), nullptr);
    }
  }

  void Add(std::unique_ptr<Transfer> t, bool stopping) {
    if (stopping) {
      std::string why = ShuttingDown(*t);
      return Complete(std::move(t), Error::Unavailable(std::move(why)));
    }
    // A Cancel() between the caller's Enter and this point queued a stop that found nothing;
    // its flag was set before, so it is seen here.
    if (t->cancel != nullptr && t->cancel->cancelled()) {
      std::string why = "request to " + t->where + " cancelled before it was sent";
      return Complete(std::move(t), Error::UnknownOutcome(std::move(why)));
    }
    if (curl_multi_add_handle(multi_, t->easy) != CURLM_OK) {
      std::string why = "could not connect to " + t->where + ": curl refused the request";
      return Complete(std::move(t), Error::Unavailable(std::move(why)));
    }
    t->deadline = std::chrono::steady_clock::now() + t->send_window;
    uint64_t id = t->id;
    active_.emplace(id, std::move(t));
  }

  // Ends the transfers past their deadline; returns how long the loop may wait (ms) before the
  // next one is due, at most a second.
  int ExpireLate() {
    const auto now = std::chrono::steady_clock::now();
    auto next = now + std::chrono::seconds(1);
    for (auto it = active_.begin(); it != active_.end();) {
      Transfer& t = *it->second;
      if (t.deadline > now) {
        next = std::min(next, t.deadline);
        ++it;
        continue;
      }
      auto late = it++;
      curl_off_t connected = 0;
      long request_bytes = 0;
      curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connected);
      curl_easy_getinfo(t.easy, CURLINFO_REQUEST_SIZE, &request_bytes);
      if (!t.sent && connected == 0 && request_bytes == 0) {
        End(late, Error::Unavailable("could not connect to " + t.where + ": timed out after " +
                                     std::to_string(t.send_window.count()) + " ms"));
      } else if (!t.sent) {
        End(late, Error::UnknownOutcome("no complete answer from " + t.where +
                                        ": the request was not sent within " +
                                        std::to_string(t.send_window.count()) + " ms"));
      } else {
        End(late, Error::UnknownOutcome("no complete answer from " + t.where + ": no answer for " +
                                        std::to_string(t.read_timeout.count()) + " ms"));
      }
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
    return static_cast<int>(std::clamp<int64_t>(wait + 1, 1, 1000));
  }

  // Takes a transfer out of the CURLM and ends it.
  void End(std::unordered_map<uint64_t, std::unique_ptr<Transfer>>::iterator it,
           Result<HttpResponse> result) {
    std::unique_ptr<Transfer> t = std::move(it->second);
    active_.erase(it);
    curl_multi_remove_handle(multi_, t->easy);
    Complete(std::move(t), std::move(result));
  }

  std::mutex mu_;
  CURLM* multi_ = nullptr;  // set once under mu_; then used by the loop thread (wakeup: any)
  std::thread thread_;
  bool stopping_ = false;                            // guarded by mu_
  std::vector<std::unique_ptr<Transfer>> incoming_;  // guarded by mu_
  std::vector<uint64_t> stops_;                      // guarded by mu_
  std::atomic<uint64_t> next_id_{1};
  std::unordered_map<uint64_t, std::unique_ptr<Transfer>> active_;  // loop thread only
};

Result<HttpUrl> HttpUrl::Parse(std::string_view url) {
  HttpUrl out;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return Error::Invalid("\"" + std::string(url) + "\" is not an http(s) URL");
  }
  out.scheme = AsciiLower(std::string(url.substr(0, sep)));
  if (out.scheme != "http" && out.scheme != "https") {
    return Error::Invalid("\"" + std::string(url) + "\" must start with http:// or https://");
  }
  std::string_view rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  out.base_path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return Error::Invalid("\"" + std::string(url) + "\" has no usable host");
  }
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    std::string port(authority.substr(colon + 1));
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return Error::Invalid("\"" + std::string(url) + "\" has a bad port");
    }
    out.port = std::stoi(port);
    if (out.port < 1 || out.port > 65535) {
      return Error::Invalid("\"" + std::string(url) + "\" has a bad port");
    }
    out.host = std::string(authority.substr(0, colon));
  } else {
    out.host = std::string(authority);
    out.port = out.scheme == "https" ? 443 : 80;
  }
  if (out.host.empty()) return Error::Invalid("\"" + std::string(url) + "\" has no host");
  return out;
}

std::string HttpUrl::Origin() const { return scheme + "://" + host + ":" + std::to_string(port); }

std::string HttpResponse::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(HttpUrl base, HttpOptions options)
    : base_(std::move(base)), options_(options), loop_(std::make_unique<AsyncLoop>()) {}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

void HttpCancel::Cancel() {
  cancelled_.store(true);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, stop] : in_flight_) stop();
}

uint64_t HttpCancel::Enter(std::function<void()> stop) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_.load()) return 0;
  uint64_t key = next_key_++;
  in_flight_.emplace(key, std::move(stop));
  return key;
}

void HttpCancel::Leave(uint64_t key) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(key);
}

Result<HttpResponse> HttpClient::Post(std::string_view path, const std::string& body,
                                      const std::string& content_type,
                                      const std::map<std::string, std::string>& headers) const {
  httplib::Headers h(headers.begin(), headers.end());
  std::string full = base_.base_path + std::string(path);
  // The body is streamed from `body` rather than copied into the request: with a thousand calls
  // in flight, each waiting on a slow model, every copy of a request counts.
  auto provider = [&body](size_t offset, size_t length, httplib::DataSink& sink) {
    if (offset > body.size()) return false;
    return sink.write(body.data() + offset, std::min(length, body.size() - offset));
  };
  return Send(base_, options_, path, [&](httplib::Client& cli) {
    return cli.Post(full, h, body.size(), provider, content_type);
  });
}

Result<HttpResponse> HttpClient::PostMultipart(
    std::string_view path, const std::vector<HttpFormPart>& parts,
    const std::map<std::string, std::string>& headers) const {
  httplib::Headers h(headers.begin(), headers.end());
  std::string full = base_.base_path + std::string(path);
  httplib::MultipartFormDataItems items;
  items.reserve(parts.size());
  for (const auto& p : parts) items.push_back({p.name, p.content, p.filename, p.content_type});
  return Send(base_, options_, path,
              [&](httplib::Client& cli) { return cli.Post(full, h, items); });
}

Result<HttpResponse> HttpClient::Get(std::string_view path_and_query,
                                     const std::map<std::string, std::string>& headers) const {
  httplib::Headers h(headers.begin(), headers.end());
  std::string full = base_.base_path + std::string(path_and_query);
  return Send(base_, options_, path_and_query,
              [&](httplib::Client& cli) { return cli.Get(full, h); });
}

void HttpClient::PostAsync(std::string_view path, std::string body, const std::string& content_type,
                           const std::map<std::string, std::string>& headers, HttpDone done) const {
  auto t = std::make_unique<Transfer>();
  t->where = Where(base_, path);
  size_t q = path.find('?');
  if (q != std::string_view::npos) t->query = std::string(path.substr(q + 1));
  t->done = std::move(done);
  t->body = std::move(body);
  t->max_response_bytes = options_.max_response_bytes;
  t->https = base_.scheme == "https";
  auto has_line_break = [](const std::string& s) { return s.find_first_of("\r\n") != s.npos; };
  for (const auto& [name, value] : headers) {
    if (name.empty() || has_line_break(name) || has_line_break(value) ||
        name.find(':') != std::string::npos) {
      std::string why = "request to " + t->where + " not sent: bad header \"" + name + "\"";
      return Complete(std::move(t), Error::Invalid(std::move(why)));
    }
  }
  if (has_line_break(content_type)) {
    std::string why = "request to " + t->where + " not sent: bad content type";
    return Complete(std::move(t), Error::Invalid(std::move(why)));
  }

  InitCurlOnce();
  t->easy = curl_easy_init();
  curl_slist* h = curl_slist_append(nullptr, ("Content-Type: " + content_type).c_str());
  // curl would send "Expect: 100-continue" with a body over 1 MiB and wait for an answer to it.
  if (h != nullptr) h = curl_slist_append(h, "Expect:");
  for (const auto& [name, value] : headers) {
    // "Name;" is curl's spelling of a header sent with an empty value.
    if (h != nullptr)
      h = curl_slist_append(h, (name + (value.empty() ? ";" : ": " + value)).c_str());
  }
  t->headers = h;
  if (t->easy == nullptr || h == nullptr) {
    std::string why = "could not connect to " + t->where + ": out of memory";
    return Complete(std::move(t), Error::Unavailable(std::move(why)));
  }
  CURL* e = t->easy;
  std::string url = base_.Origin() + base_.base_path + std::string(path);
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());  // copied by curl
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_PROXY, "");  // as Post(): no proxy from the environment
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.data());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, t.get());
  t->send_window = options_.connect_timeout + options_.write_timeout;
  t->read_timeout = options_.read_timeout;
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t->max_response_bytes));
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferBytes);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  auto total = options_.connect_timeout + options_.write_timeout + options_.read_timeout;
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(total.count()));
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  // Trust the system CA bundle only (Debian's curl also names /etc/ssl/certs, the same
  // certificates): with a CA directory set curl loads the whole bundle again for every connection
  // (measured: about 190 KiB each), without one it loads it once per CURLM and shares it.
  curl_easy_setopt(e, CURLOPT_CAPATH, nullptr);
  // A burst of requests to an HTTP/2 server shares one connection instead of opening one each.
  // Only for https, where ALPN settles the protocol in the handshake: over plain http curl learns
  // it from the first answer, so every request would wait for the one before.
  if (t->https) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);

  t->id = loop_->NextId();
  if (HttpCancel* cancel = options_.cancel) {
    AsyncLoop* loop = loop_.get();
    uint64_t id = t->id;
    t->cancel_key = HttpCancelScope::Enter(*cancel, [loop, id] { loop->Stop(id); });
    if (t->cancel_key == 0) {
      std::string why = "request to " + t->where + " cancelled before it was sent";
      return Complete(std::move(t), Error::UnknownOutcome(std::move(why)));
    }
    t->cancel = cancel;
  }
  loop_->Submit(std::move(t));
}

std::string UrlEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace depositbot
