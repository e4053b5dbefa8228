#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "registrar/namecheap_registrar.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace depositbot::testing {

class LoopbackServer;

// A Namecheap XML API on 127.0.0.1 for tests (reference/namecheap-api.md): accepts GET query
// strings and POST form bodies, parameter names and commands case-insensitively; checks the
// five global parameters (1010101/1010102/1010104/1010105, 1011102 bad key, 1016103 bad user
// name, 1011150 "Invalid request IP: x"); answers the six commands and domains.getTldList
// with the real envelopes.
// Every setter is thread-safe and may be called while a client is talking to it.
class FakeNamecheapServer {
 public:
  // A one-shot misbehaviour for the next request of a command (queued, FIFO per command).
  struct Fault {
    enum class Type {
      kApiError,          // HTTP 200, Status="ERROR", <Error Number=number>text</Error>
      kHttpStatus,        // HTTP `http_status` with `body` (e.g. an HTML 503 page, or a
                          // proxy's 403); `applied`: the command ran behind it all the same
      kNotXml,            // HTTP 200 with an HTML body
      kMissingAttribute,  // the normal answer minus every `attribute` inside CommandResponse
      kHang,              // answer only after ReleaseHangs() or destruction
      kNotRegistered,     // create only: Status="OK" but Registered="false"
    };
    Type type = Type::kApiError;
    int64_t number = 0;
    std::string text;
    int http_status = 200;
    std::string body;
    std::string attribute;
    // kHang / kHttpStatus on create: whether the registration happens (at receipt) although
    // the client never hears about it.
    bool applied = false;
    // kHang: the request is carried out when released, not at receipt, and its answer is sent
    // then (a slow registrar: until the release, getInfo does not know the name). The work is
    // done at the release even when the client has gone away meanwhile.
    bool apply_on_release = false;

    static Fault ApiError(int64_t number, std::string text);
    static Fault HttpStatus(int status, std::string body = "<html><body>error</body></html>",
                            bool applied = false);
    static Fault NotXml();
    static Fault MissingAttribute(std::string attribute);
    static Fault Hang(bool applied = false);
    static Fault HangThenApply();
    static Fault NotRegistered();
  };

  // Credentials the fake accepts; ClientConfig() fills them in.
  static constexpr const char* kApiUser = "apiuser";
  static constexpr const char* kApiKey = "fake0123456789abcdefSECRETKEY";
  static constexpr const char* kUserName = "apiuser";
  static constexpr const char* kClientIp = "203.0.113.7";

  // Starts listening; defaults: every name available, prices com 9.58 / net 12.48 / org 9.98 /
  // io 39.98 / xyz 1.98 per year (ICANN fee 0.18 on com/net/org), balance 1000.00 USD.
  FakeNamecheapServer();
  // Releases hung requests, then stops the server.
  ~FakeNamecheapServer();
  FakeNamecheapServer(const FakeNamecheapServer&) = delete;
  FakeNamecheapServer& operator=(const FakeNamecheapServer&) = delete;

  // "http://127.0.0.1:PORT/xml.response".
  std::string url() const;
  // A NamecheapConfig aimed at this fake with matching credentials and a valid contact, short
  // timeouts (connect 2 s, read 2 s) and no retry delay.
  NamecheapConfig ClientConfig() const;
  // The same as the NAMECHEAP_* environment variables that point a depositbot process here.
  std::map<std::string, std::string> ProcessEnv() const;

  // Names registered to someone else (domains.check Available="false", create 3019166).
  void SetTaken(const std::string& domain);
  // A premium name: IsPremiumName="true" with this registration price ("2500.0000").
  void SetPremium(const std::string& domain, const std::string& price);
  // The registry does not answer for this name: Available="error" ErrorNo="750".
  void SetRegistryError(const std::string& domain);
  // Per-year register price and ICANN fee of a TLD for every duration 1..10.
  void SetTldPrice(const std::string& tld, const std::string& price,
                   const std::string& additional_cost = "0.18");
  // One extension of domains.getTldList (reference §3.7), answered in the real format.
  struct TldListEntry {
    std::string name;  // "com", "co.uk"
    bool api_registerable = true;
    bool supports_idn = true;
    int min_years = 1;
    int max_years = 10;
  };
  // What domains.getTldList answers. Until called: every TLD with a price, IDN-capable.
  void SetTldList(std::vector<TldListEntry> list);
  // The account's AvailableBalance/AccountBalance; a create costing more fails.
  void SetBalance(const std::string& amount);
  // A domain already in this account (created MM/DD/YYYY).
  void AddOwnedDomain(const std::string& domain, const std::string& created = "09/03/2024");
  // The name is in its early-access phase: domains.check reports EapFee=`fee` ("120.0000");
  // create refuses it (2515610), as Namecheap does not sell EAP names through the API.
  void SetEapFee(const std::string& domain, const std::string& fee);
  // What a successful create of `domain` answers instead of the truth (the registration and
  // the account's charge are still the real ones): another Domain and/or ChargedAmount.
  // Empty fields keep the true value.
  struct CreateAnswer {
    std::string domain;          // e.g. "c00lname.com"
    std::string charged_amount;  // e.g. "2500.0000"
  };
  void ScriptCreateAnswer(const std::string& domain, CreateAnswer answer);
  // A lagging registrar: every name created from now on answers getInfo 2019166 "Domain name
  // not found" for its first `calls` getInfo requests, then the truth.
  void SetInfoLag(int calls);
  // Adds unexpected attributes and elements to every successful CommandResponse.
  void SetExtraAttributes(bool on);
  // After `requests` more accepted requests, answer HTTP 405 with a non-XML body.
  void SetRateLimitBudget(int requests);
  // Queues a fault for the next request of `command` ("namecheap.domains.create"; any case).
  void InjectFault(const std::string& command, Fault fault);
  // Lets every hung request answer (it finds the client gone).
  void ReleaseHangs();

  // Requests received for `command` (any case), including rejected and faulted ones.
  int RequestCount(const std::string& command) const;
  int TotalRequests() const;
  // Lower-cased parameter names -> values of the last request for `command`.
  std::map<std::string, std::string> LastParams(const std::string& command) const;
  // True once this many requests for `command` have arrived (blocks up to 5 s; for checks
  // after a client gave up on a hung request).
  bool AwaitRequestCount(const std::string& command, int count) const;
  // True once no request is held by a kHang fault any more (blocks up to 5 s): after
  // ReleaseHangs(), the released requests have done their work (HangThenApply) by then.
  bool AwaitNoHungRequests() const;
  // Domains this account holds (created via the API or AddOwnedDomain).
  std::vector<std::string> OwnedDomains() const;

 private:
  struct Owned {
    std::string created;
    std::string expires;
    int64_t id = 0;
    bool premium = false;
  };
  using Params = std::map<std::string, std::string>;

  void Handle(const httplib::Request& req, httplib::Response& res);
  // Runs a command against the state (mu_ held); returns the XML envelope.
  std::string Dispatch(const std::string& command, const Params& p, int& http_status);
  std::string Check(const Params& p);
  std::string Pricing(const Params& p);
  std::string Create(const Params& p);
  std::string GetInfo(const Params& p);
  std::string GetList(const Params& p);
  std::string Balances();
  std::string TldList();
  std::string Ok(const std::string& command, const std::string& body) const;
  static std::string ErrorXml(const std::string& requested, int64_t number,
                              const std::string& text);
  static std::string Lower(std::string s);

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool shutting_down_ = false;
  uint64_t release_generation_ = 0;
  int hung_ = 0;  // requests waiting in a kHang fault
  std::set<std::string> taken_;
  std::set<std::string> registry_errors_;
  std::map<std::string, std::string> premium_;
  std::map<std::string, std::string> eap_fees_;
  std::map<std::string, CreateAnswer> create_answers_;
  int info_lag_calls_ = 0;
  std::map<std::string, int> info_lag_left_;  // domain -> getInfo calls still to deny
  std::map<std::string, std::pair<std::string, std::string>> tld_prices_;
  std::optional<std::vector<TldListEntry>> tld_list_;
  int64_t balance_micros_ = 0;
  std::map<std::string, Owned> owned_;
  bool extra_attributes_ = false;
  int rate_limit_budget_ = -1;
  std::map<std::string, std::deque<Fault>> faults_;
  std::map<std::string, int> counts_;
  int total_ = 0;
  std::map<std::string, Params> last_params_;
  int64_t next_id_ = 1000;

  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<LoopbackServer> loop_;
};

}  // namespace depositbot::testing
