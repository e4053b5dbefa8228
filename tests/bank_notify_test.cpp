// The bank feed's pure parts: the notification signature, depositor-name normalisation and the
// strict reading of a notification body.
#include <doctest/doctest.h>

#include <string>

#include "chat/bank_notify_signature.h"
#include "tools/bank_feed.h"

using namespace depositbot;

namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef";
const std::string kBody =
    R"({"amount":"30000","currency":"KRW","depositor_name":"KIM","reference":"B-1"})";
constexpr int64_t kNow = 1'800'000'000;

Status Verify(const std::string& header, const std::string& body = kBody, int64_t now = kNow) {
  return VerifyBankSignature(header, body, kSecret, now, 300);
}

}  // namespace

TEST_CASE("a notification signed with the secret within the tolerance verifies") {
  CHECK(Verify(SignBankNotification(kSecret, kNow, kBody)).ok());
  CHECK(Verify(SignBankNotification(kSecret, kNow - 300, kBody)).ok());
  CHECK(Verify(SignBankNotification(kSecret, kNow + 300, kBody)).ok());
}

TEST_CASE("the signature is Stripe's: hex HMAC-SHA256 of \"<t>.<body>\"") {
  // Computed independently: printf '1.x' | openssl dgst -sha256 -hmac key
  CHECK(SignBankNotification("key", 1, "x") ==
        "t=1,v1=fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec");
}

TEST_CASE("forged, tampered, late and malformed signatures are refused") {
  const std::string good = SignBankNotification(kSecret, kNow, kBody);
  struct Case {
    const char* what;
    std::string header;
    std::string body;
    int64_t now;
  };
  const std::string other_secret = SignBankNotification(std::string(32, 'x'), kNow, kBody);
  const Case cases[] = {
      {"no header", "", kBody, kNow},
      {"another secret", other_secret, kBody, kNow},
      {"the body changed", good,
       R"({"amount":"300000","currency":"KRW","depositor_name":"KIM","reference":"B-1"})", kNow},
      {"301 seconds late", good, kBody, kNow + 301},
      {"301 seconds early", good, kBody, kNow - 301},
      {"the timestamp changed", "t=" + std::to_string(kNow + 1) + good.substr(good.find(',')),
       kBody, kNow},
      {"no timestamp", good.substr(good.find(',') + 1), kBody, kNow},
      {"no v1", "t=" + std::to_string(kNow), kBody, kNow},
      {"two timestamps", "t=1," + good, kBody, kNow},
      {"a signed timestamp", "t=-5,v1=" + good.substr(good.find("v1=") + 3), kBody, kNow},
      {"a short v1", good.substr(0, good.size() - 2), kBody, kNow},
      {"non-hex v1", good.substr(0, good.size() - 1) + "g", kBody, kNow},
      {"no key=value", "garbage", kBody, kNow},
      {"a huge header", good + "," + std::string(4096, 'a'), kBody, kNow},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    auto st = VerifyBankSignature(c.header, c.body, kSecret, c.now, 300);
    CHECK_FALSE(st.ok());
    if (!st.ok()) CHECK(st.code() == ErrorCode::kForbidden);
  }
}

TEST_CASE("one matching v1 among several verifies (secret rotation), whatever its place") {
  const std::string good = SignBankNotification(kSecret, kNow, kBody);
  const std::string v1 = good.substr(good.find("v1="));
  const std::string old = SignBankNotification(std::string(40, 'o'), kNow, kBody);
  const std::string old_v1 = old.substr(old.find("v1="));
  CHECK(Verify("t=" + std::to_string(kNow) + "," + old_v1 + "," + v1).ok());
  CHECK(Verify("t=" + std::to_string(kNow) + "," + v1 + "," + old_v1).ok());
  CHECK(Verify("t=" + std::to_string(kNow) + ",v0=abc," + v1).ok());  // other schemes ignored
}

TEST_CASE("an empty secret verifies nothing") {
  CHECK_FALSE(
      VerifyBankSignature(SignBankNotification("", kNow, kBody), kBody, "", kNow, 300).ok());
}

TEST_CASE("depositor names are compared after folding case, width, spaces and punctuation") {
  struct Case {
    const char* a;
    const char* b;
    bool same;
  };
  const Case cases[] = {
      {"KIM MINJI", "kim minji", true},
      {"KIM MINJI", "KIMMINJI", true},
      {"KIM MIN-JI", "kim minji", true},
      {"Kim, Min.Ji", "KIM MINJI", true},
      {"ＫＩＭ　ＭＩＮＪＩ", "KIM MINJI", true},  // full-width letters and ideographic space
      {"ｋｉｍ－ｍｉｎｊｉ", "KIM MINJI", true},  // full-width lower case and hyphen
      {"O'Brien", "OBRIEN", true},
      {"ÉLODIE", "élodie", true},   // Latin-1 capitals
      {"ŁUKASZ", "łukasz", true},   // Latin Extended-A
      {"김민지", "김민지", true},   // Hangul as written
      {"김 민지", "김민지", true},  // ... spaces still removed
      {"김민지", "김민자", false},
      {"KIM MINJI", "KIM MINJU", false},
      {"KIM MINJI", "김민지", false},  // no transliteration
      {"JOHN SMITH", "JOHN SMITHE", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.a);
    CAPTURE(c.b);
    CHECK((NormalizeDepositorName(c.a) == NormalizeDepositorName(c.b)) == c.same);
  }
  CHECK(NormalizeDepositorName("  Kim  Min-Ji  ") == "kimminji");
  CHECK(NormalizeDepositorName(" .-_ ").empty());
}

TEST_CASE("a notification body is read exactly, in the currency's minor units") {
  auto n = ParseBankNotice(
      R"({"amount":"12.50","currency":"USD","depositor_name":"JOHN","reference":"TX:9/a_b.c-d","received_at":1800000000})");
  REQUIRE(n);
  CHECK(n->amount == 1250);
  CHECK(n->currency.code == "USD");
  CHECK(n->depositor_name == "JOHN");
  CHECK(n->reference == "TX:9/a_b.c-d");
  CHECK(n->received_at == 1800000000);
  auto krw = ParseBankNotice(
      R"({"amount":"30000","currency":"KRW","depositor_name":"김민지","reference":"B-1"})");
  REQUIRE(krw);
  CHECK(krw->amount == 30000);
  CHECK_FALSE(krw->received_at.has_value());
  auto whole =
      ParseBankNotice(R"({"amount":"12","currency":"USD","depositor_name":"J","reference":"R"})");
  REQUIRE(whole);
  CHECK(whole->amount == 1200);
}

TEST_CASE("a notification body that does not fit is refused with the field named") {
  auto body = [](const std::string& amount, const std::string& extra = "") {
    return R"({"amount":)" + amount +
           R"(,"currency":"USD","depositor_name":"JOHN","reference":"R-1")" + extra + "}";
  };
  struct Case {
    std::string body;
    const char* names;
  };
  const Case cases[] = {
      {"not json", "JSON"},
      {"[]", "object"},
      {body(R"("-5")"), "amount"},
      {body(R"("0")"), "amount"},
      {body(R"("0.00")"), "amount"},
      {body(R"("1e5")"), "amount"},
      {body(R"("+5")"), "amount"},
      {body(R"("1,000")"), "amount"},
      {body(R"(" 5")"), "amount"},
      {body(R"("12.345")"), "amount"},
      {body(R"("05")"), "amount"},
      {body(R"(".5")"), "amount"},
      {body(R"("5.")"), "amount"},
      {body(R"("99999999999999999999")"), "amount"},
      {body(R"("1000000.01")"), "amount"},  // above a million dollars
      {body("30000"), "amount"},            // a number, not a string
      {body(R"("5")", R"(,"extra":1)"), "extra"},
      {body(R"("5")", R"(,"received_at":"2026-01-01")"), "received_at"},
      {body(R"("5")", R"(,"received_at":-1)"), "received_at"},
      {R"({"amount":"5","currency":"XXX","depositor_name":"J","reference":"R"})", "currency"},
      {R"({"amount":"5","currency":"USD","depositor_name":" - ","reference":"R"})",
       "depositor_name"},
      {R"({"amount":"5","currency":"USD","depositor_name":"J","reference":"R 1"})", "reference"},
      {R"({"amount":"5","currency":"USD","depositor_name":"J","reference":""})", "reference"},
      {R"({"amount":"5","currency":"USD","depositor_name":"J","reference":")" +
           std::string(101, 'r') + R"("})",
       "reference"},
      {R"({"amount":"5","currency":"USD","reference":"R"})", "depositor_name"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    auto n = ParseBankNotice(c.body);
    REQUIRE_FALSE(n);
    CHECK(n.error().code == ErrorCode::kInvalid);
    CHECK(n.error().message.find(c.names) != std::string::npos);
  }
  // KRW has no minor unit: any fraction is refused.
  auto krw = ParseBankNotice(
      R"({"amount":"30000.5","currency":"KRW","depositor_name":"J","reference":"R"})");
  CHECK_FALSE(krw);
}
