#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registrar/registrar.h"

namespace depositbot {

// A registrar whose every answer comes from a conversation fixture: offline and deterministic,
// for `depositbot replay`. Nothing is guessed: a question about a name or a TLD the script does
// not describe is answered as a failure (unknown availability / kInvalidRequest price) AND
// recorded in Gaps(), which the replay reports as a fixture failure.
// Thread-safe.
class FixtureRegistrar final : public Registrar {
 public:
  // What Create answers for a name, one entry per Create call (the last one repeats).
  struct CreateAnswer {
    enum class Outcome {
      kSuccess,  // registered and answered
      kFailure,  // definite failure with a Namecheap error number (nothing registered)
      kTimeout,  // no answer: kUnknownOutcome; `registered` says what really happened
    };
    Outcome outcome = Outcome::kSuccess;
    int64_t error_number = 0;  // kFailure: classified with ClassifyNamecheapError
    std::string message;       // kFailure/kTimeout: the registrar's text
    bool registered = false;   // kTimeout: whether the name was registered after all
  };

  // What GetInfo answers for a name, one entry per call (the last one repeats).
  enum class InfoAnswer {
    kAuto,         // ours when this registrar registered it, else kNotFound
    kOurs,         // held by this account
    kNotFound,     // not in this account (Namecheap 2019166)
    kNotOurs,      // exists, owned elsewhere
    kUnavailable,  // no usable answer (transport failure)
  };

  struct DomainScript {
    bool unknown = false;  // the registry does not answer for it (Check: unknown)
    bool available = false;
    std::string note;                      // for unknown
    int64_t premium_price_usd_micros = 0;  // > 0: premium
    int64_t premium_renewal_usd_micros = 0;
    int64_t icann_fee_usd_micros = 0;
    std::vector<CreateAnswer> create;  // empty: success
    std::vector<InfoAnswer> info;      // empty: kAuto
  };

  struct TldPrice {
    int64_t per_year_usd_micros = 0;
    int64_t icann_fee_per_year_usd_micros = 0;
  };

  struct Script {
    bool demo = false;                            // IsDemo(): replies then carry the demo notice
    std::map<std::string, TldPrice> prices;       // TLD without dot -> price
    std::map<std::string, DomainScript> domains;  // normalized name -> answers
    // Every Check and OfferedTlds fails (kTransport) with this.
    std::optional<std::string> check_unavailable;
    // What OfferedTlds answers (names without dots, every one taking IDNs). Unset: the TLDs of
    // `prices` and the public suffixes of `domains`, so that what the script describes is
    // offered and a name under any other extension is refused as not offered.
    std::optional<std::vector<std::string>> offered_tlds;
  };

  explicit FixtureRegistrar(Script script);

  RegistrarResult<std::vector<DomainAvailability>> Check(
      const std::vector<std::string>& domains) override;
  RegistrarResult<std::vector<TldOffer>> OfferedTlds() override;
  RegistrarResult<PriceQuote> Price(std::string_view tld, int years) override;
  RegistrarResult<CreateResult> Create(const CreateRequest& request) override;
  RegistrarResult<DomainInfo> GetInfo(std::string_view domain) override;
  RegistrarResult<std::vector<DomainInfo>> List() override;
  RegistrarResult<AccountBalance> Balance() override;
  bool IsDemo() const override { return script_.demo; }
  std::string Name() const override { return "fixture"; }

  // Questions the script had no answer for ("check unknown.com", "price for .dev"), in order.
  std::vector<std::string> Gaps() const;
  // Every call, in order: "check a.com,b.com", "price com 1", "create a.com", "info a.com".
  std::vector<std::string> Calls() const;
  // Names this registrar holds (successful creates and timeouts that registered), sorted.
  std::vector<std::string> Registered() const;
  int creates() const;

 private:
  const Script script_;
  mutable std::mutex mu_;
  std::vector<std::string> gaps_;
  std::vector<std::string> calls_;
  std::map<std::string, int> create_calls_;        // per name
  std::map<std::string, int> info_calls_;          // per name
  std::map<std::string, std::string> registered_;  // name -> domain id
  int creates_ = 0;
};

}  // namespace depositbot
