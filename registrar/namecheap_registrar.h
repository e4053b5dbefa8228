#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/environment.h"
#include "common/http_client.h"
#include "common/result.h"
#include "registrar/namecheap_contact.h"
#include "registrar/registrar.h"

namespace depositbot {

struct NamecheapConfig {
  std::string api_url = "https://api.sandbox.namecheap.com/xml.response";
  std::string api_user;
  std::string api_key;    // secret: never logged, redacted from every message
  std::string username;   // usually the same as api_user
  std::string client_ip;  // whitelisted public IPv4
  NamecheapContact contact;
  bool whois_privacy = true;  // AddFreeWhoisguard=yes, WGEnabled=yes

  HttpOptions http;  // connect/read/write timeouts for reads
  // Read timeout for domains.create, which Namecheap can take ~30 s to answer.
  std::chrono::milliseconds create_read_timeout{60000};
  std::chrono::seconds pricing_ttl{3600};
  // How long the domains.getTldList answer is kept (Namecheap asks clients to cache it).
  std::chrono::seconds tld_list_ttl{86400};
  int max_read_attempts = 3;                        // reads only; create is sent once
  std::chrono::milliseconds retry_base_delay{500};  // doubles per retry
};

// Namecheap's XML API (DESIGN.md, reference/namecheap-api.md) over HttpClient. Every command is
// a POST with a form body, so the key never sits in a URL. Reads are retried (timeouts, HTTP
// 5xx, rate limiting, Namecheap's retryable server errors) up to max_read_attempts with
// exponential backoff (waited through `env`); create never is. Prices are cached per TLD for
// pricing_ttl and the extension list for tld_list_ttl by env's clock; failures are not cached.
// Thread-safe. `env` must outlive the registrar.
class NamecheapRegistrar final : public Registrar {
 public:
  // Checks the URL and the four credentials and builds the client; a bad config is kInvalid
  // naming the field; nothing is sent. The contact is checked by Create (see ValidateContact).
  static Result<std::unique_ptr<NamecheapRegistrar>> FromConfig(
      NamecheapConfig config, Environment& env = SystemEnvironment());

  RegistrarResult<std::vector<DomainAvailability>> Check(
      const std::vector<std::string>& domains) override;
  // domains.getTldList, cached; concurrent misses make one request.
  RegistrarResult<std::vector<TldOffer>> OfferedTlds() override;
  RegistrarResult<PriceQuote> Price(std::string_view tld, int years) override;
  // Before sending, checks the request and the configured contact (kInvalidRequest, definite).
  // An internationalised name is sent with IdnCode, the language of its first label
  // (IdnLanguageOf: "kor" for Hangul, "ger" for German letters).
  RegistrarResult<CreateResult> Create(const CreateRequest& request) override;
  RegistrarResult<DomainInfo> GetInfo(std::string_view domain) override;
  RegistrarResult<std::vector<DomainInfo>> List() override;
  RegistrarResult<AccountBalance> Balance() override;
  bool IsDemo() const override { return false; }
  std::string Name() const override { return "namecheap"; }

  // Whether a contact has every field domains.create requires, each in the form Namecheap takes
  // (ValidateNamecheapContact, the check start-up also makes); kInvalid naming the first bad one.
  static Status ValidateContact(const NamecheapContact& contact) {
    return ValidateNamecheapContact(contact);
  }

  // Most names domains.check accepts in one call; longer lists are split.
  static constexpr size_t kCheckBatchLimit = 50;

  // Public for FromConfig's make_unique; use FromConfig.
  NamecheapRegistrar(NamecheapConfig config, HttpUrl url, Environment& env);
  ~NamecheapRegistrar() override;

 private:
  struct PriceSlot;  // a TLD's cached price table

  using Params = std::vector<std::pair<std::string, std::string>>;

  // Both answer the body of a reply whose envelope is OK (registrar/namecheap_xml.h parses it).
  RegistrarResult<std::string> Read(const std::string& command, const Params& params);
  RegistrarResult<std::string> SendOnce(const std::string& command, const Params& params,
                                        const HttpClient& http);
  RegistrarResult<std::map<int, std::pair<int64_t, int64_t>>> FetchPrices(const std::string& tld);
  std::string Redact(std::string text) const;
  RegistrarFailure Fail(RegistrarFailure::Kind kind, std::string message, int64_t number = 0) const;
  RegistrarFailure Redacted(RegistrarFailure failure) const;

  NamecheapConfig config_;
  HttpClient read_http_;
  HttpClient create_http_;
  Environment& env_;

  std::mutex tld_mu_;  // guards the four below; held while fetching
  bool tlds_loaded_ = false;
  int64_t tlds_fetched_ms_ = 0;
  std::vector<TldOffer> tlds_;

  std::mutex price_mu_;  // guards price_slots_ (not the slots' contents)
  std::map<std::string, std::shared_ptr<PriceSlot>> price_slots_;
};

}  // namespace depositbot
