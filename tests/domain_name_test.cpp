#include "registrar/domain_name.h"

#include <doctest/doctest.h>

#include <cctype>
#include <string>
#include <vector>

using namespace depositbot;

namespace {

std::string AsciiLowerForTest(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

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
      {"www.example.com", {"subdomain of example.com", "buy example.com instead"}},
      {"ab--cd.com", {"\"ab--cd\"", "third and fourth"}},
      {"xn--zz.com", {"\"xn--zz\"", "not a valid internationalised"}},
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

TEST_CASE("labels of 63 characters are the longest accepted, names of 253 characters too") {
  CHECK(NormalizeDomainName(std::string(63, 'a') + ".com"));
  auto over = NormalizeDomainName(std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                  std::string(63, 'c') + "." + std::string(59, 'd') + ".com");
  REQUIRE_FALSE(over);
  CHECK(over.error().message.find("255 characters") != std::string::npos);
}

TEST_CASE("whole domains come from the Public Suffix List: shop.co.kr and shop.co.uk") {
  DomainNameRules rules;
  for (const char* name : {"shop.co.kr", "shop.co.uk", "my-name.com", "Shop.CO.UK"}) {
    CAPTURE(name);
    auto r = rules.Parse(name);
    REQUIRE(r);
    CHECK(r->ascii == AsciiLowerForTest(name));
    CHECK_FALSE(r->idn());
  }
  CHECK(rules.Parse("shop.co.kr")->suffix == "co.kr");
  CHECK(rules.Parse("shop.co.uk")->suffix == "co.uk");
  CHECK(rules.Parse("shop.kr")->suffix == "kr");
  CHECK(rules.SuffixOf("shop.co.uk") == "co.uk");
}

TEST_CASE("www.shop.co.uk is refused as a subdomain, naming shop.co.uk to buy instead") {
  auto r = NormalizeDomainName("www.shop.co.uk");
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
  CHECK(r.error().message ==
        "\"www.shop.co.uk\" is a subdomain of shop.co.uk; only whole domains can be registered, "
        "so you could buy shop.co.uk instead.");
}

TEST_CASE("a bare public suffix is an extension, not a domain") {
  for (const char* name : {"co.uk", "com", "co.kr"}) {
    CAPTURE(name);
    auto r = NormalizeDomainName(name);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("is an extension") != std::string::npos);
    CHECK(r.error().message.find(std::string("yourname.") + name) != std::string::npos);
  }
}

TEST_CASE("a name under a private suffix such as github.io is a subdomain of the ICANN domain") {
  auto r = NormalizeDomainName("me.github.io");
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("subdomain of github.io") != std::string::npos);
}

TEST_CASE("Unicode names are converted with UTS #46 and shown in Unicode") {
  DomainNameRules rules;
  auto hangul = rules.Parse("한글도메인.com");
  REQUIRE(hangul);
  CHECK(hangul->ascii == "xn--bj0bj3i97fq8o5lq.com");
  CHECK(hangul->unicode == "한글도메인.com");
  CHECK(hangul->idn());
  CHECK(hangul->idn_language == "kor");
  CHECK(hangul->Shown() == "한글도메인.com (xn--bj0bj3i97fq8o5lq.com)");
  CHECK(ShownDomainName("xn--bj0bj3i97fq8o5lq.com") == "한글도메인.com (xn--bj0bj3i97fq8o5lq.com)");
  CHECK(ShownDomainName("example.com") == "example.com");

  auto munich = rules.Parse("münchen.de");
  REQUIRE(munich);
  CHECK(munich->ascii == "xn--mnchen-3ya.de");
  CHECK(munich->unicode == "münchen.de");
  CHECK(munich->idn_language == "ger");
  CHECK(munich->suffix == "de");

  // Upper case, the A-label typed by hand and the shown form pasted back are the same name.
  for (const char* same : {"MÜNCHEN.DE", "xn--mnchen-3ya.de", "XN--MNCHEN-3YA.DE.",
                           "münchen.de (xn--mnchen-3ya.de)"}) {
    CAPTURE(same);
    auto r = rules.Parse(same);
    REQUIRE(r);
    CHECK(r->ascii == "xn--mnchen-3ya.de");
  }
}

TEST_CASE("full-width letters and ideographic full stops fold to the name they spell") {
  DomainNameRules rules;
  auto r = rules.Parse("ｓｈｏｐ。ｃｏ．ｋｒ");
  REQUIRE(r);
  CHECK(r->ascii == "shop.co.kr");
  CHECK(r->Shown() == "shop.co.kr");  // what is shown is what would be bought
  auto hangul = rules.Parse("한글도메인。ＣＯＭ　");
  REQUIRE(hangul);
  CHECK(hangul->ascii == "xn--bj0bj3i97fq8o5lq.com");
}

TEST_CASE("characters UTS #46 would drop or that no name may hold are refused, not dropped") {
  struct Case {
    const char* input;
    const char* mentions;
  };
  const Case cases[] = {
      {"한글 도메인.com", "a space"},     // libidn2's STD3 rules would join the two words
      {"ｅｘ＿ａｍｐｌｅ.com", "\"_\""},  // full-width underscore maps to "_"
      {"ex\x01ample.com", "a control character"},
      {"\xf0\x9f\x98\x80.com", "not allowed in domain names"},  // an emoji
      {"한글도메인.com (xn--mnchen-3ya.de)", "two different domain names"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    auto r = NormalizeDomainName(c.input);
    REQUIRE_FALSE(r);
    CHECK(r.code() == ErrorCode::kInvalid);
    CAPTURE(r.error().message);
    CHECK(r.error().message.find(c.mentions) != std::string::npos);
  }
}

TEST_CASE("a label mixing scripts is refused with the scripts named") {
  // "раypal": Cyrillic р and а among Latin letters, a look-alike of paypal.
  auto homograph = NormalizeDomainName("раypal.com");
  REQUIRE_FALSE(homograph);
  CHECK(homograph.error().message.find("mixes Latin and Cyrillic") != std::string::npos);
  // The same name typed in its xn-- form is not let through either.
  auto typed = NormalizeDomainName("xn--ypal-43d9g.com");
  REQUIRE_FALSE(typed);
  CHECK(typed.error().message.find("mixes Latin and Cyrillic") != std::string::npos);
  auto hangul_latin = NormalizeDomainName("한글abc.com");
  REQUIRE_FALSE(hangul_latin);
  CHECK(hangul_latin.error().message.find("mixes Latin and Hangul") != std::string::npos);
}

TEST_CASE("scripts that belong together and one-script labels are accepted with their language") {
  DomainNameRules rules;
  struct Case {
    const char* input;
    const char* language;
  };
  const Case cases[] = {
      {"日本語ドメイン.jp", "jpn"},  // Han with Katakana
      {"中文.com", "chi"},          {"пример.com", "rus"},      {"παράδειγμα.com", "gre"},
      {"café.com", "fre"},          {"español-año.com", "spa"}, {"한국2024.kr", "kor"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    auto r = rules.Parse(c.input);
    REQUIRE(r);
    CHECK(r->idn_language == c.language);
    auto language = IdnLanguageOf(r->ascii);
    REQUIRE(language);
    CHECK(*language == c.language);
  }
}

TEST_CASE("a label whose script or language cannot be told is refused with a sentence") {
  auto vietnamese = NormalizeDomainName("việt.com");
  REQUIRE_FALSE(vietnamese);
  CHECK(vietnamese.error().message.find("cannot match to one language") != std::string::npos);
  auto devanagari = NormalizeDomainName("नमस्ते.com");
  REQUIRE_FALSE(devanagari);
  CHECK(devanagari.error().message.find("from a script names cannot be registered in") !=
        std::string::npos);
}

TEST_CASE("two spellings of one name compare equal in canonical form; a different name does not") {
  CHECK(CanonicalDomainSpelling("한글도메인.com") == "xn--bj0bj3i97fq8o5lq.com");
  CHECK(CanonicalDomainSpelling("XN--BJ0BJ3I97FQ8O5LQ.COM.") == "xn--bj0bj3i97fq8o5lq.com");
  CHECK(CanonicalDomainSpelling("Example.COM") == "example.com");
  CHECK(CanonicalDomainSpelling("ex ample.com") != "example.com");
  CHECK(CanonicalDomainSpelling("ex\x01ample.com") != "example.com");
}

TEST_CASE("an extension not offered is refused naming the offered ones, common first") {
  DomainNameRules rules;
  std::vector<TldOffer> offered;
  for (const char* t : {"xyz", "de", "com", "co.uk", "kr", "net", "org", "io", "uk", "me", "info",
                        "biz", "app", "dev", "co", "co.kr"}) {
    offered.push_back(TldOffer{t, std::string(t) != "xyz", 1, 10});
  }
  auto ru = rules.Parse("example.ru");
  REQUIRE(ru);
  Status st = CheckOffered(*ru, offered);
  REQUIRE_FALSE(st);
  CHECK(st.error().message ==
        "Domains ending in .ru are not offered by the registrar. Offered: .com, .net, .org, .io, "
        ".co, .me, .app, .dev, .xyz, .info and 6 more.");
  CHECK(CheckOffered(*rules.Parse("shop.co.uk"), offered));
  auto idn_xyz = CheckOffered(*rules.Parse("한글도메인.xyz"), offered);
  REQUIRE_FALSE(idn_xyz);
  CHECK(idn_xyz.error().message.find("not offered under .xyz") != std::string::npos);
  CHECK(LastLabel("shop.example.com") == "com");
  CHECK(LastLabel("localhost") == "localhost");
}

TEST_CASE(
    "a Cyrillic label that only looks like a Latin name is refused outside Cyrillic "
    "countries") {
  auto apple = NormalizeDomainName("аррӏе.com");  // Cyrillic а р р ӏ е
  REQUIRE_FALSE(apple);
  CHECK(apple.error().message.find("look like the Latin \"apple\"") != std::string::npos);
  CHECK(apple.error().message.find("apple.com") != std::string::npos);
  // Under .ru it is at home; a word with letters of its own is no look-alike anywhere.
  CHECK(NormalizeDomainName("аррӏе.ru"));
  CHECK(NormalizeDomainName("пример.com"));
}

TEST_CASE("the Public Suffix List is the one built into libpsl, the same on every run") {
  const std::string source = DomainNameRules::Source();
  CHECK(source.find("built into libpsl") != std::string::npos);
  CHECK(source == DomainNameRules::Source());
}
