#include "common/money.h"

#include <doctest/doctest.h>

#include <limits>

#include "common/user_amount.h"

using namespace depositbot;

namespace {
Currency Usd() { return *Currency::FromCode("USD"); }
Currency Krw() { return *Currency::FromCode("KRW"); }
Currency Bhd() { return *Currency::FromCode("BHD"); }
}  // namespace

TEST_CASE("currency codes carry their ISO minor-unit exponent") {
  CHECK(Usd().exponent == 2);
  CHECK(Krw().exponent == 0);
  CHECK(Currency::FromCode("JPY")->exponent == 0);
  CHECK(Bhd().exponent == 3);
}

TEST_CASE("an unknown currency code is refused with its name") {
  auto c = Currency::FromCode("XYZ");
  REQUIRE_FALSE(c);
  CHECK(c.error().message.find("XYZ") != std::string::npos);
}

TEST_CASE("plain digits parse as major units") {
  CHECK(*ParseUserAmount("30000", Krw()) == 30000);
  CHECK(*ParseUserAmount("30000", Usd()) == 3000000);
}

TEST_CASE("thousands separators are accepted when they group by three") {
  CHECK(*ParseUserAmount("30,000", Krw()) == 30000);
  CHECK(*ParseUserAmount("1,234,567.89", Usd()) == 123456789);
  CHECK_FALSE(ParseUserAmount("30,00", Krw()));
  CHECK_FALSE(ParseUserAmount("3,0000", Krw()));
  CHECK_FALSE(ParseUserAmount(",300", Krw()));
  CHECK_FALSE(ParseUserAmount("1234,567", Krw()));
}

TEST_CASE("decimal user amounts are exact to the minor unit") {
  CHECK(*ParseUserAmount("12.50", Usd()) == 1250);
  CHECK(*ParseUserAmount("12.5", Usd()) == 1250);
  CHECK(*ParseUserAmount("0.01", Usd()) == 1);
  CHECK(*ParseUserAmount("1.234", Bhd()) == 1234);
  CHECK(*ParseUserAmount("12.5000", Usd()) == 1250);  // "12.500" could be 12,500: asked
}

TEST_CASE("more decimal places than the currency has are refused, not rounded") {
  auto r = ParseUserAmount("12.505", Usd());
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("2 decimal places") != std::string::npos);
  auto k = ParseUserAmount("100.5", Krw());
  REQUIRE_FALSE(k);
  CHECK(k.error().message.find("whole number") != std::string::npos);
}

TEST_CASE("currency signs and codes around the amount are accepted") {
  CHECK(*ParseUserAmount("$12.50", Usd()) == 1250);
  CHECK(*ParseUserAmount("12.50 USD", Usd()) == 1250);
  CHECK(*ParseUserAmount("12.50 usd", Usd()) == 1250);
  CHECK(*ParseUserAmount("\xE2\x82\xA9"
                         "30,000",
                         Krw()) == 30000);
  CHECK(*ParseUserAmount("30,000\xEC\x9B\x90", Krw()) == 30000);
  CHECK(*ParseUserAmount("  30000  ", Krw()) == 30000);
}

TEST_CASE("negative amounts are refused") {
  auto r = ParseUserAmount("-5", Usd());
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
  CHECK(r.error().message.find("negative") != std::string::npos);
  CHECK_FALSE(ParseUserAmount("$-5", Usd()));
}

TEST_CASE("zero is refused where a positive amount is required") {
  auto r = ParseUserAmount("0", Usd());
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("greater than zero") != std::string::npos);
  CHECK(*ParseUserAmount("0", Usd(), AmountRule::kNonNegative) == 0);
}

TEST_CASE("non-numeric amounts are refused with a hint") {
  for (const char* text : {"abc", "12a", "1.2.3", "", "  ", "1e5", "0x10", ".", "12.", ".5"}) {
    CAPTURE(text);
    auto r = ParseUserAmount(text, Usd());
    REQUIRE_FALSE(r);
    CHECK(r.code() == ErrorCode::kInvalid);
    CHECK_FALSE(r.error().message.empty());
  }
}

TEST_CASE("amounts beyond int64 are refused") {
  CHECK_FALSE(ParseUserAmount("9223372036854775808", Krw()));
  CHECK(*ParseUserAmount("9223372036854775807", Krw()) == std::numeric_limits<int64_t>::max());
  // Fits as whole units but not once scaled to cents.
  auto r = ParseUserAmount("92233720368547759", Usd());
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("too large") != std::string::npos);
}

TEST_CASE("registrar decimal strings parse exactly at any scale") {
  CHECK(*ParseDecimal("10.28", 6) == 10280000);
  CHECK(*ParseDecimal("0.1800", 6) == 180000);
  CHECK(*ParseDecimal("12", 6) == 12000000);
  CHECK(*ParseDecimal("8.88", 2) == 888);
  CHECK(*ParseDecimal("0.1800", 2) == 18);
  CHECK_FALSE(ParseDecimal("0.1850", 2));
  CHECK_FALSE(ParseDecimal("-1.00", 6));
  CHECK_FALSE(ParseDecimal("abc", 6));
  CHECK_FALSE(ParseDecimal("", 6));
  CHECK_FALSE(ParseDecimal("99999999999999.0", 6));
}

TEST_CASE("formatting follows the currency's exponent") {
  CHECK(FormatAmount(3000000, Usd()) == "30,000.00 USD");
  CHECK(FormatAmount(1250, Usd()) == "12.50 USD");
  CHECK(FormatAmount(5, Usd()) == "0.05 USD");
  CHECK(FormatAmount(30000, Krw()) == "30,000 KRW");
  CHECK(FormatAmount(1234, Bhd()) == "1.234 BHD");
  CHECK(FormatAmount(-1250, Usd()) == "-12.50 USD");
  CHECK(FormatAmount(0, Krw()) == "0 KRW");
  CHECK(FormatMinor(std::numeric_limits<int64_t>::min(), 0) == "-9,223,372,036,854,775,808");
}

TEST_CASE("money arithmetic is overflow-checked") {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  CHECK(*CheckedAdd(1, 2) == 3);
  CHECK_FALSE(CheckedAdd(kMax, 1));
  CHECK_FALSE(CheckedSub(std::numeric_limits<int64_t>::min(), 1));
  Money a(kMax, Usd());
  CHECK_FALSE(a.Plus(Money(1, Usd())));
  CHECK(Money(100, Usd()).Minus(Money(30, Usd()))->minor() == 70);
}

TEST_CASE("money of different currencies does not mix") {
  auto r = Money(100, Usd()).Plus(Money(100, Krw()));
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("KRW") != std::string::npos);
}

TEST_CASE("registrar USD converts to the deposit currency rounded up") {
  auto one = *Decimal::Parse("1");
  auto zero = *Decimal::Parse("0");
  // 10.28 USD at rate 1, no markup, in USD: 1028 cents.
  CHECK(*ConvertUsdMicros(10280000, one, zero, Usd()) == 1028);
  // 10.281 USD -> rounds up to 1029 cents.
  CHECK(*ConvertUsdMicros(10281000, one, zero, Usd()) == 1029);
  // 10.28 USD at 1350.5 KRW/USD = 13883.14 -> 13884 KRW.
  CHECK(*ConvertUsdMicros(10280000, *Decimal::Parse("1350.5"), zero, Krw()) == 13884);
  // 10 USD with 15% markup in USD: 11.50 exactly.
  CHECK(*ConvertUsdMicros(10000000, one, *Decimal::Parse("15"), Usd()) == 1150);
  // 10 USD at 0.377 BHD/USD with 2.5% markup: 3.86425 -> 3.865 BHD.
  CHECK(*ConvertUsdMicros(10000000, *Decimal::Parse("0.377"), *Decimal::Parse("2.5"), Bhd()) ==
        3865);
  CHECK(*ConvertUsdMicros(0, one, zero, Usd()) == 0);
  CHECK_FALSE(ConvertUsdMicros(-1, one, zero, Usd()));
}
