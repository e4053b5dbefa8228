#include "registrar/demo_registrar.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"

using namespace depositbot;

namespace {

// 2026-03-01T12:00:00Z
constexpr int64_t kNow = 1772366400000;

}  // namespace

TEST_CASE("the demo registrar says it is a demo") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  CHECK(demo.IsDemo());
  CHECK(demo.Name() == "demo");
  CHECK(kDemoRegistrarNotice == "demo registrar — nothing is really registered");
}

TEST_CASE("demo prices come from the built-in list, exactly") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  auto com = demo.Price("com", 1);
  REQUIRE(com);
  CHECK(com->per_year_usd_micros == 10'280'000);
  CHECK(com->total_usd_micros == 10'280'000);
  auto xyz = demo.Price(".XYZ", 3);
  REQUIRE(xyz);
  CHECK(xyz->tld == "xyz");
  CHECK(xyz->registration_usd_micros == 5'940'000);
  auto io = demo.Price("io", 2);
  REQUIRE(io);
  CHECK(io->total_usd_micros == 79'960'000);
}

TEST_CASE("demo pricing refuses unknown TLDs and impossible durations") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  auto ru = demo.Price("ru", 1);
  REQUIRE_FALSE(ru);
  CHECK(ru.error().kind == RegistrarFailure::Kind::kInvalidRequest);
  CHECK(ru.error().Definite());
  CHECK_FALSE(demo.Price("com", 0));
  CHECK_FALSE(demo.Price("com", 11));
}

TEST_CASE("demo availability follows the documented rules and is the same every time") {
  FixedClock clock(kNow);
  DemoRegistrar a(clock);
  DemoRegistrar b(clock);
  std::vector<std::string> names = {"example.com",   "google.io", "abc.net",
                                    "my-bakery.com", "shop.xyz",  "Fresh-Idea.ORG"};
  auto ra = a.Check(names);
  auto rb = b.Check(names);
  REQUIRE(ra);
  REQUIRE(rb);
  REQUIRE(ra->size() == 6);
  CHECK_FALSE((*ra)[0].available);  // example.*
  CHECK_FALSE((*ra)[1].available);  // google.*
  CHECK_FALSE((*ra)[2].available);  // first label shorter than 4
  CHECK((*ra)[3].available);
  CHECK_FALSE((*ra)[3].premium);
  CHECK((*ra)[4].available);
  CHECK((*ra)[4].premium);
  CHECK((*ra)[4].premium_price_usd_micros == DemoRegistrar::kPremiumPriceUsdMicros);
  CHECK((*ra)[5].domain == "fresh-idea.org");
  for (size_t i = 0; i < names.size(); ++i) {
    CHECK((*ra)[i].available == (*rb)[i].available);
    CHECK((*ra)[i].premium == (*rb)[i].premium);
  }
}

TEST_CASE("demo check refuses an invalid or unsupported name") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  auto r = demo.Check({"good-name.com", "bad_name.com"});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == RegistrarFailure::Kind::kInvalidRequest);
  CHECK(r.error().code == ErrorCode::kInvalid);
}

TEST_CASE("a demo create succeeds once, then the name is taken and listed as ours") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  auto created = demo.Create({"my-bakery.com", 2, 0});
  REQUIRE(created);
  CHECK(created->registered);
  CHECK(created->domain == "my-bakery.com");
  CHECK(created->charged_usd_micros == 20'560'000);
  CHECK_FALSE(created->order_id.empty());

  auto again = demo.Create({"my-bakery.com", 1, 0});
  REQUIRE_FALSE(again);
  CHECK(again.error().kind == RegistrarFailure::Kind::kDomainNotAvailable);
  CHECK(again.error().Definite());

  auto check = demo.Check({"my-bakery.com"});
  REQUIRE(check);
  CHECK_FALSE((*check)[0].available);

  auto info = demo.GetInfo("my-bakery.com");
  REQUIRE(info);
  CHECK(info->is_ours);
  CHECK(info->status == "Ok");
  CHECK(info->created_date == "2026-03-01");
  CHECK(info->expires_date == "2028-03-01");
  CHECK(info->domain_id == created->domain_id);

  auto list = demo.List();
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].domain == "my-bakery.com");
}

TEST_CASE("a demo create of a taken name fails definitely and registers nothing") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  auto r = demo.Create({"example.com", 1, 0});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == RegistrarFailure::Kind::kDomainNotAvailable);
  CHECK_FALSE(r.error().OutcomeUnknown());
  CHECK(demo.List()->empty());
}

TEST_CASE("a demo premium name needs its premium price on create") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  auto without = demo.Create({"cloud.dev", 1, 0});
  REQUIRE_FALSE(without);
  CHECK(without.error().kind == RegistrarFailure::Kind::kInvalidRequest);
  auto wrong = demo.Create({"cloud.dev", 1, 100'000'000});
  REQUIRE_FALSE(wrong);
  auto right = demo.Create({"cloud.dev", 1, DemoRegistrar::kPremiumPriceUsdMicros});
  // The premium price exceeds the demo account's 1000 USD.
  REQUIRE_FALSE(right);
  CHECK(right.error().kind == RegistrarFailure::Kind::kInsufficientFunds);
  auto regular_with_premium = demo.Create({"my-bakery.com", 1, 5'000'000});
  REQUIRE_FALSE(regular_with_premium);
  CHECK(regular_with_premium.error().kind == RegistrarFailure::Kind::kInvalidRequest);
}

TEST_CASE("the demo account balance goes down by what creates charged") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  auto before = demo.Balance();
  REQUIRE(before);
  CHECK(before->available_usd_micros == DemoRegistrar::kStartingBalanceUsdMicros);
  REQUIRE(demo.Create({"fresh-idea.org", 1, 0}));
  auto after = demo.Balance();
  REQUIRE(after);
  CHECK(after->available_usd_micros == DemoRegistrar::kStartingBalanceUsdMicros - 9'980'000);
  CHECK(after->currency == "USD");
}

TEST_CASE("demo GetInfo of a name we do not hold is not found") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  auto r = demo.GetInfo("example.com");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == RegistrarFailure::Kind::kNotFound);
  CHECK(r.code() == ErrorCode::kNotFound);
}

TEST_CASE("concurrent demo creates of one name register it exactly once") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  std::vector<std::thread> threads;
  std::vector<int> wins(8, 0);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&demo, &wins, i] {
      wins[i] = demo.Create({"race-name.net", 1, 0}).ok() ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  int total = 0;
  for (int w : wins) total += w;
  CHECK(total == 1);
  CHECK(demo.List()->size() == 1);
}

TEST_CASE("the demo registrar offers its own list of extensions, co.kr and co.uk among them") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  auto list = demo.OfferedTlds();
  REQUIRE(list);
  std::vector<std::string> names;
  for (const auto& t : *list) {
    names.push_back(t.name);
    CHECK(t.supports_idn);
    auto price = demo.Price(t.name, 1);  // everything offered is priced
    CHECK(price);
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"app", "biz", "co", "co.kr", "co.uk", "com", "de", "dev",
                                          "info", "io", "kr", "me", "net", "org", "uk", "xyz"});
}

TEST_CASE(
    "the demo registrar checks and registers whole domains under multi-label suffixes and "
    "IDNs") {
  FixedClock clock(kNow);
  DemoRegistrar demo(clock);
  auto check = demo.Check({"my-store.co.kr", "xn--bj0bj3i97fq8o5lq.com"});
  REQUIRE(check);
  CHECK((*check)[0].available);
  CHECK((*check)[1].available);
  auto created = demo.Create({"my-store.co.uk", 1, 0});
  REQUIRE(created);
  CHECK(created->domain == "my-store.co.uk");
  CHECK(created->charged_usd_micros == 7'980'000);  // .co.uk, not .uk's price by accident
  auto sub = demo.Check({"www.my-store.co.uk"});
  REQUIRE_FALSE(sub);
  CHECK(sub.error().kind == RegistrarFailure::Kind::kInvalidRequest);
}
