// Domain names as people type them, from the quote to the registrar's create: whole domains
// from the Public Suffix List, extensions the registrar offers, internationalised names shown
// in Unicode and stored and sent in their one ASCII form.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/environment.h"
#include "db/order_repository.h"
#include "registrar/demo_registrar.h"
#include "registrar/namecheap_registrar.h"
#include "tests/fakes/fake_namecheap_server.h"
#include "tests/fakes/ledger_builder.h"
#include "tools/purchase_service.h"

using namespace depositbot;
using namespace depositbot::testing;
using State = DomainOrder::State;
using Fault = FakeNamecheapServer::Fault;

namespace {

const char* kHangul = "한글도메인.com";
const char* kHangulAscii = "xn--bj0bj3i97fq8o5lq.com";
const char* kHangulShown = "한글도메인.com (xn--bj0bj3i97fq8o5lq.com)";
const char* kCreate = "namecheap.domains.create";
const char* kTldList = "namecheap.domains.getTldList";

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Books and orders on a test database, bought through `registrar`.
struct Books {
  TestDb t{TestDb::kFile};
  DepositRepository deposits{t.db(), t.clock()};
  OrderRepository orders{t.db(), t.clock()};
  LedgerBuilder builder{t.db(), t.clock()};

  int64_t UserWith(int64_t tg, int64_t balance) {
    return builder.User(tg, "user" + std::to_string(tg)).Balance(balance).Build().id;
  }
  int64_t Balance(int64_t user) { return deposits.GetAccount(user)->balance; }
  std::string StoredDomains() {
    return JoinedRows(t.db(), "SELECT domain AS x FROM domain_orders");
  }
};

struct DemoShop : Books {
  DemoRegistrar registrar{t.clock()};
  PurchaseService purchases{deposits, orders, registrar, t.clock(), PricingOptions{}};
};

struct NamecheapShop : Books {
  FakeNamecheapServer fake;
  TestEnvironment env;
  std::unique_ptr<NamecheapRegistrar> registrar;
  std::unique_ptr<PurchaseService> purchases;

  NamecheapShop() {
    fake.SetTldPrice("de", "6.98", "0");
    auto r = NamecheapRegistrar::FromConfig(fake.ClientConfig(), env);
    REQUIRE(r);
    registrar = std::move(*r);
    purchases = std::make_unique<PurchaseService>(deposits, orders, *registrar, t.clock(),
                                                  PricingOptions{});
  }
};

}  // namespace

TEST_CASE(
    "한글도메인.com is quoted and bought through the demo registrar, shown in Unicode, "
    "stored as xn--") {
  DemoShop s;
  int64_t u = s.UserWith(1, 5000);

  auto offers = s.purchases.Check({kHangul});
  REQUIRE(offers);
  REQUIRE(offers->size() == 1);
  CHECK((*offers)[0].valid);
  CHECK((*offers)[0].available);
  CHECK((*offers)[0].domain == kHangulAscii);
  CHECK((*offers)[0].shown == kHangulShown);

  auto quote = s.purchases.Quote(u, kHangul, 1);
  REQUIRE(quote);
  CHECK(quote->domain == kHangulAscii);
  CHECK(quote->price == 1028);
  auto bought = s.purchases.Confirm(u, quote->id);
  REQUIRE(bought);
  CHECK(bought->order.state == State::kRegistered);
  CHECK(bought->message == std::string(kHangulShown) +
                               " is registered to you for 1 year; 10.28 USD was taken from your "
                               "balance.");
  CHECK(s.Balance(u) == 5000 - 1028);
  CHECK(s.StoredDomains() == kHangulAscii);
  auto info = s.registrar.GetInfo(kHangulAscii);
  REQUIRE(info);
  CHECK(info->is_ours);

  // Another spelling of the same name is the same name: it is taken now.
  auto again = s.purchases.Quote(u, "XN--BJ0BJ3I97FQ8O5LQ.COM", 1);
  REQUIRE_FALSE(again);
  CHECK(again.code() == ErrorCode::kFailedPrecondition);
  CHECK(again.error().message == std::string(kHangulShown) + " is already taken");
}

TEST_CASE("münchen.de is quoted under .de and stored in its ASCII form") {
  DemoShop s;
  int64_t u = s.UserWith(1, 5000);
  auto quote = s.purchases.Quote(u, "MÜNCHEN.de", 1);
  REQUIRE(quote);
  CHECK(quote->domain == "xn--mnchen-3ya.de");
  CHECK(quote->price == 698);
  CHECK(ShownDomainName(quote->domain) == "münchen.de (xn--mnchen-3ya.de)");
}

TEST_CASE("shop.co.kr and shop.co.uk are whole domains; www.shop.co.uk names shop.co.uk instead") {
  DemoShop s;
  auto offers = s.purchases.Check({"my-store.co.kr", "my-store.co.uk", "www.my-store.co.uk"});
  REQUIRE(offers);
  REQUIRE(offers->size() == 3);
  CHECK((*offers)[0].valid);
  CHECK((*offers)[0].price == 2198);  // demo .co.kr, not .kr
  CHECK((*offers)[1].valid);
  CHECK((*offers)[1].price == 798);
  CHECK_FALSE((*offers)[2].valid);
  CHECK((*offers)[2].note ==
        "\"www.my-store.co.uk\" is a subdomain of my-store.co.uk; only whole domains can be "
        "registered, so you could buy my-store.co.uk instead.");
}

TEST_CASE("an extension the registrar does not offer is refused naming the offered ones") {
  DemoShop s;
  int64_t u = s.UserWith(1, 5000);
  auto quote = s.purchases.Quote(u, "my-store.ru", 1);
  REQUIRE_FALSE(quote);
  CHECK(quote.code() == ErrorCode::kInvalid);
  CHECK(quote.error().message ==
        "Domains ending in .ru are not offered by the registrar. Offered: .com, .net, .org, .io, "
        ".co, .me, .app, .dev, .xyz, .info and 6 more.");
  CHECK(s.StoredDomains().empty());
  CHECK(s.Balance(u) == 5000);
}

TEST_CASE("한글도메인.com is bought from Namecheap as xn-- with IdnCode kor") {
  NamecheapShop s;
  int64_t u = s.UserWith(1, 5000);
  auto quote = s.purchases->Quote(u, kHangul, 1);
  REQUIRE(quote);
  CHECK(quote->domain == kHangulAscii);
  auto bought = s.purchases->Confirm(u, quote->id);
  REQUIRE(bought);
  CHECK(bought->order.state == State::kRegistered);
  auto p = s.fake.LastParams(kCreate);
  CHECK(p["domainname"] == kHangulAscii);
  CHECK(p["idncode"] == "kor");
  CHECK(s.fake.OwnedDomains() == std::vector<std::string>{kHangulAscii});
  CHECK(s.StoredDomains() == kHangulAscii);
}

TEST_CASE("münchen.de is bought from Namecheap with IdnCode ger; an ASCII name carries none") {
  NamecheapShop s;
  int64_t u = s.UserWith(1, 5000);
  auto munich = s.purchases->Quote(u, "münchen.de", 1);
  REQUIRE(munich);
  REQUIRE(s.purchases->Confirm(u, munich->id));
  CHECK(s.fake.LastParams(kCreate)["domainname"] == "xn--mnchen-3ya.de");
  CHECK(s.fake.LastParams(kCreate)["idncode"] == "ger");

  auto plain = s.purchases->Quote(u, "plain-name.com", 1);
  REQUIRE(plain);
  REQUIRE(s.purchases->Confirm(u, plain->id));
  CHECK(s.fake.LastParams(kCreate).count("idncode") == 0);
}

TEST_CASE("a mixed-script name is refused before the registrar is asked anything") {
  NamecheapShop s;
  int64_t u = s.UserWith(1, 5000);
  auto quote = s.purchases->Quote(u, "раypal.com", 1);
  REQUIRE_FALSE(quote);
  CHECK(quote.code() == ErrorCode::kInvalid);
  CHECK(Has(quote.error().message, "mixes Latin and Cyrillic"));
  CHECK(s.fake.TotalRequests() == 0);
}

TEST_CASE("Namecheap's extension list decides what is offered, and is fetched once") {
  NamecheapShop s;
  s.fake.SetTldList({{"com"}, {"net"}, {"xyz", true, false}, {"io", false}});
  int64_t u = s.UserWith(1, 5000);
  auto io = s.purchases->Quote(u, "my-store.io", 1);  // priced, but not registrable by API
  REQUIRE_FALSE(io);
  CHECK(io.code() == ErrorCode::kInvalid);
  CHECK(io.error().message ==
        "Domains ending in .io are not offered by the registrar. Offered: .com, .net, .xyz.");
  auto idn_xyz = s.purchases->Quote(u, "한글.xyz", 1);  // .xyz takes no IDNs here
  REQUIRE_FALSE(idn_xyz);
  CHECK(Has(idn_xyz.error().message, "not offered under .xyz"));
  CHECK(s.purchases->Quote(u, "my-store.com", 1));
  CHECK(s.fake.RequestCount(kTldList) == 1);
}

TEST_CASE("a failed extension list is 'could not check, try again', never 'not offered'") {
  NamecheapShop s;
  int64_t u = s.UserWith(1, 5000);
  s.fake.InjectFault(kTldList, Fault::NotXml());
  auto quote = s.purchases->Quote(u, "my-store.com", 1);
  REQUIRE_FALSE(quote);
  CHECK(quote.code() == ErrorCode::kUnavailable);
  CHECK(Has(quote.error().message, "I could not check which extensions the registrar offers"));
  CHECK(Has(quote.error().message, "try again"));
  CHECK_FALSE(Has(quote.error().message, "not offered"));
  auto check = s.purchases->Check({"my-store.com"});
  REQUIRE(check);  // the failure was not cached
  CHECK((*check)[0].available);
}

TEST_CASE(
    "a create answer in another spelling of the ordered name is believed; another name "
    "is not") {
  NamecheapShop s;
  int64_t u = s.UserWith(1, 5000);
  s.fake.ScriptCreateAnswer(kHangulAscii, {kHangul, ""});  // answered in Unicode
  auto quote = s.purchases->Quote(u, kHangul, 1);
  REQUIRE(quote);
  auto bought = s.purchases->Confirm(u, quote->id);
  REQUIRE(bought);
  CHECK(bought->order.state == State::kRegistered);

  // "münchen.de.com" is another name: the answer is not believed, recovery will ask.
  s.fake.ScriptCreateAnswer("xn--mnchen-3ya.de", {"münchen.de.com", ""});
  auto munich = s.purchases->Quote(u, "münchen.de", 1);
  REQUIRE(munich);
  auto odd = s.purchases->Confirm(u, munich->id);
  REQUIRE(odd);
  CHECK(odd->order.state == State::kUnknown);
  CHECK(Has(odd->message, "did not match your order"));
}

TEST_CASE("confirming sends the stored name as quoted, never a re-reading of it") {
  // An order quoted under an older Public Suffix List (or an older version of these rules)
  // keeps its name: confirmation and the registrar call use it as stored.
  NamecheapShop s;
  int64_t u = s.UserWith(1, 5000);
  auto order = s.orders.CreateQuote(u, "blog.old-rules.com", 1, 976, 9'760'000, 0,
                                    s.t.clock().NowSeconds() + 600);
  REQUIRE(order);
  auto bought = s.purchases->Confirm(u, order->id);
  REQUIRE(bought);
  CHECK(bought->order.state == State::kRegistered);
  CHECK(s.fake.LastParams(kCreate)["domainname"] == "blog.old-rules.com");
  CHECK(s.StoredDomains() == "blog.old-rules.com");
}
