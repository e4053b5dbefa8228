#include "registrar/demo_registrar.h"

#include <algorithm>
#include <array>
#include <cstdlib>

#include "common/money.h"
#include "common/text.h"

namespace depositbot {
namespace {

using Kind = RegistrarFailure::Kind;

constexpr int kMaxYears = 10;

std::string_view FirstLabel(std::string_view domain) { return domain.substr(0, domain.find('.')); }

std::string IsoDateUtc(int64_t unix_seconds) {
  return FormatUtc(unix_seconds).substr(0, 10);  // "2026-11-28T23:13:36Z" -> "2026-11-28"
}

std::string AddYears(const std::string& iso_date, int years) {
  int year = std::atoi(iso_date.substr(0, 4).c_str()) + years;
  std::string rest = iso_date.substr(4);
  if (rest == "-02-29") rest = "-02-28";
  return std::to_string(year) + rest;
}

}  // namespace

DemoRegistrar::DemoRegistrar(const Clock& clock, DomainNameRules rules)
    : clock_(clock), rules_(std::move(rules)) {
  const std::pair<const char*, const char*> kPrices[] = {
      {"com", "10.28"},   {"net", "12.48"}, {"org", "9.98"},   {"io", "39.98"},
      {"dev", "14.98"},   {"app", "16.98"}, {"xyz", "1.98"},   {"info", "3.98"},
      {"biz", "6.98"},    {"me", "8.98"},   {"co", "11.98"},   {"kr", "19.98"},
      {"co.kr", "21.98"}, {"uk", "8.48"},   {"co.uk", "7.98"}, {"de", "6.98"}};
  for (const auto& [tld, price] : kPrices) prices_[tld] = *ParseDecimal(price, 6);
}

bool DemoRegistrar::TakenByRule(std::string_view domain) {
  static constexpr std::array<std::string_view, 6> kTaken = {"example", "google",    "facebook",
                                                             "amazon",  "namecheap", "test"};
  std::string_view label = FirstLabel(domain);
  return label.size() < 4 || std::find(kTaken.begin(), kTaken.end(), label) != kTaken.end();
}

bool DemoRegistrar::PremiumByRule(std::string_view domain) {
  static constexpr std::array<std::string_view, 5> kPremium = {"shop", "cloud", "crypto", "money",
                                                               "games"};
  std::string_view label = FirstLabel(domain);
  return std::find(kPremium.begin(), kPremium.end(), label) != kPremium.end();
}

DomainAvailability DemoRegistrar::Availability(const std::string& domain) const {
  DomainAvailability a;
  a.domain = domain;
  a.available = !TakenByRule(domain) && registered_.count(domain) == 0;
  if (a.available && PremiumByRule(domain)) {
    a.premium = true;
    a.premium_price_usd_micros = kPremiumPriceUsdMicros;
    a.premium_renewal_usd_micros = kPremiumPriceUsdMicros;
  }
  return a;
}

RegistrarResult<std::vector<DomainAvailability>> DemoRegistrar::Check(
    const std::vector<std::string>& domains) {
  std::vector<DomainAvailability> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& d : domains) {
    auto name = rules_.Parse(d);
    if (!name) return RegistrarFailure::FromError(name.error(), Kind::kInvalidRequest);
    if (prices_.count(name->suffix) == 0) {
      return RegistrarFailure::Make(Kind::kInvalidRequest,
                                    "the demo registrar has no price for " + name->ascii);
    }
    out.push_back(Availability(name->ascii));
  }
  return out;
}

RegistrarResult<std::vector<TldOffer>> DemoRegistrar::OfferedTlds() {
  std::vector<TldOffer> out;
  for (const auto& [tld, price] : prices_) out.push_back(TldOffer{tld, true, 1, kMaxYears});
  return out;
}

RegistrarResult<PriceQuote> DemoRegistrar::Price(std::string_view tld_in, int years) {
  std::string tld = AsciiLower(tld_in);
  if (!tld.empty() && tld.front() == '.') tld.erase(0, 1);
  auto it = prices_.find(tld);
  if (it == prices_.end()) {
    return RegistrarFailure::Make(Kind::kInvalidRequest,
                                  "the demo registrar does not sell ." + tld + " domains");
  }
  if (years < 1 || years > kMaxYears) {
    return RegistrarFailure::Make(
        Kind::kInvalidRequest,
        "a domain can be registered for 1 to 10 years, not " + std::to_string(years));
  }
  PriceQuote q;
  q.tld = tld;
  q.years = years;
  q.per_year_usd_micros = it->second;
  q.registration_usd_micros = it->second * years;
  q.total_usd_micros = q.registration_usd_micros;
  return q;
}

RegistrarResult<CreateResult> DemoRegistrar::Create(const CreateRequest& request) {
  auto parsed = rules_.Parse(request.domain);
  if (!parsed) return RegistrarFailure::FromError(parsed.error(), Kind::kInvalidRequest);
  auto price = Price(parsed->suffix, request.years);
  if (!price) return price.error();
  const std::string* name = &parsed->ascii;

  std::lock_guard<std::mutex> lock(mu_);
  DomainAvailability a = Availability(*name);
  if (!a.available) {
    return RegistrarFailure::Make(Kind::kDomainNotAvailable, *name + " is not available", 3019166);
  }
  int64_t charge = price->total_usd_micros;
  if (a.premium) {
    if (request.premium_price_usd_micros != a.premium_price_usd_micros) {
      return RegistrarFailure::Make(Kind::kInvalidRequest,
                                    *name + " is a premium name costing " +
                                        FormatMinor(a.premium_price_usd_micros, 6) +
                                        " USD; the request must carry that premium price",
                                    2515623);
    }
    // Premium price covers the first year; later years at the renewal price.
    charge = a.premium_price_usd_micros + a.premium_renewal_usd_micros * (request.years - 1);
  } else if (request.premium_price_usd_micros != 0) {
    return RegistrarFailure::Make(Kind::kInvalidRequest,
                                  *name + " is not a premium name; send no premium price", 2515623);
  }
  if (charge > balance_usd_micros_) {
    return RegistrarFailure::Make(Kind::kInsufficientFunds,
                                  "the demo registrar account has insufficient funds for " + *name);
  }
  balance_usd_micros_ -= charge;
  int64_t id = next_id_++;
  DomainInfo info;
  info.domain = *name;
  info.status = "Ok";
  info.created_date = IsoDateUtc(clock_.NowSeconds());
  info.expires_date = AddYears(info.created_date, request.years);
  info.is_ours = true;
  info.is_premium = a.premium;
  info.domain_id = std::to_string(100000 + id);
  registered_[*name] = info;

  CreateResult r;
  r.domain = *name;
  r.registered = true;
  r.charged_usd_micros = charge;
  r.domain_id = info.domain_id;
  r.order_id = std::to_string(500000 + id);
  r.transaction_id = std::to_string(900000 + id);
  return r;
}

RegistrarResult<DomainInfo> DemoRegistrar::GetInfo(std::string_view domain) {
  auto name = rules_.Normalize(domain);
  if (!name) return RegistrarFailure::FromError(name.error(), Kind::kInvalidRequest);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = registered_.find(*name);
  if (it == registered_.end()) {
    return RegistrarFailure::Make(Kind::kNotFound, *name + " is not registered in the demo account",
                                  2019166);
  }
  return it->second;
}

RegistrarResult<std::vector<DomainInfo>> DemoRegistrar::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<DomainInfo> out;
  for (const auto& [name, info] : registered_) out.push_back(info);
  return out;
}

RegistrarResult<AccountBalance> DemoRegistrar::Balance() {
  std::lock_guard<std::mutex> lock(mu_);
  AccountBalance b;
  b.currency = "USD";
  b.available_usd_micros = balance_usd_micros_;
  b.account_balance_usd_micros = balance_usd_micros_;
  return b;
}

}  // namespace depositbot
