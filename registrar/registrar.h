#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "registrar/domain_name.h"
#include "registrar/registrar_error.h"

namespace depositbot {

// All amounts below are integer USD micro-dollars (1 USD == 1'000'000), parsed exactly from the
// registrar's decimal strings.

// One name's answer to Check.
struct DomainAvailability {
  std::string domain;  // as the registrar spelled it (lower case)
  bool available = false;
  // The registry did not answer for this name (Namecheap Available="error" or ErrorNo != 0);
  // `available` is then false and `note` says why. Ask again later.
  bool unknown = false;
  bool premium = false;
  int64_t premium_price_usd_micros = 0;    // first-year registration price; 0 unless premium
  int64_t premium_renewal_usd_micros = 0;  // 0 unless premium
  int64_t icann_fee_usd_micros = 0;
  // Non-zero: the name is in its TLD's early-access phase and costs this much on top of its
  // price; Namecheap does not register such names through the API, so it is not sold.
  int64_t eap_fee_usd_micros = 0;
  std::string note;  // registrar's description when unknown
};

// The regular (non-premium) registration price of a TLD for a number of years.
struct PriceQuote {
  std::string tld;  // without the dot, lower case
  int years = 1;
  int64_t per_year_usd_micros = 0;  // registration price for one year
  int64_t icann_fee_per_year_usd_micros = 0;
  int64_t registration_usd_micros = 0;  // per_year × years
  int64_t icann_fee_usd_micros = 0;     // icann_fee_per_year × years
  int64_t total_usd_micros = 0;         // registration + icann fee: what to expect charged
};

struct CreateRequest {
  // The canonical (ASCII, xn--) form (DomainNameRules::Parse); a registrar that needs the
  // language of an internationalised name derives it from this.
  std::string domain;
  int years = 1;
  // The premium price the user agreed to (DomainAvailability::premium_price_usd_micros);
  // 0 for a regular name. A premium name must carry it or the registrar refuses.
  int64_t premium_price_usd_micros = 0;
};

struct CreateResult {
  std::string domain;
  bool registered = false;  // always true in a successful result (see Registrar::Create)
  int64_t charged_usd_micros = 0;
  std::string domain_id;
  std::string order_id;
  std::string transaction_id;
};

// A domain as the registrar's account sees it.
struct DomainInfo {
  std::string domain;
  std::string status;        // registrar's status text ("Ok", "Locked", "Expired", ...)
  std::string created_date;  // "YYYY-MM-DD" when parseable, else the registrar's text
  std::string expires_date;  // same format
  bool is_ours = false;      // owned by the configured account
  bool is_premium = false;
  std::string domain_id;
};

struct AccountBalance {
  std::string currency;              // "USD"
  int64_t available_usd_micros = 0;  // spendable now
  int64_t account_balance_usd_micros = 0;
  int64_t funds_required_for_auto_renew_usd_micros = 0;
};

// A domain registrar. Implementations are thread-safe: any thread may call any method.
// Every failure is a RegistrarFailure; only Create can fail with kUnknownOutcome.
class Registrar {
 public:
  virtual ~Registrar() = default;

  // Availability of each name, in the order asked. Names are sent as given (normalize first).
  virtual RegistrarResult<std::vector<DomainAvailability>> Check(
      const std::vector<std::string>& domains) = 0;
  // The extensions this registrar sells through its API, in no particular order ("com",
  // "co.uk"). A registrar that has to ask caches the answer; a failure (kUnavailable code)
  // means the list is unknown right now, never that nothing is offered.
  virtual RegistrarResult<std::vector<TldOffer>> OfferedTlds() = 0;
  // Regular registration price of `tld` ("com", "co.uk": a public suffix, no dot) for 1..10
  // years.
  virtual RegistrarResult<PriceQuote> Price(std::string_view tld, int years) = 0;
  // Registers a domain and charges the registrar account. Never retried internally. On failure
  // check error().OutcomeUnknown(): if true the name may have been registered; find out with
  // GetInfo/List before refunding anyone.
  virtual RegistrarResult<CreateResult> Create(const CreateRequest& request) = 0;
  // One domain of this account; kNotFound when the account does not hold it.
  virtual RegistrarResult<DomainInfo> GetInfo(std::string_view domain) = 0;
  // Every domain of this account (all pages).
  virtual RegistrarResult<std::vector<DomainInfo>> List() = 0;
  // The registrar account's funds.
  virtual RegistrarResult<AccountBalance> Balance() = 0;

  // True when nothing is really registered; replies must say so (kDemoRegistrarNotice).
  virtual bool IsDemo() const = 0;
  // "namecheap", "demo": for logs and replies.
  virtual std::string Name() const = 0;
};

}  // namespace depositbot
