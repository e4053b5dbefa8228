#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/environment.h"
#include "common/http_client.h"
#include "common/log.h"
#include "registrar/namecheap_registrar.h"
#include "registrar/namecheap_xml.h"
#include "tests/fakes/fake_namecheap_server.h"
#include "tests/fakes/log_capture.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using depositbot::testing::FakeNamecheapServer;
using depositbot::testing::ScopedLogCapture;
using Fault = FakeNamecheapServer::Fault;
using Kind = RegistrarFailure::Kind;
using std::chrono::milliseconds;

namespace {

constexpr int64_t kNow = 1772366400000;
const char* kCheck = "namecheap.domains.check";
const char* kPricing = "namecheap.users.getPricing";
const char* kCreate = "namecheap.domains.create";
const char* kGetInfo = "namecheap.domains.getInfo";
const char* kGetList = "namecheap.domains.getList";
const char* kBalances = "namecheap.users.getBalances";
const char* kTldList = "namecheap.domains.getTldList";

// A fake Namecheap, a fixed clock and a client whose retry sleeps are recorded, not slept.
struct Fixture {
  FakeNamecheapServer fake;
  TestEnvironment env{kNow};
  FixedClock& clock = env.fixed_clock();
  std::unique_ptr<NamecheapRegistrar> client;

  Fixture() { client = Make(fake.ClientConfig()); }

  std::unique_ptr<NamecheapRegistrar> Make(NamecheapConfig config) {
    auto r = NamecheapRegistrar::FromConfig(std::move(config), env);
    REQUIRE(r);
    return std::move(*r);
  }
  std::vector<milliseconds> Sleeps() const { return env.SleepsMillis(); }
  std::unique_ptr<NamecheapRegistrar> MakeWith(void (*edit)(NamecheapConfig&)) {
    NamecheapConfig c = fake.ClientConfig();
    edit(c);
    return Make(std::move(c));
  }
};

using depositbot::testing::Contains;

// Collects what the process writes to stderr (where Log writes) between construction and
// A reply as Namecheap frames it: `status` ("OK"/"ERROR"), the Error elements and the
// CommandResponse, for replies the fake does not produce by itself.
std::string Envelope(const std::string& command, const std::string& status,
                     const std::string& errors, const std::string& response) {
  return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ApiResponse Status=\"" + status +
         "\" xmlns=\"http://api.namecheap.com/xml.response\">\n  <Errors>" + errors +
         "</Errors>\n  <Warnings />\n  <RequestedCommand>" + command + "</RequestedCommand>\n" +
         response +
         "  <Server>PHX01APIEXT05</Server>\n  <GMTTimeDifference>--4:00</GMTTimeDifference>\n"
         "  <ExecutionTime>0.413</ExecutionTime>\n</ApiResponse>\n";
}

const char* kCreateResult =
    "  <CommandResponse Type=\"namecheap.domains.create\">\n"
    "    <DomainCreateResult Domain=\"example-shop.com\" Registered=\"true\" "
    "ChargedAmount=\"9.7600\" DomainID=\"1234567\" OrderID=\"987654\" "
    "TransactionID=\"1122334\" WhoisguardEnable=\"true\" NonRealTimeDomain=\"false\" />\n"
    "  </CommandResponse>\n";

}  // namespace

// ---- domains.check ----

TEST_CASE("check reports available, taken and premium names with exact prices") {
  Fixture f;
  f.fake.SetTaken("taken-name.com");
  f.fake.SetPremium("shop.xyz", "2500.0000");
  auto r = f.client->Check({"example-shop.com", "taken-name.com", "shop.xyz"});
  REQUIRE(r);
  REQUIRE(r->size() == 3);
  // The fake answers in reverse order; results come back in the order asked.
  CHECK((*r)[0].domain == "example-shop.com");
  CHECK((*r)[0].available);
  CHECK_FALSE((*r)[0].premium);
  CHECK((*r)[0].premium_price_usd_micros == 0);
  CHECK((*r)[1].domain == "taken-name.com");
  CHECK_FALSE((*r)[1].available);
  CHECK((*r)[2].available);
  CHECK((*r)[2].premium);
  CHECK((*r)[2].premium_price_usd_micros == 2'500'000'000);
  CHECK((*r)[2].premium_renewal_usd_micros == 2'500'000'000);
  CHECK_FALSE((*r)[2].unknown);
  CHECK(f.fake.RequestCount(kCheck) == 1);
  CHECK(f.fake.LastParams(kCheck)["domainlist"] == "example-shop.com,taken-name.com,shop.xyz");
}

TEST_CASE("a name the registry could not answer for is reported as unknown, not taken") {
  Fixture f;
  f.fake.SetRegistryError("slow-registry.io");
  auto r = f.client->Check({"slow-registry.io", "example-shop.com"});
  REQUIRE(r);
  CHECK((*r)[0].unknown);
  CHECK_FALSE((*r)[0].available);
  CHECK((*r)[0].note == "No response from the registry");
  CHECK_FALSE((*r)[1].unknown);
  CHECK((*r)[1].available);
}

TEST_CASE("check reports a name's early-access fee exactly") {
  Fixture f;
  f.fake.SetEapFee("fresh-launch.xyz", "120.5000");
  auto r = f.client->Check({"fresh-launch.xyz", "example-shop.com"});
  REQUIRE(r);
  CHECK((*r)[0].available);
  CHECK((*r)[0].eap_fee_usd_micros == 120'500'000);
  CHECK((*r)[1].eap_fee_usd_micros == 0);
  // Namecheap does not register early-access names through the API.
  auto created = f.client->Create({"fresh-launch.xyz", 1, 0});
  REQUIRE_FALSE(created);
  CHECK(created.error().Definite());
  CHECK(f.fake.OwnedDomains().empty());
}

TEST_CASE("check splits long lists into batches of at most 50 names") {
  Fixture f;
  std::vector<std::string> names;
  for (int i = 0; i < 120; ++i) names.push_back("name-" + std::to_string(i) + ".com");
  auto r = f.client->Check(names);
  REQUIRE(r);
  REQUIRE(r->size() == 120);
  CHECK((*r)[0].domain == "name-0.com");
  CHECK((*r)[119].domain == "name-119.com");
  CHECK(f.fake.RequestCount(kCheck) == 3);
}

TEST_CASE("check of an empty list sends nothing") {
  Fixture f;
  auto r = f.client->Check({});
  REQUIRE(r);
  CHECK(r->empty());
  CHECK(f.fake.TotalRequests() == 0);
}

TEST_CASE("check of an unsupported TLD is a definite invalid-request error") {
  Fixture f;
  auto r = f.client->Check({"good-name.com", "bad-name.ae"});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kInvalidRequest);
  CHECK(r.error().number == 2030280);
  CHECK(Contains(r.error().message, "bad-name.ae"));
  CHECK(f.fake.RequestCount(kCheck) == 1);  // not retried
}

TEST_CASE("a check result without the Available attribute is malformed, not a crash") {
  Fixture f;
  f.fake.InjectFault(kCheck, Fault::MissingAttribute("Available"));
  auto r = f.client->Check({"example-shop.com"});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kMalformedResponse);
  CHECK(r.code() == ErrorCode::kUnavailable);
}

// ---- users.getPricing ----

TEST_CASE("a price quote is the per-year price times years plus the ICANN fee") {
  Fixture f;
  auto q = f.client->Price("com", 2);
  REQUIRE(q);
  CHECK(q->tld == "com");
  CHECK(q->years == 2);
  CHECK(q->per_year_usd_micros == 9'580'000);
  CHECK(q->icann_fee_per_year_usd_micros == 180'000);
  CHECK(q->registration_usd_micros == 19'160'000);
  CHECK(q->icann_fee_usd_micros == 360'000);
  CHECK(q->total_usd_micros == 19'520'000);
  auto p = f.fake.LastParams(kPricing);
  CHECK(p["producttype"] == "DOMAIN");
  CHECK(p["actionname"] == "REGISTER");
  CHECK(p["productname"] == "com");
}

TEST_CASE("a cached price is answered without a second request") {
  Fixture f;
  REQUIRE(f.client->Price("com", 1));
  REQUIRE(f.client->Price(".COM", 3));
  f.clock.Advance(3599 * 1000);
  REQUIRE(f.client->Price("com", 1));
  CHECK(f.fake.RequestCount(kPricing) == 1);
}

TEST_CASE("an expired price cache entry is fetched again") {
  Fixture f;
  f.fake.SetTldPrice("com", "9.58");
  REQUIRE(f.client->Price("com", 1));
  f.fake.SetTldPrice("com", "10.98");
  f.clock.Advance(3600 * 1000);
  auto q = f.client->Price("com", 1);
  REQUIRE(q);
  CHECK(q->per_year_usd_micros == 10'980'000);
  CHECK(f.fake.RequestCount(kPricing) == 2);
}

TEST_CASE("prices are cached per TLD") {
  Fixture f;
  REQUIRE(f.client->Price("com", 1));
  REQUIRE(f.client->Price("net", 1));
  REQUIRE(f.client->Price("com", 2));
  REQUIRE(f.client->Price("net", 2));
  CHECK(f.fake.RequestCount(kPricing) == 2);
}

TEST_CASE("concurrent price lookups for one TLD make a single request") {
  Fixture f;
  std::vector<std::thread> threads;
  std::vector<int64_t> prices(6, 0);
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&f, &prices, i] {
      auto q = f.client->Price("org", 1);
      prices[i] = q ? q->per_year_usd_micros : -1;
    });
  }
  for (auto& t : threads) t.join();
  for (int64_t p : prices) CHECK(p == 9'980'000);
  CHECK(f.fake.RequestCount(kPricing) == 1);
}

TEST_CASE("a failed price lookup is not cached") {
  Fixture f;
  f.fake.InjectFault(kPricing, Fault::ApiError(2011298, "ProductType is invalid"));
  CHECK_FALSE(f.client->Price("com", 1));
  CHECK(f.client->Price("com", 1));
  CHECK(f.fake.RequestCount(kPricing) == 2);
}

TEST_CASE("a price without the Price attribute falls back to YourPrice") {
  Fixture f;
  f.fake.InjectFault(kPricing, Fault::MissingAttribute("Price"));
  auto q = f.client->Price("com", 1);
  REQUIRE(q);
  CHECK(q->per_year_usd_micros == 9'580'000);
}

TEST_CASE("a TLD Namecheap does not price is an invalid request") {
  Fixture f;
  auto q = f.client->Price("zz", 1);
  REQUIRE_FALSE(q);
  CHECK(q.error().kind == Kind::kInvalidRequest);
  CHECK(Contains(q.error().message, ".zz"));
  CHECK_FALSE(f.client->Price("com", 0));
  CHECK_FALSE(f.client->Price("com", 11));
  CHECK(f.fake.RequestCount(kPricing) == 1);  // years are checked before sending
}

// ---- domains.create ----

TEST_CASE("create registers a name and reports the exact charge and ids") {
  Fixture f;
  auto r = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE(r);
  CHECK(r->registered);
  CHECK(r->domain == "example-shop.com");
  CHECK(r->charged_usd_micros == 9'760'000);
  CHECK_FALSE(r->domain_id.empty());
  CHECK_FALSE(r->order_id.empty());
  CHECK_FALSE(r->transaction_id.empty());
  CHECK(f.fake.OwnedDomains() == std::vector<std::string>{"example-shop.com"});
  auto p = f.fake.LastParams(kCreate);
  CHECK(p["years"] == "1");
  for (const char* role : {"registrant", "tech", "admin", "auxbilling"}) {
    CAPTURE(role);
    CHECK(p[std::string(role) + "phone"] == "+1.6613102107");
    CHECK(p[std::string(role) + "firstname"] == "John");
  }
  CHECK(p.count("ispremiumdomain") == 0);
}

TEST_CASE("create of a premium name carries IsPremiumDomain and the premium price") {
  Fixture f;
  f.fake.SetPremium("shop.xyz", "2500.0000");
  f.fake.SetBalance("5000.00");
  auto r = f.client->Create({"shop.xyz", 1, 2'500'000'000});
  REQUIRE(r);
  CHECK(r->charged_usd_micros == 2'500'000'000);
  auto p = f.fake.LastParams(kCreate);
  CHECK(p["ispremiumdomain"] == "true");
  CHECK(p["premiumprice"] == "2500.00");
}

TEST_CASE("create of a premium name without its price fails definitely") {
  Fixture f;
  f.fake.SetPremium("shop.xyz", "2500.0000");
  auto r = f.client->Create({"shop.xyz", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().number == 2515623);
  CHECK(r.error().kind == Kind::kInvalidRequest);
  CHECK(r.error().Definite());
  CHECK(f.fake.OwnedDomains().empty());
}

TEST_CASE("create of a taken name is a definite not-available failure") {
  Fixture f;
  f.fake.SetTaken("taken-name.com");
  auto r = f.client->Create({"taken-name.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kDomainNotAvailable);
  CHECK(r.error().number == 3019166);
  CHECK(r.error().Definite());
  CHECK(r.code() == ErrorCode::kFailedPrecondition);
}

TEST_CASE("create when the registrar account cannot pay is a definite insufficient-funds") {
  Fixture f;
  f.fake.SetBalance("5.00");
  auto r = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kInsufficientFunds);
  CHECK(r.error().Definite());
}

TEST_CASE("create error numbers are classified and say whether the outcome is known") {
  struct Case {
    int64_t number;
    const char* text;
    Kind kind;
    bool unknown;
  };
  const Case cases[] = {
      {3019166, "Domain not available", Kind::kDomainNotAvailable, false},
      {4019166, "Domain not available", Kind::kDomainNotAvailable, false},
      {1011102, "API Key is invalid or API access has not been enabled", Kind::kAuth, false},
      {1011150, "Invalid request IP: 198.51.100.23", Kind::kIpNotWhitelisted, false},
      {1017150, "RequestIP is disabled or locked", Kind::kIpNotWhitelisted, false},
      {2033409, "Possible logical error in authentication phase", Kind::kAuth, false},
      {500000, "Too many requests", Kind::kRateLimited, false},
      {2015182, "Phone number is invalid", Kind::kInvalidRequest, false},
      {2515623, "Premium price mismatch", Kind::kInvalidRequest, false},
      {2528166, "Order creation failed: insufficient funds", Kind::kInsufficientFunds, false},
      {3031900, "Unknown response from provider", Kind::kOther, true},
      {5050900, "Unhandled exception", Kind::kOther, true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.number);
    Fixture f;
    f.fake.InjectFault(kCreate, Fault::ApiError(c.number, c.text));
    auto r = f.client->Create({"example-shop.com", 1, 0});
    REQUIRE_FALSE(r);
    CHECK(r.error().number == c.number);
    CHECK(r.error().kind == c.kind);
    CHECK(r.error().OutcomeUnknown() == c.unknown);
    CHECK(Contains(r.error().message, c.text));
    CHECK(f.fake.RequestCount(kCreate) == 1);
  }
}

TEST_CASE("a create that hangs past the read timeout is an unknown outcome, sent once") {
  Fixture f;
  auto client = f.MakeWith([](NamecheapConfig& c) { c.create_read_timeout = milliseconds(300); });
  f.fake.InjectFault(kCreate, Fault::Hang());
  auto r = client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().OutcomeUnknown());
  CHECK(r.code() == ErrorCode::kUnknownOutcome);
  CHECK(r.error().kind == Kind::kTransport);
  REQUIRE(f.fake.AwaitRequestCount(kCreate, 1));
  CHECK(f.fake.RequestCount(kCreate) == 1);
  CHECK(f.Sleeps().empty());
}

TEST_CASE("after a hung create that did happen, GetInfo finds the domain in our account") {
  Fixture f;
  auto client = f.MakeWith([](NamecheapConfig& c) { c.create_read_timeout = milliseconds(300); });
  f.fake.InjectFault(kCreate, Fault::Hang(/*applied=*/true));
  auto r = client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  REQUIRE(r.error().OutcomeUnknown());
  auto info = client->GetInfo("example-shop.com");
  REQUIRE(info);
  CHECK(info->is_ours);
  CHECK(f.fake.RequestCount(kCreate) == 1);
}

TEST_CASE("a create held until its release is unknown to GetInfo meanwhile and registered after") {
  Fixture f;
  f.fake.InjectFault(kCreate, Fault::HangThenApply());
  std::optional<RegistrarResult<CreateResult>> created;
  std::thread buyer([&] { created = f.client->Create({"example-shop.com", 1, 0}); });
  REQUIRE(f.fake.AwaitRequestCount(kCreate, 1));
  auto before = f.client->GetInfo("example-shop.com");
  f.fake.ReleaseHangs();
  CHECK(f.fake.AwaitNoHungRequests());
  buyer.join();
  REQUIRE_FALSE(before);
  CHECK(before.error().kind == Kind::kNotFound);
  REQUIRE(created.has_value());
  REQUIRE(*created);
  CHECK((*created)->domain == "example-shop.com");
  auto after = f.client->GetInfo("example-shop.com");
  REQUIRE(after);
  CHECK(after->is_ours);
  CHECK(f.fake.RequestCount(kCreate) == 1);
}

TEST_CASE("a create answered with HTTP 5xx is an unknown outcome and not retried") {
  Fixture f;
  f.fake.InjectFault(kCreate, Fault::HttpStatus(503));
  auto r = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().OutcomeUnknown());
  CHECK(f.fake.RequestCount(kCreate) == 1);
}

TEST_CASE("a create answered with a non-XML body is an unknown outcome") {
  Fixture f;
  f.fake.InjectFault(kCreate, Fault::NotXml());
  auto r = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kMalformedResponse);
  CHECK(r.error().OutcomeUnknown());
  CHECK(f.fake.RequestCount(kCreate) == 1);
}

TEST_CASE("a create reply missing ChargedAmount is malformed with an unknown outcome") {
  Fixture f;
  f.fake.InjectFault(kCreate, Fault::MissingAttribute("ChargedAmount"));
  auto r = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kMalformedResponse);
  CHECK(r.error().OutcomeUnknown());
  CHECK(Contains(r.error().message, "ChargedAmount"));
}

TEST_CASE("a create accepted but not yet registered is an unknown outcome") {
  Fixture f;
  f.fake.InjectFault(kCreate, Fault::NotRegistered());
  auto r = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().OutcomeUnknown());
}

TEST_CASE("a rate-limited create (HTTP 405) is definite: Namecheap refused it before acting") {
  Fixture f;
  f.fake.InjectFault(kCreate, Fault::HttpStatus(405));
  auto r = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kRateLimited);
  CHECK(r.error().Definite());
  CHECK(f.fake.RequestCount(kCreate) == 1);
}

TEST_CASE("a create that cannot connect is definite: nothing was sent") {
  Fixture f;
  std::string dead_url;
  {
    FakeNamecheapServer gone;
    dead_url = gone.url();
  }
  NamecheapConfig c = f.fake.ClientConfig();
  c.api_url = dead_url;
  auto client = f.Make(c);
  auto r = client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kTransport);
  CHECK(r.error().Definite());
  CHECK(r.code() == ErrorCode::kUnavailable);
}

TEST_CASE("a create answered by a proxy's HTML 403 is an unknown outcome, not a refusal") {
  Fixture f;
  // The proxy let the command through and replaced Namecheap's answer with its own page.
  f.fake.InjectFault(kCreate, Fault::HttpStatus(403,
                                                "<html><body><h1>403 Forbidden</h1>"
                                                "</body></html>",
                                                /*applied=*/true));
  auto r = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().OutcomeUnknown());
  CHECK(r.code() == ErrorCode::kUnknownOutcome);
  CHECK(Contains(r.error().message, "HTTP 403"));
  CHECK(f.fake.OwnedDomains() == std::vector<std::string>{"example-shop.com"});
  CHECK(f.fake.RequestCount(kCreate) == 1);
}

TEST_CASE("a create answered with any non-XML 4xx, 3xx or empty reply is an unknown outcome") {
  for (int status : {400, 401, 404, 407, 409, 429, 451, 301, 204}) {
    CAPTURE(status);
    Fixture f;
    f.fake.InjectFault(kCreate, Fault::HttpStatus(status, status == 204 ? "" : "denied"));
    auto r = f.client->Create({"example-shop.com", 1, 0});
    REQUIRE_FALSE(r);
    CHECK(r.error().OutcomeUnknown());
    CHECK(f.fake.RequestCount(kCreate) == 1);
  }
}

TEST_CASE("the same non-XML 4xx on a read is unavailable and retried, never unknown") {
  Fixture f;
  f.fake.InjectFault(kGetInfo, Fault::HttpStatus(403));
  f.fake.AddOwnedDomain("example-shop.com");
  auto r = f.client->GetInfo("example-shop.com");
  REQUIRE(r);
  CHECK(f.fake.RequestCount(kGetInfo) == 2);
  for (int i = 0; i < 3; ++i) f.fake.InjectFault(kBalances, Fault::HttpStatus(403));
  auto b = f.client->Balance();
  REQUIRE_FALSE(b);
  CHECK(b.code() == ErrorCode::kUnavailable);
}

TEST_CASE("a create refusal is definite only when every error in it is a known refusal") {
  Fixture f;
  // A known refusal beside an unclassified provider error: what happened is not known.
  f.fake.InjectFault(kCreate,
                     Fault::HttpStatus(200, Envelope("namecheap.domains.create", "ERROR",
                                                     "<Error Number=\"2015182\">Phone number is "
                                                     "invalid</Error><Error Number=\"3031900\">"
                                                     "Unknown response from provider</Error>",
                                                     "")));
  auto mixed = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(mixed);
  CHECK(mixed.error().OutcomeUnknown());
  CHECK(Contains(mixed.error().message, "3031900"));

  // Status="ERROR" without any Error element says nothing.
  f.fake.InjectFault(kCreate,
                     Fault::HttpStatus(200, Envelope("namecheap.domains.create", "ERROR", "", "")));
  auto bare = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(bare);
  CHECK(bare.error().OutcomeUnknown());

  // Two known refusals stay a definite refusal.
  f.fake.InjectFault(kCreate,
                     Fault::HttpStatus(200, Envelope("namecheap.domains.create", "ERROR",
                                                     "<Error Number=\"2015182\">Phone number is "
                                                     "invalid</Error><Error Number=\"2011280\">TLD "
                                                     "is invalid</Error>",
                                                     "")));
  auto known = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(known);
  CHECK(known.error().Definite());
  CHECK(known.error().kind == Kind::kInvalidRequest);
}

TEST_CASE("a create reply that says OK and carries an error is an unknown outcome") {
  Fixture f;
  f.fake.InjectFault(kCreate, Fault::HttpStatus(200, Envelope("namecheap.domains.create", "OK",
                                                              "<Error Number=\"3019166\">"
                                                              "Domain not available</Error>",
                                                              kCreateResult)));
  auto r = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().OutcomeUnknown());
}

TEST_CASE("create reports the domain and the charge the registrar answered, not the request's") {
  Fixture f;
  f.fake.ScriptCreateAnswer("coolname.com", {"c00lname.com", "2500.0000"});
  auto r = f.client->Create({"coolname.com", 1, 0});
  REQUIRE(r);
  CHECK(r->domain == "c00lname.com");
  CHECK(r->charged_usd_micros == 2'500'000'000);
}

TEST_CASE("a create success without the Domain attribute is an unknown outcome") {
  Fixture f;
  f.fake.InjectFault(kCreate, Fault::MissingAttribute("Domain"));
  auto r = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kMalformedResponse);
  CHECK(r.error().OutcomeUnknown());
  CHECK(Contains(r.error().message, "Domain"));
  // It did register: only the registrar can tell later.
  CHECK(f.fake.OwnedDomains() == std::vector<std::string>{"example-shop.com"});
}

TEST_CASE("a create success with an empty Domain or ChargedAmount is an unknown outcome") {
  Fixture f;
  for (const char* attribute : {"Domain=\"\"", "ChargedAmount=\"\"", "ChargedAmount=\"-1\""}) {
    CAPTURE(attribute);
    std::string body = kCreateResult;
    std::string name = std::string(attribute).substr(0, std::string(attribute).find('='));
    size_t at = body.find(name + "=\"");
    REQUIRE(at != std::string::npos);
    size_t end = body.find('"', body.find('"', at) + 1);
    body.replace(at, end + 1 - at, attribute);
    f.fake.InjectFault(
        kCreate, Fault::HttpStatus(200, Envelope("namecheap.domains.create", "OK", "", body)));
    auto r = f.client->Create({"example-shop.com", 1, 0});
    REQUIRE_FALSE(r);
    CHECK(r.error().OutcomeUnknown());
  }
}

TEST_CASE("a create answered with two results is an unknown outcome") {
  Fixture f;
  std::string two = kCreateResult;
  two.insert(two.find("  </CommandResponse>"),
             "    <DomainCreateResult Domain=\"other-shop.com\" Registered=\"true\" "
             "ChargedAmount=\"9.7600\" />\n");
  f.fake.InjectFault(kCreate,
                     Fault::HttpStatus(200, Envelope("namecheap.domains.create", "OK", "", two)));
  auto r = f.client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().OutcomeUnknown());
}

TEST_CASE("create without a complete contact is refused before anything is sent") {
  Fixture f;
  auto client = f.MakeWith([](NamecheapConfig& c) { c.contact.phone = "555-1234"; });
  auto r = client->Create({"example-shop.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kInvalidRequest);
  CHECK(r.error().Definite());
  CHECK(Contains(r.error().message, "phone"));
  CHECK(f.fake.TotalRequests() == 0);
  CHECK_FALSE(NamecheapRegistrar::ValidateContact(NamecheapContact{}));
  CHECK(NamecheapRegistrar::ValidateContact(f.fake.ClientConfig().contact));
}

// ---- domains.getInfo / getList ----

TEST_CASE("GetInfo reads status, dates and ownership of one of our domains") {
  Fixture f;
  f.fake.AddOwnedDomain("example-shop.com", "09/03/2024");
  auto r = f.client->GetInfo("example-shop.com");
  REQUIRE(r);
  CHECK(r->domain == "example-shop.com");
  CHECK(r->status == "Ok");
  CHECK(r->is_ours);
  CHECK(r->created_date == "2024-09-03");
  CHECK(r->expires_date == "2025-09-03");
  CHECK_FALSE(r->domain_id.empty());
}

TEST_CASE("GetInfo of a domain outside our account is not found") {
  Fixture f;
  f.fake.SetTaken("someone-elses.com");
  auto unknown = f.client->GetInfo("never-registered.com");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().kind == Kind::kNotFound);
  CHECK(unknown.code() == ErrorCode::kNotFound);
  auto foreign = f.client->GetInfo("someone-elses.com");
  REQUIRE_FALSE(foreign);
  CHECK(foreign.error().number == 2016166);
  CHECK(foreign.error().kind == Kind::kNotFound);
}

TEST_CASE("GetInfo is not-found exactly when Namecheap says the account lacks the name") {
  struct Case {
    int64_t number;
    const char* text;
    bool not_found;
  };
  const Case cases[] = {
      {2019166, "Domain name not found", true},
      {2016166, "Domain is not associated with your account", true},
      {4011103, "DomainName not Available", true},
      {4011103, "UserName not Available", false},
      {4011103, "Access denied", false},
      {2030166, "Domain name is invalid", false},
      {3019166, "Domain not available", false},
      {1011150, "Invalid request IP: 203.0.113.7", false},
      {1011102, "API Key is invalid or API access has not been enabled", false},
      {2011166, "Parameter DomainName is missing", false},
      {5019169, "Unknown exceptions", false},
      {0, "Something else", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.number);
    CAPTURE(c.text);
    Fixture f;
    for (int i = 0; i < 3; ++i) f.fake.InjectFault(kGetInfo, Fault::ApiError(c.number, c.text));
    auto r = f.client->GetInfo("example-shop.com");
    REQUIRE_FALSE(r);
    CHECK((r.error().kind == Kind::kNotFound) == c.not_found);
    CHECK(r.code() == (c.not_found ? ErrorCode::kNotFound : ErrorCode::kUnavailable));
  }
}

TEST_CASE("GetInfo's not-found is believed only from a plain error reply") {
  Fixture f;
  // Not found beside an unclassified error, and not found under Status="OK": neither says the
  // account lacks the name.
  f.fake.InjectFault(kGetInfo,
                     Fault::HttpStatus(200, Envelope("namecheap.domains.getinfo", "ERROR",
                                                     "<Error Number=\"2019166\">Domain name not "
                                                     "found</Error><Error Number=\"5050900\">"
                                                     "Unhandled exception</Error>",
                                                     "")));
  auto mixed = f.client->GetInfo("example-shop.com");
  REQUIRE_FALSE(mixed);
  CHECK(mixed.error().kind != Kind::kNotFound);
  CHECK(mixed.code() == ErrorCode::kUnavailable);

  f.fake.InjectFault(kGetInfo,
                     Fault::HttpStatus(200, Envelope("namecheap.domains.getinfo", "OK",
                                                     "<Error Number=\"2019166\">Domain name "
                                                     "not found</Error>",
                                                     "")));
  auto contradictory = f.client->GetInfo("example-shop.com");
  REQUIRE_FALSE(contradictory);
  CHECK(contradictory.error().kind != Kind::kNotFound);
  CHECK(contradictory.code() == ErrorCode::kUnavailable);

  for (int i = 0; i < 3; ++i) f.fake.InjectFault(kGetInfo, Fault::HttpStatus(404, "Not Found"));
  auto proxy = f.client->GetInfo("example-shop.com");
  REQUIRE_FALSE(proxy);
  CHECK(proxy.error().kind != Kind::kNotFound);
  CHECK(proxy.code() == ErrorCode::kUnavailable);
}

TEST_CASE("GetInfo answering about another domain is not believed") {
  Fixture f;
  f.fake.AddOwnedDomain("someone-else.com");
  std::string body =
      "  <CommandResponse Type=\"namecheap.domains.getInfo\">\n"
      "    <DomainGetInfoResult Status=\"Ok\" ID=\"429211\" DomainName=\"someone-else.com\" "
      "OwnerName=\"apiuser\" IsOwner=\"true\" IsPremium=\"false\" />\n"
      "  </CommandResponse>\n";
  f.fake.InjectFault(kGetInfo,
                     Fault::HttpStatus(200, Envelope("namecheap.domains.getinfo", "OK", "", body)));
  auto r = f.client->GetInfo("example-shop.com");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kMalformedResponse);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(Contains(r.error().message, "someone-else.com"));
}

TEST_CASE("a lagging registrar answers not found for a just-created name, then finds it") {
  Fixture f;
  f.fake.SetInfoLag(2);
  REQUIRE(f.client->Create({"example-shop.com", 1, 0}));
  for (int i = 0; i < 2; ++i) {
    auto early = f.client->GetInfo("example-shop.com");
    REQUIRE_FALSE(early);
    CHECK(early.error().kind == Kind::kNotFound);
    CHECK(early.error().number == 2019166);
  }
  auto later = f.client->GetInfo("example-shop.com");
  REQUIRE(later);
  CHECK(later->is_ours);
}

TEST_CASE("List pages through every domain of the account") {
  Fixture f;
  for (int i = 0; i < 130; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "domain-%03d.com", i);
    f.fake.AddOwnedDomain(name);
  }
  auto r = f.client->List();
  REQUIRE(r);
  REQUIRE(r->size() == 130);
  CHECK((*r)[0].domain == "domain-000.com");
  CHECK((*r)[129].domain == "domain-129.com");
  CHECK((*r)[0].is_ours);
  CHECK((*r)[0].status == "Ok");
  CHECK((*r)[0].created_date == "2024-09-03");
  CHECK(f.fake.RequestCount(kGetList) == 2);
}

TEST_CASE("List of an account without domains is empty") {
  Fixture f;
  auto r = f.client->List();
  REQUIRE(r);
  CHECK(r->empty());
}

// ---- users.getBalances ----

TEST_CASE("Balance parses the account's funds exactly") {
  Fixture f;
  f.fake.SetBalance("120.50");
  auto r = f.client->Balance();
  REQUIRE(r);
  CHECK(r->currency == "USD");
  CHECK(r->available_usd_micros == 120'500'000);
  CHECK(r->account_balance_usd_micros == 120'500'000);
  CHECK(r->funds_required_for_auto_renew_usd_micros == 10'980'000);
}

TEST_CASE("a balance reply without AvailableBalance is malformed, not a crash") {
  Fixture f;
  f.fake.InjectFault(kBalances, Fault::MissingAttribute("AvailableBalance"));
  auto r = f.client->Balance();
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kMalformedResponse);
  CHECK(Contains(r.error().message, "AvailableBalance"));
}

// ---- envelope, errors, retries ----

TEST_CASE("unexpected extra attributes and elements are ignored by every command") {
  Fixture f;
  f.fake.SetExtraAttributes(true);
  f.fake.SetPremium("shop.xyz", "2500.0000");
  auto check = f.client->Check({"example-shop.com", "shop.xyz"});
  REQUIRE(check);
  CHECK((*check)[1].premium);
  REQUIRE(f.client->Price("com", 1));
  REQUIRE(f.client->Create({"example-shop.com", 1, 0}));
  REQUIRE(f.client->GetInfo("example-shop.com"));
  auto list = f.client->List();
  REQUIRE(list);
  CHECK(list->size() == 1);
  REQUIRE(f.client->Balance());
}

TEST_CASE("a wrong API key is an auth error and is not retried") {
  Fixture f;
  auto client = f.MakeWith([](NamecheapConfig& c) { c.api_key = "wrong-key-123"; });
  auto r = client->Balance();
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kAuth);
  CHECK(r.error().number == 1011102);
  CHECK(f.fake.RequestCount(kBalances) == 1);
}

TEST_CASE("a wrong user name is an auth error") {
  Fixture f;
  auto client = f.MakeWith([](NamecheapConfig& c) { c.username = "someone"; });
  auto r = client->Check({"example-shop.com"});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kAuth);
}

TEST_CASE("a client IP that is not whitelisted is its own kind and names the address") {
  Fixture f;
  auto client = f.MakeWith([](NamecheapConfig& c) { c.client_ip = "198.51.100.23"; });
  auto r = client->Price("com", 1);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kIpNotWhitelisted);
  CHECK(r.error().number == 1011150);
  CHECK(Contains(r.error().message, "198.51.100.23"));
}

TEST_CASE("a non-XML body on a read is a malformed response") {
  Fixture f;
  f.fake.InjectFault(kGetInfo, Fault::NotXml());
  auto r = f.client->GetInfo("example-shop.com");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kMalformedResponse);
  CHECK(r.code() == ErrorCode::kUnavailable);  // reads never report an unknown outcome
  CHECK(Contains(r.error().message, "not an XML ApiResponse"));
}

TEST_CASE("every Error element of a reply is reported") {
  Fixture f;
  f.fake.InjectFault(kBalances, Fault::ApiError(4022312, "Balance information not available"));
  auto r = f.client->Balance();
  REQUIRE_FALSE(r);
  CHECK(r.error().number == 4022312);
  CHECK(Contains(r.error().message, "[4022312] Balance information not available"));
}

TEST_CASE("a read answered with HTTP 5xx is retried with exponential backoff, then succeeds") {
  Fixture f;
  auto client = f.MakeWith([](NamecheapConfig& c) { c.retry_base_delay = milliseconds(500); });
  f.fake.InjectFault(kBalances, Fault::HttpStatus(503));
  f.fake.InjectFault(kBalances, Fault::HttpStatus(502));
  auto r = client->Balance();
  REQUIRE(r);
  CHECK(f.fake.RequestCount(kBalances) == 3);
  CHECK(f.Sleeps() == std::vector<milliseconds>{milliseconds(500), milliseconds(1000)});
}

TEST_CASE("a read stops after three attempts and reports the service unavailable") {
  Fixture f;
  for (int i = 0; i < 5; ++i) f.fake.InjectFault(kCheck, Fault::HttpStatus(500));
  auto r = f.client->Check({"example-shop.com"});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kTransport);
  CHECK(r.code() == ErrorCode::kUnavailable);
  CHECK(f.fake.RequestCount(kCheck) == 3);
  CHECK(f.Sleeps().size() == 2);
}

TEST_CASE("a read that times out is retried") {
  Fixture f;
  auto client = f.MakeWith([](NamecheapConfig& c) { c.http.read_timeout = milliseconds(300); });
  f.fake.InjectFault(kGetList, Fault::Hang());
  auto r = client->List();
  REQUIRE(r);
  CHECK(f.fake.RequestCount(kGetList) == 2);
}

TEST_CASE("rate limiting (HTTP 405) is retried for reads and then reported as rate limited") {
  Fixture f;
  f.fake.SetRateLimitBudget(0);
  auto r = f.client->Balance();
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kRateLimited);
  CHECK(f.fake.RequestCount(kBalances) == 3);
  f.fake.SetRateLimitBudget(-1);
  Fixture g;
  g.fake.InjectFault(kBalances, Fault::HttpStatus(429, "slow down"));
  CHECK(g.client->Balance());
  CHECK(g.fake.RequestCount(kBalances) == 2);
}

TEST_CASE("Namecheap's retryable server errors are retried for reads") {
  Fixture f;
  f.fake.InjectFault(kGetInfo, Fault::ApiError(5050900, "Unhandled exception"));
  f.fake.AddOwnedDomain("example-shop.com");
  auto r = f.client->GetInfo("example-shop.com");
  REQUIRE(r);
  CHECK(f.fake.RequestCount(kGetInfo) == 2);
}

TEST_CASE("the API key never appears in error messages or log lines") {
  Fixture f;
  const std::string key = FakeNamecheapServer::kApiKey;
  ScopedLogCapture capture;
  // An error text that echoes the key, a transport failure, and a malformed body.
  f.fake.InjectFault(kCreate, Fault::ApiError(3031900, "provider said: key=" + key));
  auto echoed = f.client->Create({"example-shop.com", 1, 0});
  for (int i = 0; i < 3; ++i) {
    f.fake.InjectFault(kBalances, Fault::HttpStatus(500, "<html>" + key + "</html>"));
  }
  auto failed_read = f.client->Balance();
  f.fake.InjectFault(kCheck, Fault::HttpStatus(200, "oops " + key));
  auto malformed = f.client->Check({"example-shop.com"});
  std::string logs = capture.Text();

  REQUIRE_FALSE(echoed);
  REQUIRE_FALSE(failed_read);
  REQUIRE_FALSE(malformed);
  for (const auto* message :
       {&echoed.error().message, &failed_read.error().message, &malformed.error().message}) {
    CAPTURE(*message);
    CHECK_FALSE(Contains(*message, key));
  }
  CHECK(Contains(echoed.error().message, "[redacted]"));
  CHECK(Contains(malformed.error().message, "[redacted]"));
  CHECK_FALSE(logs.empty());
  CHECK_FALSE(Contains(logs, key));
}

TEST_CASE("a config without credentials or with a bad URL is refused at construction") {
  TestEnvironment env(kNow);
  NamecheapConfig c;
  c.api_user = "u";
  c.api_key = "k";
  c.username = "u";
  c.client_ip = "203.0.113.7";
  CHECK(NamecheapRegistrar::FromConfig(c, env));
  NamecheapConfig no_key = c;
  no_key.api_key.clear();
  auto r = NamecheapRegistrar::FromConfig(no_key, env);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
  CHECK(Contains(r.error().message, "api_key"));
  NamecheapConfig bad_url = c;
  bad_url.api_url = "api.namecheap.com/xml.response";
  CHECK_FALSE(NamecheapRegistrar::FromConfig(bad_url, env));
}

TEST_CASE("the fake also answers GET query strings with parameter names in any case") {
  FakeNamecheapServer fake;
  HttpClient http(*HttpUrl::Parse(fake.url()), {});
  std::string query =
      std::string("?apiuser=") + FakeNamecheapServer::kApiUser +
      "&APIKEY=" + FakeNamecheapServer::kApiKey + "&username=" + FakeNamecheapServer::kUserName +
      "&clientip=" + FakeNamecheapServer::kClientIp + "&command=NAMECHEAP.USERS.GETBALANCES";
  auto r = http.Get(query);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(Contains(r->body, "AvailableBalance=\"1000.0000\""));
  CHECK(Contains(r->body, "<RequestedCommand>namecheap.users.getbalances</RequestedCommand>"));
  auto missing = http.Get("?ApiUser=apiuser&Command=namecheap.users.getBalances");
  REQUIRE(missing);
  CHECK(Contains(missing->body, "Number=\"1010102\""));
  CHECK(Contains(missing->body, "<RequestedCommand />"));
}

TEST_CASE("the Namecheap registrar is not a demo") {
  Fixture f;
  CHECK_FALSE(f.client->IsDemo());
  CHECK(f.client->Name() == "namecheap");
}

TEST_CASE("a registrar failure converts to a plain Result with the same code") {
  Fixture f;
  f.fake.SetTaken("taken-name.com");
  Result<CreateResult> plain = f.client->Create({"taken-name.com", 1, 0}).ToResult();
  REQUIRE_FALSE(plain);
  CHECK(plain.code() == ErrorCode::kFailedPrecondition);
  CHECK(RegistrarFailureKindName(Kind::kDomainNotAvailable) == "domain_not_available");
}

// ---- domains.getTldList and internationalised names ----

TEST_CASE("the extension list is parsed from getTldList's real format and cached") {
  Fixture f;
  f.fake.SetTldList(
      {{"com"}, {"co.uk", true, false, 1, 10}, {"xyz", false}, {"de", true, true, 1, 5}});
  auto list = f.client->OfferedTlds();
  REQUIRE(list);
  REQUIRE(list->size() == 3);  // .xyz is not registrable through the API
  CHECK((*list)[0].name == "com");
  CHECK((*list)[0].supports_idn);
  CHECK((*list)[1].name == "co.uk");
  CHECK_FALSE((*list)[1].supports_idn);
  CHECK((*list)[2].name == "de");
  CHECK((*list)[2].max_years == 5);
  // A second lookup within the TTL makes no request; after it, one more.
  REQUIRE(f.client->OfferedTlds());
  f.clock.Advance(86399 * 1000);
  REQUIRE(f.client->OfferedTlds());
  CHECK(f.fake.RequestCount(kTldList) == 1);
  f.clock.Advance(1000);
  REQUIRE(f.client->OfferedTlds());
  CHECK(f.fake.RequestCount(kTldList) == 2);
}

TEST_CASE("a failed getTldList is unavailable, not an empty list, and is not cached") {
  Fixture f;
  f.fake.InjectFault(kTldList, Fault::NotXml());
  auto failed = f.client->OfferedTlds();
  REQUIRE_FALSE(failed);
  CHECK(failed.error().code == ErrorCode::kUnavailable);
  auto list = f.client->OfferedTlds();
  REQUIRE(list);
  CHECK_FALSE(list->empty());
  CHECK(f.fake.RequestCount(kTldList) == 2);
}

TEST_CASE("a getTldList answer to another command is not believed") {
  Fixture f;
  const std::string other =
      Envelope("namecheap.domains.getlist", "OK", "",
               "  <CommandResponse Type=\"namecheap.domains.getList\">\n"
               "    <Tlds><Tld Name=\"evil\" IsApiRegisterable=\"true\">Evil</Tld></Tlds>\n"
               "  </CommandResponse>\n");
  f.fake.InjectFault(kTldList, Fault::HttpStatus(200, other));
  auto r = f.client->OfferedTlds();
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kMalformedResponse);
  CHECK(Contains(r.error().message, "reply to \"namecheap.domains.getList\""));
}

TEST_CASE("a getTldList answer with more entries than any registrar sells is refused") {
  std::string tlds;
  for (size_t i = 0; i <= kMaxTldListEntries; ++i) {
    tlds += "<Tld Name=\"t" + std::to_string(i) + "\" IsApiRegisterable=\"true\">T</Tld>";
  }
  const std::string body =
      Envelope("namecheap.domains.gettldlist", "OK", "",
               "  <CommandResponse Type=\"namecheap.domains.getTldList\"><Tlds>" + tlds +
                   "</Tlds></CommandResponse>\n");
  auto r = ParseTldListResponse(body);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kMalformedResponse);
  auto huge = ParseTldListResponse(std::string(kMaxTldListBody + 1, ' '));
  REQUIRE_FALSE(huge);
  CHECK(huge.error().kind == Kind::kMalformedResponse);
}

TEST_CASE("getTldList entries that are no extension are skipped, not offered") {
  const std::string body =
      Envelope("namecheap.domains.gettldlist", "OK", "",
               "  <CommandResponse Type=\"namecheap.domains.getTldList\"><Tlds>"
               "<Tld Name=\".COM\" IsApiRegisterable=\"true\" IsSupportsIDN=\"true\">Com</Tld>"
               "<Tld Name=\"com\" IsApiRegisterable=\"true\">Duplicate</Tld>"
               "<Tld Name=\"a b\" IsApiRegisterable=\"true\">Space</Tld>"
               "<Tld Name=\"\" IsApiRegisterable=\"true\">Empty</Tld>"
               "<Tld Name=\"co..uk\" IsApiRegisterable=\"true\">Dots</Tld>"
               "</Tlds></CommandResponse>\n");
  auto r = ParseTldListResponse(body);
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].name == "com");
  CHECK((*r)[0].supports_idn);
}

TEST_CASE("create of an internationalised name sends it as xn-- with the IdnCode of its script") {
  Fixture f;
  REQUIRE(f.client->Create({"xn--bj0bj3i97fq8o5lq.com", 1, 0}));  // 한글도메인.com
  auto p = f.fake.LastParams(kCreate);
  CHECK(p["domainname"] == "xn--bj0bj3i97fq8o5lq.com");
  CHECK(p["idncode"] == "kor");
  REQUIRE(f.client->Create({"example-shop.com", 1, 0}));
  CHECK(f.fake.LastParams(kCreate).count("idncode") == 0);
}

TEST_CASE("create of a mixed-script xn-- name is refused before anything is sent") {
  Fixture f;
  auto r = f.client->Create({"xn--ypal-43d9g.com", 1, 0});  // раypal.com
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kInvalidRequest);
  CHECK(r.error().Definite());
  CHECK(f.fake.RequestCount(kCreate) == 0);
}

TEST_CASE("GetInfo answering in Unicode about the asked xn-- name is believed, another is not") {
  Fixture f;
  auto info_reply = [](const std::string& name) {
    return Envelope("namecheap.domains.getinfo", "OK", "",
                    "  <CommandResponse Type=\"namecheap.domains.getInfo\">\n"
                    "    <DomainGetInfoResult Status=\"Ok\" ID=\"1\" DomainName=\"" +
                        name +
                        "\" OwnerName=\"apiuser\" IsOwner=\"true\" IsPremium=\"false\" />\n"
                        "  </CommandResponse>\n");
  };
  f.fake.InjectFault(kGetInfo, Fault::HttpStatus(200, info_reply("한글도메인.com")));
  auto same = f.client->GetInfo("xn--bj0bj3i97fq8o5lq.com");
  REQUIRE(same);
  CHECK(same->is_ours);
  f.fake.InjectFault(kGetInfo, Fault::HttpStatus(200, info_reply("한글도메인.co")));
  auto other = f.client->GetInfo("xn--bj0bj3i97fq8o5lq.com");
  REQUIRE_FALSE(other);
  CHECK(other.error().kind == Kind::kMalformedResponse);
}
