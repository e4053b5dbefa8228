#include "common/http_client.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>

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
    : base_(std::move(base)), options_(options) {}
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
