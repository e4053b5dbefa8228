#include "registrar/namecheap_registrar.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <pugixml.hpp>
#include <set>
#include <thread>
#include <utility>

#include "common/log.h"
#include "common/money.h"

namespace depositbot {
namespace {

using Kind = RegistrarFailure::Kind;

constexpr int64_t kMicros = 1'000'000;
constexpr int kMaxYears = 10;
constexpr int kListPageSize = 100;
constexpr int kMaxListPages = 1000;

// Namecheap's own Go SDK retries reads on these server-side error numbers.
const std::set<int64_t> kRetryableNumbers = {3050900, 5019169, 5050169, 5050900};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Elements are matched by local name: some replies carry the default namespace, some do not,
// and a prefixed one ("nc:ApiResponse") must not break us either.
std::string_view LocalName(const pugi::xml_node& node) {
  std::string_view name = node.name();
  size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node Child(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && EqualsNoCase(LocalName(c), name)) return c;
  }
  return {};
}

std::vector<pugi::xml_node> Children(const pugi::xml_node& node, std::string_view name) {
  std::vector<pugi::xml_node> out;
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && EqualsNoCase(LocalName(c), name)) out.push_back(c);
  }
  return out;
}

// Depth-first search below `node` (single results are not always where the docs put them).
pugi::xml_node Descendant(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    if (EqualsNoCase(LocalName(c), name)) return c;
    if (pugi::xml_node d = Descendant(c, name)) return d;
  }
  return {};
}

void Descendants(const pugi::xml_node& node, std::string_view name,
                 std::vector<pugi::xml_node>& out) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() != pugi::node_element) continue;
    if (EqualsNoCase(LocalName(c), name)) {
      out.push_back(c);
    } else {
      Descendants(c, name, out);
    }
  }
}

std::optional<std::string> Attr(const pugi::xml_node& node, std::string_view name) {
  for (pugi::xml_attribute a = node.first_attribute(); a; a = a.next_attribute()) {
    if (EqualsNoCase(a.name(), name)) return std::string(a.value());
  }
  return std::nullopt;
}

std::string Text(const pugi::xml_node& node) {
  std::string s = node.text().get();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// Booleans arrive as true/false, True/False, yes/no; anything else is "not a boolean".
std::optional<bool> ParseBool(std::string_view s) {
  if (EqualsNoCase(s, "true") || EqualsNoCase(s, "yes")) return true;
  if (EqualsNoCase(s, "false") || EqualsNoCase(s, "no")) return false;
  return std::nullopt;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "07/30/2024" -> "2024-07-30"; other text is returned as given.
std::string IsoDate(const std::string& us) {
  if (us.size() == 10 && us[2] == '/' && us[5] == '/') {
    std::string mm = us.substr(0, 2), dd = us.substr(3, 2), yyyy = us.substr(6, 4);
    if (ParseInt(mm) && ParseInt(dd) && ParseInt(yyyy)) return yyyy + "-" + mm + "-" + dd;
  }
  return us;
}

// 2500000000 -> "2500.00"; 9580000 -> "9.58"; 1234567 -> "1.234567".
std::string FormatMicros(int64_t micros) {
  std::string frac = std::to_string(micros % kMicros);
  frac = std::string(6 - frac.size(), '0') + frac;
  while (frac.size() > 2 && frac.back() == '0') frac.pop_back();
  return std::to_string(micros / kMicros) + "." + frac;
}

// A short, printable prefix of a body for error messages.
std::string Snippet(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 60)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : ' ';
  }
  if (body.size() > 60) out += "...";
  return out;
}

bool IsPhone(std::string_view p) {
  // +<1-3 digit country code>.<4-20 digits>
  if (p.size() < 4 || p[0] != '+') return false;
  size_t dot = p.find('.');
  if (dot == std::string_view::npos || dot < 2 || dot > 4) return false;
  std::string_view cc = p.substr(1, dot - 1), num = p.substr(dot + 1);
  auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  return digits(cc) && digits(num) && num.size() >= 4 && num.size() <= 20;
}

}  // namespace

class NamecheapRegistrar::ParsedReply {
 public:
  pugi::xml_document doc;
  pugi::xml_node command_response;
};

struct NamecheapRegistrar::PriceSlot {
  std::mutex mu;  // held while fetching, so concurrent misses for one TLD make one request
  bool loaded = false;
  int64_t fetched_ms = 0;
  std::map<int, std::pair<int64_t, int64_t>> prices;  // years -> (per-year price, per-year fee)
};

Result<std::unique_ptr<NamecheapRegistrar>> NamecheapRegistrar::FromConfig(NamecheapConfig config,
                                                                           const Clock& clock,
                                                                           SleepFn sleep) {
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
  if (!sleep) sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  return std::make_unique<NamecheapRegistrar>(std::move(config), std::move(*url), clock,
                                              std::move(sleep));
}

NamecheapRegistrar::NamecheapRegistrar(NamecheapConfig config, HttpUrl url, const Clock& clock,
                                       SleepFn sleep)
    : config_(std::move(config)),
      read_http_(url, config_.http),
      create_http_(url, HttpOptions{config_.http.connect_timeout, config_.create_read_timeout,
                                    config_.http.write_timeout}),
      clock_(clock),
      sleep_(std::move(sleep)) {}

NamecheapRegistrar::~NamecheapRegistrar() = default;

Status NamecheapRegistrar::ValidateContact(const NamecheapContact& c) {
  const std::pair<const char*, const std::string*> required[] = {
      {"first name", &c.first_name},
      {"last name", &c.last_name},
      {"address", &c.address1},
      {"city", &c.city},
      {"state/province", &c.state_province},
      {"postal code", &c.postal_code},
      {"country", &c.country},
      {"phone", &c.phone},
      {"email", &c.email}};
  for (const auto& [name, value] : required) {
    if (value->empty()) {
      return Error::Invalid(std::string("the registrant contact has no ") + name);
    }
  }
  if (c.country.size() != 2 || !std::isalpha(static_cast<unsigned char>(c.country[0])) ||
      !std::isalpha(static_cast<unsigned char>(c.country[1]))) {
    return Error::Invalid("the registrant contact's country must be a two-letter code like US");
  }
  if (!IsPhone(c.phone)) {
    return Error::Invalid(
        "the registrant contact's phone must look like +1.6613102107 "
        "(country code, a dot, the number)");
  }
  if (c.email.find('@') == std::string::npos) {
    return Error::Invalid("the registrant contact's email has no @");
  }
  return Status::Ok();
}

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

// One POST, no retry. Failures carry the code a CREATE would need: kUnknownOutcome whenever the
// server may have acted (sent but no complete answer, HTTP 5xx, unreadable reply, an unclassified
// registrar error). Read() turns those into kUnavailable, since a read changes nothing.
RegistrarResult<std::shared_ptr<NamecheapRegistrar::ParsedReply>> NamecheapRegistrar::SendOnce(
    const std::string& command, const Params& params, const HttpClient& http) {
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
  if (status == 405 || status == 429) {
    // Namecheap rejects a rate-limited call before executing it.
    return Fail(Kind::kRateLimited, command + " was rate limited (HTTP " + std::to_string(status) +
                                        "); try again later");
  }
  if (status >= 500) {
    RegistrarFailure f =
        Fail(Kind::kTransport, command + " failed with HTTP " + std::to_string(status));
    f.code = ErrorCode::kUnknownOutcome;
    return f;
  }

  auto reply = std::make_shared<ParsedReply>();
  pugi::xml_parse_result parsed =
      reply->doc.load_buffer(response->body.data(), response->body.size());
  pugi::xml_node root = reply->doc.document_element();
  if (!parsed || !root || LocalName(root) != "ApiResponse") {
    if (status != 200) {
      return Fail(Kind::kTransport, command + " answered HTTP " + std::to_string(status) +
                                        " without an API response");
    }
    RegistrarFailure f =
        Fail(Kind::kMalformedResponse, command + " answered with a body that is not an " +
                                           "XML ApiResponse: \"" + Snippet(response->body) + "\"");
    f.code = ErrorCode::kUnknownOutcome;
    return f;
  }

  std::vector<pugi::xml_node> errors;
  if (pugi::xml_node list = Child(root, "Errors")) errors = Children(list, "Error");
  const std::string api_status = Attr(root, "Status").value_or("");
  if (EqualsNoCase(api_status, "ERROR") || !errors.empty()) {
    std::string message = command + " failed:";
    int64_t number = 0;
    Kind kind = Kind::kOther;
    for (const auto& e : errors) {
      int64_t n = ParseInt(Attr(e, "Number").value_or("")).value_or(0);
      std::string text = Text(e);
      Kind k = ClassifyNamecheapError(n, text);
      if (number == 0 || (kind == Kind::kOther && k != Kind::kOther)) {
        number = n;
        kind = k;
      }
      message += " [" + std::to_string(n) + "] " + text;
    }
    if (errors.empty()) message += " Status=ERROR without an Error element";
    RegistrarFailure f = Fail(kind, message, number);
    if (kind == Kind::kOther) f.code = ErrorCode::kUnknownOutcome;
    return f;
  }
  if (!EqualsNoCase(api_status, "OK")) {
    RegistrarFailure f =
        Fail(Kind::kMalformedResponse, command + " answered with Status=\"" + api_status + "\"");
    f.code = ErrorCode::kUnknownOutcome;
    return f;
  }
  reply->command_response = Child(root, "CommandResponse");
  if (!reply->command_response) {
    RegistrarFailure f =
        Fail(Kind::kMalformedResponse, command + " answered OK without a " + "CommandResponse");
    f.code = ErrorCode::kUnknownOutcome;
    return f;
  }
  return reply;
}

RegistrarResult<std::shared_ptr<NamecheapRegistrar::ParsedReply>> NamecheapRegistrar::Read(
    const std::string& command, const Params& params) {
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
    sleep_(delay);
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

    std::vector<pugi::xml_node> nodes;
    Descendants((*reply)->command_response, "DomainCheckResult", nodes);
    std::map<std::string, DomainAvailability> by_name;
    for (const auto& node : nodes) {
      auto name = Attr(node, "Domain");
      auto available = Attr(node, "Available");
      if (!name || !available) {
        return Fail(Kind::kMalformedResponse, "namecheap domains.check result lacks the " +
                                                  std::string(!name ? "Domain" : "Available") +
                                                  " attribute");
      }
      DomainAvailability a;
      a.domain = Lower(*name);
      std::optional<bool> avail = ParseBool(*available);
      std::string error_no = Attr(node, "ErrorNo").value_or("0");
      if (!avail || (error_no != "0" && !error_no.empty())) {
        a.unknown = true;
        a.available = false;
        a.note = Attr(node, "Description").value_or("");
        if (a.note.empty()) a.note = "the registry gave no clear answer";
      } else {
        a.available = *avail;
      }
      a.premium = ParseBool(Attr(node, "IsPremiumName").value_or("false")).value_or(false);
      auto money = [&](const char* attr, bool required, int64_t& field) -> bool {
        auto text = Attr(node, attr);
        if (!text || text->empty()) return !required;
        auto v = ParseDecimal(*text, 6);
        if (!v) return false;
        field = *v;
        return true;
      };
      if (!money("PremiumRegistrationPrice", a.premium, a.premium_price_usd_micros) ||
          !money("PremiumRenewalPrice", false, a.premium_renewal_usd_micros) ||
          !money("IcannFee", false, a.icann_fee_usd_micros) ||
          !money("EapFee", false, a.eap_fee_usd_micros)) {
        return Fail(Kind::kMalformedResponse, "namecheap domains.check result for " + a.domain +
                                                  " has a missing or unreadable price");
      }
      if (!a.premium) {
        a.premium_price_usd_micros = 0;
        a.premium_renewal_usd_micros = 0;
      }
      by_name[a.domain] = std::move(a);
    }
    for (size_t i = start; i < end; ++i) {
      auto it = by_name.find(Lower(domains[i]));
      if (it == by_name.end()) {
        return Fail(Kind::kMalformedResponse,
                    "namecheap domains.check answered without a result for " + domains[i]);
      }
      out.push_back(it->second);
    }
  }
  return out;
}

RegistrarResult<std::map<int, std::pair<int64_t, int64_t>>> NamecheapRegistrar::FetchPrices(
    const std::string& tld) {
  auto reply = Read("namecheap.users.getPricing", {{"ProductType", "DOMAIN"},
                                                   {"ProductCategory", "DOMAINS"},
                                                   {"ActionName", "REGISTER"},
                                                   {"ProductName", tld}});
  if (!reply) return reply.error();
  pugi::xml_node result = Descendant((*reply)->command_response, "UserGetPricingResult");
  if (!result) {
    return Fail(Kind::kMalformedResponse,
                "namecheap users.getPricing answered without UserGetPricingResult");
  }
  std::map<int, std::pair<int64_t, int64_t>> prices;
  // ProductType / ProductCategory (the action) / Product (the TLD) / Price (one per duration).
  // Names arrive in either case; the ProductType name is not relied on.
  std::vector<pugi::xml_node> categories;
  Descendants(result, "ProductCategory", categories);
  for (const auto& category : categories) {
    if (!EqualsNoCase(Attr(category, "Name").value_or(""), "register")) continue;
    for (const auto& product : Children(category, "Product")) {
      if (!EqualsNoCase(Attr(product, "Name").value_or(""), tld)) continue;
      for (const auto& price : Children(product, "Price")) {
        auto duration = ParseInt(Attr(price, "Duration").value_or(""));
        if (!duration) {
          return Fail(Kind::kMalformedResponse,
                      "namecheap price for ." + tld + " lacks a readable Duration");
        }
        std::string type = Attr(price, "DurationType").value_or("YEAR");
        if (!EqualsNoCase(type, "YEAR")) continue;
        // Price is the final price; empty or zero falls back to YourPrice, then RegularPrice.
        std::optional<int64_t> amount;
        bool any_attribute = false;
        for (const char* name : {"Price", "YourPrice", "RegularPrice"}) {
          auto text = Attr(price, name);
          if (!text) continue;
          any_attribute = true;
          if (text->empty()) continue;
          auto v = ParseDecimal(*text, 6);
          if (!v) {
            return Fail(Kind::kMalformedResponse, "namecheap price for ." + tld + " has an " +
                                                      "unreadable " + name + " \"" + *text + "\"");
          }
          if (*v > 0) {
            amount = *v;
            break;
          }
        }
        if (!amount) {
          return Fail(Kind::kMalformedResponse,
                      "namecheap price for ." + tld + " (" + std::to_string(*duration) +
                          " years) has " + (any_attribute ? "no non-zero" : "no") + " price");
        }
        int64_t fee = 0;
        // "YourAdditonalCost" is Namecheap's live spelling; accept the fixed one too.
        for (const char* name : {"YourAdditonalCost", "YourAdditionalCost", "AdditionalCost"}) {
          auto text = Attr(price, name);
          if (!text || text->empty()) continue;
          auto v = ParseDecimal(*text, 6);
          if (!v) {
            return Fail(Kind::kMalformedResponse,
                        "namecheap price for ." + tld + " has an unreadable " + name);
          }
          fee = *v;
          break;
        }
        prices[static_cast<int>(*duration)] = {*amount, fee};
      }
    }
  }
  if (prices.empty()) {
    return Fail(Kind::kInvalidRequest, "namecheap has no registration price for ." + tld);
  }
  return prices;
}

RegistrarResult<PriceQuote> NamecheapRegistrar::Price(std::string_view tld_in, int years) {
  std::string tld = Lower(tld_in);
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
  const int64_t now = clock_.NowMillis();
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

  Params params = {{"DomainName", request.domain}, {"Years", std::to_string(request.years)}};
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
  auto malformed = [&](const std::string& what) {
    RegistrarFailure f =
        Fail(Kind::kMalformedResponse, "namecheap domains.create for " + request.domain + " " +
                                           what + "; whether it was registered is unknown");
    f.code = ErrorCode::kUnknownOutcome;
    log_failure(f);
    return f;
  };
  pugi::xml_node node = Descendant((*reply)->command_response, "DomainCreateResult");
  if (!node) return malformed("answered without DomainCreateResult");
  auto registered_text = Attr(node, "Registered");
  auto charged_text = Attr(node, "ChargedAmount");
  if (!registered_text) return malformed("answered without the Registered attribute");
  std::optional<bool> registered = ParseBool(*registered_text);
  if (!registered) return malformed("answered Registered=\"" + *registered_text + "\"");
  if (!*registered) {
    // Accepted but not (yet) registered, e.g. NonRealTimeDomain="true": only the registrar can
    // later say how it ended.
    RegistrarFailure f = Fail(Kind::kOther, "namecheap accepted the order for " + request.domain +
                                                " but has not confirmed the registration yet");
    f.code = ErrorCode::kUnknownOutcome;
    log_failure(f);
    return f;
  }
  if (!charged_text) return malformed("answered without the ChargedAmount attribute");
  auto charged = ParseDecimal(*charged_text, 6);
  if (!charged) return malformed("answered an unreadable ChargedAmount");

  CreateResult out;
  out.domain = Lower(Attr(node, "Domain").value_or(request.domain));
  out.registered = true;
  out.charged_usd_micros = *charged;
  out.domain_id = Attr(node, "DomainID").value_or("");
  out.order_id = Attr(node, "OrderID").value_or("");
  out.transaction_id = Attr(node, "TransactionID").value_or("");
  Log(LogLevel::kInfo, "registrar_created",
      {{"registrar", "namecheap"},
       {"domain", out.domain},
       {"years", std::to_string(request.years)},
       {"charged_usd", FormatMicros(out.charged_usd_micros)},
       {"order_id", out.order_id}});
  return out;
}

RegistrarResult<DomainInfo> NamecheapRegistrar::GetInfo(std::string_view domain) {
  auto reply = Read("namecheap.domains.getInfo", {{"DomainName", std::string(domain)}});
  if (!reply) return reply.error();
  pugi::xml_node node = Descendant((*reply)->command_response, "DomainGetInfoResult");
  if (!node) {
    return Fail(Kind::kMalformedResponse,
                "namecheap domains.getInfo answered without DomainGetInfoResult");
  }
  auto name = Attr(node, "DomainName");
  auto is_owner = Attr(node, "IsOwner");
  if (!name || !is_owner || !ParseBool(*is_owner)) {
    return Fail(Kind::kMalformedResponse, "namecheap domains.getInfo result lacks a readable " +
                                              std::string(!name ? "DomainName" : "IsOwner") +
                                              " attribute");
  }
  DomainInfo info;
  info.domain = Lower(*name);
  info.status = Attr(node, "Status").value_or("");
  info.is_ours = *ParseBool(*is_owner);
  info.is_premium = ParseBool(Attr(node, "IsPremium").value_or("false")).value_or(false);
  info.domain_id = Attr(node, "ID").value_or("");
  if (pugi::xml_node details = Child(node, "DomainDetails")) {
    info.created_date = IsoDate(Text(Child(details, "CreatedDate")));
    info.expires_date = IsoDate(Text(Child(details, "ExpiredDate")));
  }
  return info;
}

RegistrarResult<std::vector<DomainInfo>> NamecheapRegistrar::List() {
  std::vector<DomainInfo> out;
  for (int page = 1; page <= kMaxListPages; ++page) {
    auto reply = Read("namecheap.domains.getList", {{"ListType", "ALL"},
                                                    {"Page", std::to_string(page)},
                                                    {"PageSize", std::to_string(kListPageSize)},
                                                    {"SortBy", "NAME"}});
    if (!reply) return reply.error();
    pugi::xml_node result = Descendant((*reply)->command_response, "DomainGetListResult");
    if (!result) {
      return Fail(Kind::kMalformedResponse,
                  "namecheap domains.getList answered without DomainGetListResult");
    }
    std::vector<pugi::xml_node> domains = Children(result, "Domain");
    for (const auto& d : domains) {
      auto name = Attr(d, "Name");
      if (!name) {
        return Fail(Kind::kMalformedResponse,
                    "namecheap domains.getList has a Domain without a Name attribute");
      }
      DomainInfo info;
      info.domain = Lower(*name);
      info.is_ours = true;  // getList only lists this account's domains
      info.domain_id = Attr(d, "ID").value_or("");
      info.created_date = IsoDate(Attr(d, "Created").value_or(""));
      info.expires_date = IsoDate(Attr(d, "Expires").value_or(""));
      info.is_premium = ParseBool(Attr(d, "IsPremium").value_or("false")).value_or(false);
      if (ParseBool(Attr(d, "IsExpired").value_or("false")).value_or(false)) {
        info.status = "Expired";
      } else if (ParseBool(Attr(d, "IsLocked").value_or("false")).value_or(false)) {
        info.status = "Locked";
      } else {
        info.status = "Ok";
      }
      out.push_back(std::move(info));
    }
    pugi::xml_node paging = Descendant((*reply)->command_response, "Paging");
    auto total = ParseInt(Text(Child(paging, "TotalItems")));
    auto current = ParseInt(Text(Child(paging, "CurrentPage")));
    auto size = ParseInt(Text(Child(paging, "PageSize")));
    if (domains.empty() || !total || !current || !size || *size == 0 ||
        *current * *size >= *total) {
      return out;
    }
  }
  return out;
}

RegistrarResult<AccountBalance> NamecheapRegistrar::Balance() {
  auto reply = Read("namecheap.users.getBalances", {});
  if (!reply) return reply.error();
  pugi::xml_node node = Descendant((*reply)->command_response, "UserGetBalancesResult");
  if (!node) {
    return Fail(Kind::kMalformedResponse,
                "namecheap users.getBalances answered without UserGetBalancesResult");
  }
  AccountBalance b;
  b.currency = Attr(node, "Currency").value_or("USD");
  const std::pair<const char*, int64_t*> fields[] = {
      {"AvailableBalance", &b.available_usd_micros},
      {"AccountBalance", &b.account_balance_usd_micros},
      {"FundsRequiredForAutoRenew", &b.funds_required_for_auto_renew_usd_micros}};
  for (const auto& [name, field] : fields) {
    auto text = Attr(node, name);
    bool required = std::string_view(name) != "FundsRequiredForAutoRenew";
    if (!text || text->empty()) {
      if (required) {
        return Fail(Kind::kMalformedResponse,
                    std::string("namecheap users.getBalances lacks the ") + name + " attribute");
      }
      continue;
    }
    auto v = ParseDecimal(*text, 6);
    if (!v) {
      return Fail(Kind::kMalformedResponse,
                  std::string("namecheap users.getBalances has an unreadable ") + name);
    }
    *field = *v;
  }
  return b;
}

}  // namespace depositbot
