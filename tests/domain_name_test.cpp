#include "registrar/domain_name.h"

#include <doctest/doctest.h>

#include <string>

using namespace depositbot;

namespace {

bool MentionsAll(const std::string& text, std::initializer_list<const char*> words) {
  for (const char* w : words) {
    if (text.find(w) == std::string::npos) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("valid names are lower-cased, trimmed and keep their form") {
  struct Case {
    const char* input;
    const char* expected;
  };
  const Case cases[] = {
      {"example-shop.com", "example-shop.com"},
      {"Example-Shop.COM", "example-shop.com"},
      {"  my-site.io \n", "my-site.io"},
      {"fqdn-style.net.", "fqdn-style.net"},
      {"a1b2c3.xyz", "a1b2c3.xyz"},
      {"xn--9n2bp8q.kr", "xn--9n2bp8q.kr"},
      {"x.co", "x.co"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    auto r = NormalizeDomainName(c.input);
    REQUIRE(r);
    CHECK(*r == c.expected);
  }
}

TEST_CASE("bad names are refused with a sentence that says what is wrong") {
  struct Case {
    const char* input;
    std::initializer_list<const char*> mentions;
  };
  const std::string long_label(64, 'a');
  const std::string long_name = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                std::string(63, 'c') + "." + std::string(63, 'd') + ".com";
  const std::string label_case = long_label + ".com";
  const Case cases[] = {
      {"", {"Please give a domain name"}},
      {"   ", {"Please give a domain name"}},
      {"example", {"no extension", "example.com"}},
      {"a..com", {"empty part"}},
      {".example.com", {"empty part"}},
      {label_case.c_str(), {"64 characters", "at most 63"}},
      {long_name.c_str(), {"at most 253"}},
      {"-shop.com", {"\"-shop\"", "hyphen"}},
      {"shop-.com", {"\"shop-\"", "hyphen"}},
      {"my_shop.com", {"\"_\"", "only letters a-z, digits 0-9 and hyphens"}},
      {"my shop.com", {"a space"}},
      {"shop!.com", {"\"!\""}},
      {"example.ru", {".ru", "not supported", ".com"}},
      {"www.example.com", {"subdomain", "example.com"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    auto r = NormalizeDomainName(c.input);
    REQUIRE_FALSE(r);
    CHECK(r.code() == ErrorCode::kInvalid);
    CAPTURE(r.error().message);
    CHECK(MentionsAll(r.error().message, c.mentions));
  }
}

TEST_CASE("a Unicode name is refused and the message asks for the xn-- form") {
  auto r = NormalizeDomainName("한국.kr");
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
  CHECK(r.error().message.find("xn--") != std::string::npos);
  CHECK(r.error().message.find("non-ASCII") != std::string::npos);
  CHECK_FALSE(NormalizeDomainName("caf\xc3\xa9.com"));
}

TEST_CASE("labels of 63 characters and names of 253 are the longest accepted") {
  CHECK(NormalizeDomainName(std::string(63, 'a') + ".com"));
  // Only a long multi-label suffix can make a registrable name reach 253 characters.
  std::string suffix =
      std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(61, 'd');
  DomainNameRules rules({suffix, suffix + "d"});
  std::string at_limit = std::string(63, 'a') + "." + suffix;
  REQUIRE(at_limit.size() == 253);
  CHECK(rules.Normalize(at_limit));
  auto over = rules.Normalize(std::string(63, 'a') + "." + suffix + "d");
  REQUIRE_FALSE(over);
  CHECK(over.error().message.find("254 characters") != std::string::npos);
}

TEST_CASE("the supported extensions are a constructor parameter") {
  DomainNameRules only_shop({".SHOP", "co.kr"});
  CHECK(only_shop.Normalize("my-store.shop"));
  CHECK(only_shop.Normalize("my-store.co.kr"));
  CHECK_FALSE(only_shop.Normalize("my-store.com"));
  CHECK(only_shop.Supports("shop"));
  CHECK_FALSE(only_shop.Supports("com"));
  auto err = only_shop.Normalize("my-store.com").error().message;
  CHECK(err.find(".shop, .co.kr") != std::string::npos);
}

TEST_CASE("the longest supported suffix wins") {
  DomainNameRules rules({"kr", "co.kr"});
  CHECK(rules.SuffixOf("shop.co.kr") == "co.kr");
  CHECK(rules.SuffixOf("shop.kr") == "kr");
  CHECK(rules.SuffixOf("shop.com").empty());
  CHECK(rules.Normalize("shop.co.kr"));
  CHECK_FALSE(rules.Normalize("www.shop.co.kr"));
}

TEST_CASE("the default extension list covers the common TLDs") {
  for (const char* tld :
       {"com", "net", "org", "io", "dev", "app", "xyz", "info", "biz", "me", "co", "kr"}) {
    CAPTURE(tld);
    CHECK(NormalizeDomainName(std::string("my-name.") + tld));
  }
  CHECK(LastLabel("shop.example.com") == "com");
  CHECK(LastLabel("localhost") == "localhost");
}
