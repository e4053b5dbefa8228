#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "registrar/domain_name.h"
#include "registrar/registrar.h"

namespace depositbot {

// Callers append this to every reply that involves the demo registrar.
inline constexpr std::string_view kDemoRegistrarNotice =
    "demo registrar — nothing is really registered";

// An offline, deterministic registrar for running without Namecheap credentials.
//
// Prices (USD per year, no ICANN fee): com 10.28, net 12.48, org 9.98, io 39.98, dev 14.98,
// app 16.98, xyz 1.98, info 3.98, biz 6.98, me 8.98, co 11.98, kr 19.98, co.kr 21.98,
// uk 8.48, co.uk 7.98, de 6.98. These are its offered extensions (OfferedTlds, every one
// taking internationalised names); other ones are refused as kInvalidRequest.
// Taken: a name whose first label is shorter than 4 characters, or is one of example, google,
// facebook, amazon, namecheap, test; and every name this instance has "registered".
// Premium: an available name whose first label is shop, cloud, crypto, money or games costs
// 2500.00 USD (renewal 2500.00); Create must then carry that premium price.
// Create "registers" in memory (per instance, thread-safe); GetInfo/List answer from it.
// The account starts with 1000.00 USD; a create it cannot pay fails as kInsufficientFunds.
class DemoRegistrar final : public Registrar {
 public:
  // `clock` stamps creation dates and must outlive the registrar.
  explicit DemoRegistrar(const Clock& clock, DomainNameRules rules = DomainNameRules());

  RegistrarResult<std::vector<DomainAvailability>> Check(
      const std::vector<std::string>& domains) override;
  RegistrarResult<std::vector<TldOffer>> OfferedTlds() override;
  RegistrarResult<PriceQuote> Price(std::string_view tld, int years) override;
  RegistrarResult<CreateResult> Create(const CreateRequest& request) override;
  RegistrarResult<DomainInfo> GetInfo(std::string_view domain) override;
  RegistrarResult<std::vector<DomainInfo>> List() override;
  RegistrarResult<AccountBalance> Balance() override;
  bool IsDemo() const override { return true; }
  std::string Name() const override { return "demo"; }

  static constexpr int64_t kPremiumPriceUsdMicros = 2'500'000'000;
  static constexpr int64_t kStartingBalanceUsdMicros = 1'000'000'000;

 private:
  // Taken by someone else under the rules above (not counting our own registrations).
  static bool TakenByRule(std::string_view domain);
  static bool PremiumByRule(std::string_view domain);
  DomainAvailability Availability(const std::string& domain) const;  // mu_ held

  const Clock& clock_;
  DomainNameRules rules_;
  std::map<std::string, int64_t> prices_;  // TLD -> per-year USD micros

  mutable std::mutex mu_;
  std::map<std::string, DomainInfo> registered_;
  int64_t balance_usd_micros_ = kStartingBalanceUsdMicros;
  int64_t next_id_ = 1;
};

}  // namespace depositbot
