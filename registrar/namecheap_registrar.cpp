#include "registrar/namecheap_registrar.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <utility>

#include "common/log.h"
#include "common/money.h"
#include "common/text.h"
#include "registrar/namecheap_xml.h"

namespace depositbot {
namespace {

using Kind = RegistrarFailure::Kind;

constexpr int64_t kMicros = 1'000'000;
constexpr int kMaxYears = 10;
constexpr int kListPageSize = 100;
constexpr int kMaxListPages = 1000;

// Namecheap's own Go SDK retries reads on these server-side error numbers.
const std::set<int64_t> kRetryableNumbers = {3050900, 5019169, 5050169, 5050900};

// 2500000000 -> "2500.00"; 9580000 -> "9.58"; 1234567 -> "1.234567".
std::string FormatMicros(int64_t micros) {
  std::string frac = std::to_string(micros % kMicros);
  frac = std::string(6 - frac.size(), '0') + frac;
  while (frac.size() > 2 && frac.back() == '0') frac.pop_back();
  return std::to_string(micros / kMicros) + "." + frac;
}

}  // namespace

struct NamecheapRegistrar::PriceSlot {
  std::mutex mu;  // held while fetching, so concurrent misses for one TLD make one request
  bool loaded = false;
  int64_t fetched_ms = 0;
  std::map<int, std::pair<int64_t, int64_t>> prices;  // years -> (per-year price, per-year fee)
};

Result<std::unique_ptr<NamecheapRegistrar>> NamecheapRegistrar::FromConfig(NamecheapConfig config,
                                                                           Environment& env) {
  auto url = HttpUrl::Parse(config.api_url);
  if (!url) return Error::Invalid("namecheap api_url: " + url.error().message);
  const std::pair<const char*, const std::string*> required[] = {{"api_user", &config.api_user},
                                                                 {"api_key", &config.api_key},
                                                                 {"username", &config.username},
                                                                 {"client_ip", &config.client_ip}};
  for (const auto& [name, value] : required) {
    if (value->empty()) return Error::Invalid(std::string("namecheap ") + name + " is empty");
  }
  if (config.max_read_attempts < 1) {
    return Error::Invalid("namecheap max_read_attempts must be at least 1");
  }
  return std::make_unique<NamecheapRegistrar>(std::move(config), std::move(*url), env);
}

NamecheapRegistrar::NamecheapRegistrar(NamecheapConfig config, HttpUrl url, Environment& env)
    : config_(std::move(config)),
      read_http_(url, config_.http),
      create_http_(url, HttpOptions{config_.http.connect_timeout, config_.create_read_timeout,
                                    config_.http.write_timeout}),
      env_(env) {}

NamecheapRegistrar::~NamecheapRegistrar() = default;

std::string NamecheapRegistrar::Redact(std::string text) const {
  auto replace_all = [&text](const std::string& needle) {
    if (needle.empty()) return;
    for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos)) {
      text.replace(pos, needle.size(), "[redacted]");
      pos += 10;
    }
  };
  replace_all(config_.api_key);
  replace_all(UrlEncode(config_.api_key));
  return text;
}

RegistrarFailure NamecheapRegistrar::Fail(Kind kind, std::string message, int64_t number) const {
  return RegistrarFailure::Make(kind, Redact(std::move(message)), number);
}

RegistrarFailure NamecheapRegistrar::Redacted(RegistrarFailure failure) const {
  failure.message = Redact(std::move(failure.message));
  return failure;
}

// One POST, no retry. Failures carry the code a CREATE would need: kUnknownOutcome whenever the
// server may have acted (sent but no complete answer, HTTP 5xx, unreadable reply, an unclassified
// registrar error). Read() turns those into kUnavailable, since a read changes nothing.
RegistrarResult<std::string> NamecheapRegistrar::SendOnce(const std::string& command,
                                                          const Params& params,
                                                          const HttpClient& http) {
  std::string body = "ApiUser=" + UrlEncode(config_.api_user) +
                     "&ApiKey=" + UrlEncode(config_.api_key) +
                     "&UserName=" + UrlEncode(config_.username) +
                     "&ClientIp=" + UrlEncode(config_.client_ip) + "&Command=" + UrlEncode(command);
  for (const auto& [k, v] : params) body += "&" + UrlEncode(k) + "=" + UrlEncode(v);

  auto response = http.Post("", body, "application/x-www-form-urlencoded");
  if (!response) {
    RegistrarFailure f = Fail(Kind::kTransport, command + ": " + response.error().message);
    f.code = response.code() == ErrorCode::kUnavailable ? ErrorCode::kUnavailable
                                                        : ErrorCode::kUnknownOutcome;
    return f;
  }
  const int status = response->status;
  if (status == 405) {
    // Namecheap rejects a rate-limited call before executing it (its own SDK relies on that).
    return Fail(Kind::kRateLimited, command + " was rate limited (HTTP 405); try again later");
  }
  if (status == 429) {
    // Namecheap never sends 429: something between us answered, and nothing documents whether
    // it passed the command on first.
    RegistrarFailure f = Fail(Kind::kRateLimited, command +
                                                      " was answered HTTP 429 by "
                                                      "something other than Namecheap");
    f.code = ErrorCode::kUnknownOutcome;
    return f;
  }
  if (status >= 500) {
    RegistrarFailure f =
        Fail(Kind::kTransport, command + " failed with HTTP " + std::to_string(status));
    f.code = ErrorCode::kUnknownOutcome;
    return f;
  }

  if (auto failure = CheckNamecheapEnvelope(command, status, response->body)) {
    return Redacted(std::move(*failure));
  }
  return std::move(response->body);
}

RegistrarResult<std::string> NamecheapRegistrar::Read(const std::string& command,
                                                      const Params& params) {
  std::chrono::milliseconds delay = config_.retry_base_delay;
  for (int attempt = 1;; ++attempt) {
    auto r = SendOnce(command, params, read_http_);
    if (r) return r;
    RegistrarFailure f = r.error();
    if (f.code == ErrorCode::kUnknownOutcome) f.code = ErrorCode::kUnavailable;
    bool retryable = f.kind == Kind::kTransport || f.kind == Kind::kRateLimited ||
                     kRetryableNumbers.count(f.number) > 0;
    if (!retryable || attempt >= config_.max_read_attempts) {
      Log(LogLevel::kWarn, "registrar_read_failed",
          {{"registrar", "namecheap"},
           {"command", command},
           {"attempts", std::to_string(attempt)},
           {"kind", std::string(RegistrarFailureKindName(f.kind))},
           {"error", f.message}});
      return f;
    }
    Log(LogLevel::kInfo, "registrar_retry",
        {{"registrar", "namecheap"},
         {"command", command},
         {"attempt", std::to_string(attempt)},
         {"delay_ms", std::to_string(delay.count())},
         {"error", f.message}});
    env_.Sleep(delay);
    delay *= 2;
  }
}

RegistrarResult<std::vector<DomainAvailability>> NamecheapRegistrar::Check(
    const std::vector<std::string>& domains) {
  std::vector<DomainAvailability> out;
  out.reserve(domains.size());
  for (size_t start = 0; start < domains.size(); start += kCheckBatchLimit) {
    size_t end = std::min(domains.size(), start + kCheckBatchLimit);
    std::string list;
    for (size_t i = start; i < end; ++i) list += (i == start ? "" : ",") + domains[i];
    auto reply = Read("namecheap.domains.check", {{"DomainList", list}});
    if (!reply) return reply.error();
    auto batch = ParseCheckResponse(
        *reply, std::vector<std::string>(domains.begin() + start, domains.begin() + end));
    if (!batch) return Redacted(batch.error());
    out.insert(out.end(), batch->begin(), batch->end());
  }
  return out;
}

RegistrarResult<std::vector<TldOffer>> NamecheapRegistrar::OfferedTlds() {
  std::lock_guard<std::mutex> lock(tld_mu_);
  const int64_t now = env_.NowMillis();
  const int64_t ttl_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.tld_list_ttl).count();
  if (!tlds_loaded_ || now - tlds_fetched_ms_ >= ttl_ms || now < tlds_fetched_ms_) {
    auto reply = Read("namecheap.domains.getTldList", {});
    if (!reply) return reply.error();  // failures are not cached
    auto parsed = ParseTldListResponse(*reply);
    if (!parsed) {
      RegistrarFailure f = Redacted(parsed.error());
      f.code = ErrorCode::kUnavailable;
      Log(LogLevel::kWarn, "registrar_read_failed",
          {{"registrar", "namecheap"},
           {"command", "namecheap.domains.getTldList"},
           {"error", f.message}});
      return f;
    }
    tlds_ = std::move(*parsed);
    tlds_fetched_ms_ = now;
    tlds_loaded_ = true;
  }
  return tlds_;
}

RegistrarResult<std::map<int, std::pair<int64_t, int64_t>>> NamecheapRegistrar::FetchPrices(
    const std::string& tld) {
  auto reply = Read("namecheap.users.getPricing", {{"ProductType", "DOMAIN"},
                                                   {"ProductCategory", "DOMAINS"},
                                                   {"ActionName", "REGISTER"},
                                                   {"ProductName", tld}});
  if (!reply) return reply.error();
  auto prices = ParsePricingResponse(*reply, tld);
  if (!prices) return Redacted(prices.error());
  return std::move(*prices);
}

RegistrarResult<PriceQuote> NamecheapRegistrar::Price(std::string_view tld_in, int years) {
  std::string tld = AsciiLower(tld_in);
  if (!tld.empty() && tld.front() == '.') tld.erase(0, 1);
  if (tld.empty() || !std::all_of(tld.begin(), tld.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
      })) {
    return Fail(Kind::kInvalidRequest, "\"" + std::string(tld_in) + "\" is not a TLD");
  }
  if (years < 1 || years > kMaxYears) {
    return Fail(Kind::kInvalidRequest,
                "a domain can be registered for 1 to 10 years, not " + std::to_string(years));
  }

  std::shared_ptr<PriceSlot> slot;
  {
    std::lock_guard<std::mutex> lock(price_mu_);
    auto& s = price_slots_[tld];
    if (!s) s = std::make_shared<PriceSlot>();
    slot = s;
  }
  std::lock_guard<std::mutex> lock(slot->mu);
  const int64_t now = env_.NowMillis();
  const int64_t ttl_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.pricing_ttl).count();
  if (!slot->loaded || now - slot->fetched_ms >= ttl_ms || now < slot->fetched_ms) {
    auto fetched = FetchPrices(tld);
    if (!fetched) return fetched.error();  // failures are not cached
    slot->prices = std::move(*fetched);
    slot->fetched_ms = now;
    slot->loaded = true;
  }
  auto it = slot->prices.find(years);
  if (it == slot->prices.end()) {
    return Fail(Kind::kInvalidRequest,
                "namecheap does not sell ." + tld + " for " + std::to_string(years) + " years");
  }
  // Namecheap quotes each duration's price per year.
  PriceQuote q;
  q.tld = tld;
  q.years = years;
  q.per_year_usd_micros = it->second.first;
  q.icann_fee_per_year_usd_micros = it->second.second;
  q.registration_usd_micros = q.per_year_usd_micros * years;
  q.icann_fee_usd_micros = q.icann_fee_per_year_usd_micros * years;
  q.total_usd_micros = q.registration_usd_micros + q.icann_fee_usd_micros;
  return q;
}

RegistrarResult<CreateResult> NamecheapRegistrar::Create(const CreateRequest& request) {
  if (request.domain.empty() || request.domain.find('.') == std::string::npos) {
    return Fail(Kind::kInvalidRequest, "\"" + request.domain + "\" is not a domain name");
  }
  if (request.years < 1 || request.years > kMaxYears) {
    return Fail(Kind::kInvalidRequest, "a domain can be registered for 1 to 10 years, not " +
                                           std::to_string(request.years));
  }
  if (request.premium_price_usd_micros < 0) {
    return Fail(Kind::kInvalidRequest, "a premium price cannot be negative");
  }
  if (Status contact = ValidateContact(config_.contact); !contact) {
    return Fail(Kind::kInvalidRequest, "cannot register domains: " + contact.error().message +
                                           " (configure the Namecheap contact)");
  }

  // The language is derived from the name alone (no Public Suffix List), so an order quoted
  // under one list is sent the same way under another.
  auto idn_code = IdnLanguageOf(request.domain);
  if (!idn_code) {
    return Fail(Kind::kInvalidRequest,
                "cannot register " + request.domain + ": " + idn_code.error().message);
  }
  Params params = {{"DomainName", request.domain}, {"Years", std::to_string(request.years)}};
  if (!idn_code->empty()) params.emplace_back("IdnCode", *idn_code);
  const NamecheapContact& c = config_.contact;
  for (const char* role : {"Registrant", "Tech", "Admin", "AuxBilling"}) {
    std::string p = role;
    params.insert(params.end(), {{p + "FirstName", c.first_name},
                                 {p + "LastName", c.last_name},
                                 {p + "Address1", c.address1},
                                 {p + "City", c.city},
                                 {p + "StateProvince", c.state_province},
                                 {p + "PostalCode", c.postal_code},
                                 {p + "Country", c.country},
                                 {p + "Phone", c.phone},
                                 {p + "EmailAddress", c.email}});
    if (!c.organization.empty()) params.emplace_back(p + "OrganizationName", c.organization);
    if (!c.address2.empty()) params.emplace_back(p + "Address2", c.address2);
  }
  params.emplace_back("AddFreeWhoisguard", config_.whois_privacy ? "yes" : "no");
  params.emplace_back("WGEnabled", config_.whois_privacy ? "yes" : "no");
  if (request.premium_price_usd_micros > 0) {
    params.emplace_back("IsPremiumDomain", "true");
    params.emplace_back("PremiumPrice", FormatMicros(request.premium_price_usd_micros));
  }

  const std::string command = "namecheap.domains.create";
  auto log_failure = [&](const RegistrarFailure& f) {
    Log(f.OutcomeUnknown() ? LogLevel::kError : LogLevel::kWarn, "registrar_create_failed",
        {{"registrar", "namecheap"},
         {"domain", request.domain},
         {"outcome", f.OutcomeUnknown() ? "unknown" : "definite"},
         {"kind", std::string(RegistrarFailureKindName(f.kind))},
         {"number", std::to_string(f.number)},
         {"error", f.message}});
  };
  // Sent exactly once: a timeout here may hide a registration that did happen.
  auto reply = SendOnce(command, params, create_http_);
  if (!reply) {
    log_failure(reply.error());
    return reply.error();
  }
  auto parsed = ParseCreateResponse(*reply, request.domain);
  if (!parsed) {
    RegistrarFailure f = Redacted(parsed.error());
    log_failure(f);
    return f;
  }
  CreateResult& out = *parsed;
  Log(LogLevel::kInfo, "registrar_created",
      {{"registrar", "namecheap"},
       {"domain", out.domain},
       {"years", std::to_string(request.years)},
       {"charged_usd", FormatMicros(out.charged_usd_micros)},
       {"order_id", out.order_id}});
  return out;
}

RegistrarResult<DomainInfo> NamecheapRegistrar::GetInfo(std::string_view domain) {
  // Recovery refunds on kNotFound, so only a plain "not in this account" answer is one.
  auto reply = Read("namecheap.domains.getInfo", {{"DomainName", std::string(domain)}});
  if (!reply) return InfoFailure(reply.error());
  auto info = ParseInfoResponse(*reply);
  if (!info) return Redacted(InfoFailure(info.error()));
  if (CanonicalDomainSpelling(info->domain) != CanonicalDomainSpelling(domain)) {
    return Fail(Kind::kMalformedResponse, "namecheap domains.getInfo for " + std::string(domain) +
                                              " answered about " + info->domain);
  }
  return std::move(*info);
}

RegistrarResult<std::vector<DomainInfo>> NamecheapRegistrar::List() {
  std::vector<DomainInfo> out;
  for (int page = 1; page <= kMaxListPages; ++page) {
    auto reply = Read("namecheap.domains.getList", {{"ListType", "ALL"},
                                                    {"Page", std::to_string(page)},
                                                    {"PageSize", std::to_string(kListPageSize)},
                                                    {"SortBy", "NAME"}});
    if (!reply) return reply.error();
    auto parsed = ParseListResponse(*reply);
    if (!parsed) return Redacted(parsed.error());
    for (DomainInfo& info : parsed->domains) out.push_back(std::move(info));
    if (parsed->last) return out;
  }
  return out;
}

RegistrarResult<AccountBalance> NamecheapRegistrar::Balance() {
  auto reply = Read("namecheap.users.getBalances", {});
  if (!reply) return reply.error();
  auto balance = ParseBalancesResponse(*reply);
  if (!balance) return Redacted(balance.error());
  return std::move(*balance);
}

}  // namespace depositbot
