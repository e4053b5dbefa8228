#include "registrar/fixture_registrar.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/text.h"

namespace depositbot {
namespace {

using Kind = RegistrarFailure::Kind;

// The i-th answer of a list whose last entry repeats.
template <typename T>
const T* Nth(const std::vector<T>& list, int i) {
  if (list.empty()) return nullptr;
  return &list[std::min<size_t>(static_cast<size_t>(i), list.size() - 1)];
}

}  // namespace

FixtureRegistrar::FixtureRegistrar(Script script) : script_(std::move(script)) {}

RegistrarResult<std::vector<TldOffer>> FixtureRegistrar::OfferedTlds() {
  // A registrar that cannot be reached cannot list its extensions either.
  if (script_.check_unavailable) {
    return RegistrarFailure::Make(Kind::kTransport, *script_.check_unavailable);
  }
  std::set<std::string> names;
  if (script_.offered_tlds) {
    names.insert(script_.offered_tlds->begin(), script_.offered_tlds->end());
  } else {
    static const DomainNameRules kRules;
    for (const auto& [tld, price] : script_.prices) names.insert(AsciiLower(tld));
    for (const auto& [domain, answers] : script_.domains) names.insert(kRules.SuffixOf(domain));
  }
  std::vector<TldOffer> out;
  for (const auto& n : names) out.push_back(TldOffer{n, true, 1, 10});
  return out;
}

RegistrarResult<std::vector<DomainAvailability>> FixtureRegistrar::Check(
    const std::vector<std::string>& domains) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string joined;
  for (const auto& d : domains) joined += (joined.empty() ? "" : ",") + d;
  calls_.push_back("check " + joined);
  if (script_.check_unavailable) {
    return RegistrarFailure::Make(Kind::kTransport, *script_.check_unavailable);
  }
  std::vector<DomainAvailability> out;
  for (const auto& raw : domains) {
    std::string name = AsciiLower(raw);
    DomainAvailability a;
    a.domain = name;
    auto it = script_.domains.find(name);
    if (it == script_.domains.end()) {
      gaps_.push_back("the registrar was asked about " + name +
                      ", which the fixture's registrar.domains does not describe");
      a.unknown = true;
      a.note = "the fixture has no answer for " + name;
      out.push_back(a);
      continue;
    }
    const DomainScript& d = it->second;
    if (d.unknown) {
      a.unknown = true;
      a.note = d.note.empty() ? "the registry did not answer" : d.note;
    } else {
      a.available = d.available && registered_.count(name) == 0;
      if (a.available && d.premium_price_usd_micros > 0) {
        a.premium = true;
        a.premium_price_usd_micros = d.premium_price_usd_micros;
        a.premium_renewal_usd_micros = d.premium_renewal_usd_micros > 0
                                           ? d.premium_renewal_usd_micros
                                           : d.premium_price_usd_micros;
        a.icann_fee_usd_micros = d.icann_fee_usd_micros;
      }
    }
    out.push_back(a);
  }
  return out;
}

RegistrarResult<PriceQuote> FixtureRegistrar::Price(std::string_view tld_in, int years) {
  std::string tld = AsciiLower(tld_in);
  if (!tld.empty() && tld.front() == '.') tld.erase(0, 1);
  std::lock_guard<std::mutex> lock(mu_);
  calls_.push_back("price " + tld + " " + std::to_string(years));
  auto it = script_.prices.find(tld);
  if (it == script_.prices.end()) {
    gaps_.push_back("the registrar was asked for the price of ." + tld +
                    ", which the fixture's registrar.prices does not list");
    return RegistrarFailure::Make(Kind::kInvalidRequest,
                                  "the fixture has no price for ." + tld + " domains", 2011170);
  }
  if (years < 1 || years > 10) {
    return RegistrarFailure::Make(
        Kind::kInvalidRequest,
        "a domain can be registered for 1 to 10 years, not " + std::to_string(years));
  }
  PriceQuote q;
  q.tld = tld;
  q.years = years;
  q.per_year_usd_micros = it->second.per_year_usd_micros;
  q.icann_fee_per_year_usd_micros = it->second.icann_fee_per_year_usd_micros;
  q.registration_usd_micros = q.per_year_usd_micros * years;
  q.icann_fee_usd_micros = q.icann_fee_per_year_usd_micros * years;
  q.total_usd_micros = q.registration_usd_micros + q.icann_fee_usd_micros;
  return q;
}

RegistrarResult<CreateResult> FixtureRegistrar::Create(const CreateRequest& request) {
  std::string name = AsciiLower(request.domain);
  std::lock_guard<std::mutex> lock(mu_);
  calls_.push_back("create " + name);
  ++creates_;
  int n = create_calls_[name]++;
  auto it = script_.domains.find(name);
  if (it == script_.domains.end()) {
    gaps_.push_back("the registrar was asked to create " + name +
                    ", which the fixture's registrar.domains does not describe");
    return RegistrarFailure::Make(Kind::kDomainNotAvailable, name + " is not available", 3019166);
  }
  if (registered_.count(name) > 0 || !it->second.available) {
    return RegistrarFailure::Make(Kind::kDomainNotAvailable, name + " is not available", 3019166);
  }
  CreateAnswer ok;
  const CreateAnswer* answer = Nth(it->second.create, n);
  if (!answer) answer = &ok;
  std::string domain_id = std::to_string(100000 + creates_);
  switch (answer->outcome) {
    case CreateAnswer::Outcome::kSuccess: {
      registered_[name] = domain_id;
      CreateResult r;
      r.domain = name;
      r.registered = true;
      r.charged_usd_micros = request.premium_price_usd_micros;
      r.domain_id = domain_id;
      r.order_id = std::to_string(500000 + creates_);
      r.transaction_id = std::to_string(900000 + creates_);
      return r;
    }
    case CreateAnswer::Outcome::kFailure: {
      std::string text = answer->message.empty() ? "registrar error" : answer->message;
      return RegistrarFailure::Make(ClassifyNamecheapError(answer->error_number, text), text,
                                    answer->error_number);
    }
    case CreateAnswer::Outcome::kTimeout: {
      if (answer->registered) registered_[name] = domain_id;
      RegistrarFailure f = RegistrarFailure::Make(
          Kind::kTransport, answer->message.empty() ? "read timed out" : answer->message);
      f.code = ErrorCode::kUnknownOutcome;
      return f;
    }
  }
  return RegistrarFailure::Make(Kind::kOther, "unreachable");
}

RegistrarResult<DomainInfo> FixtureRegistrar::GetInfo(std::string_view domain) {
  std::string name = AsciiLower(domain);
  std::lock_guard<std::mutex> lock(mu_);
  calls_.push_back("info " + name);
  int n = info_calls_[name]++;
  InfoAnswer answer = InfoAnswer::kAuto;
  if (auto it = script_.domains.find(name); it != script_.domains.end()) {
    if (const InfoAnswer* a = Nth(it->second.info, n)) answer = *a;
  }
  auto reg = registered_.find(name);
  if (answer == InfoAnswer::kAuto) {
    answer = reg != registered_.end() ? InfoAnswer::kOurs : InfoAnswer::kNotFound;
  }
  DomainInfo info;
  info.domain = name;
  info.status = "Ok";
  switch (answer) {
    case InfoAnswer::kOurs:
      info.is_ours = true;
      info.domain_id = reg != registered_.end() ? reg->second : "fixture";
      return info;
    case InfoAnswer::kNotOurs:
      info.is_ours = false;
      return info;
    case InfoAnswer::kUnavailable:
      return RegistrarFailure::Make(Kind::kTransport, "connection timed out");
    case InfoAnswer::kNotFound:
    case InfoAnswer::kAuto:
      break;
  }
  return RegistrarFailure::Make(Kind::kNotFound, name + " is not in this account", 2019166);
}

RegistrarResult<std::vector<DomainInfo>> FixtureRegistrar::List() {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.push_back("list");
  std::vector<DomainInfo> out;
  for (const auto& [name, id] : registered_) {
    DomainInfo info;
    info.domain = name;
    info.status = "Ok";
    info.is_ours = true;
    info.domain_id = id;
    out.push_back(info);
  }
  return out;
}

RegistrarResult<AccountBalance> FixtureRegistrar::Balance() {
  AccountBalance b;
  b.currency = "USD";
  b.available_usd_micros = 1'000'000'000'000;
  b.account_balance_usd_micros = b.available_usd_micros;
  return b;
}

std::vector<std::string> FixtureRegistrar::Gaps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return gaps_;
}

std::vector<std::string> FixtureRegistrar::Calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

std::vector<std::string> FixtureRegistrar::Registered() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, id] : registered_) out.push_back(name);
  return out;
}

int FixtureRegistrar::creates() const {
  std::lock_guard<std::mutex> lock(mu_);
  return creates_;
}

}  // namespace depositbot
