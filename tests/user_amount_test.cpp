#include "common/user_amount.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace depositbot;

namespace {

using Kind = UserAmount::Kind;

// Separators people paste from phones and bank statements.
#define NBSP "\xC2\xA0"            // U+00A0 no-break space
#define NNBSP "\xE2\x80\xAF"       // U+202F narrow no-break space
#define THIN "\xE2\x80\x89"        // U+2009 thin space
#define EURO "\xE2\x82\xAC"        // €
#define WON_SIGN "\xE2\x82\xA9"    // ₩
#define WON_HANGUL "\xEC\x9B\x90"  // 원
#define YEN "\xC2\xA5"             // ¥
#define YEN_KANJI "\xE5\x86\x86"   // 円
#define MAN "\xEB\xA7\x8C"         // 만 (10^4)
#define CHEON "\xEC\xB2\x9C"       // 천 (10^3)
#define BAEK "\xEB\xB0\xB1"        // 백 (10^2)
#define SIP "\xEC\x8B\xAD"         // 십 (10)
#define EOK "\xEC\x96\xB5"         // 억 (10^8)
#define JO "\xEC\xA1\xB0"          // 조 (10^12)
#define HANGUL_O "\xEC\x98\xA4"    // 오 (5)
#define HANGUL_SAM "\xEC\x82\xBC"  // 삼 (3)
#define SU "\xEC\x88\x98"          // 수 (in the name 만수)

// One user string and what it must become: minor units, a question (with the exact readings it
// offers, largest first) or a refusal; `says` is a piece of the sentence the user reads.
struct Row {
  const char* currency;
  const char* text;
  Kind kind;
  std::vector<int64_t> values;  // kAmount: {minor}; kQuestion: the readings offered
  const char* says;
};

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

const std::vector<Row> kTable = {
    // USD: ',' groups, '.' marks cents.
    {"USD", "30000", Kind::kAmount, {3000000}, ""},
    {"USD", "30,000", Kind::kAmount, {3000000}, ""},
    {"USD", "1,234.56", Kind::kAmount, {123456}, ""},
    {"USD", "$12.50", Kind::kAmount, {1250}, ""},
    {"USD", "12.50 USD", Kind::kAmount, {1250}, ""},
    {"USD", "30 dollars", Kind::kAmount, {3000}, ""},
    {"USD", "12.5000", Kind::kAmount, {1250}, ""},
    {"USD", "1.000,50", Kind::kAmount, {100050}, ""},  // European by position
    {"USD", "1.234", Kind::kQuestion, {123400}, "Did you mean 1,234.00 USD?"},
    {"USD", "12.500", Kind::kQuestion, {1250000, 1250}, "Did you mean 12,500.00 USD or 12.50 USD?"},
    {"USD", "1,234.567", Kind::kQuestion, {}, "USD has only 2 decimal places"},
    {"USD", "0.001", Kind::kQuestion, {}, "will not round"},
    {"USD", "12,50", Kind::kRefusal, {}, "a comma groups thousands"},
    {"USD", "-5", Kind::kRefusal, {}, "must not be negative"},
    {"USD", "$-5", Kind::kRefusal, {}, "must not be negative"},
    {"USD", "0", Kind::kRefusal, {}, "greater than zero"},
    {"USD", "30000 50000", Kind::kRefusal, {}, "more than one number"},
    {"USD", "92233720368547759", Kind::kRefusal, {}, "too large"},
    {"USD", EURO "12.50", Kind::kRefusal, {}, "deposits are kept in USD"},
    {"USD", "5 cents", Kind::kRefusal, {}, "is not a number"},
    {"USD", "1e5", Kind::kRefusal, {}, "is not a number"},
    // KRW: no minor units; ',' groups; a '.' is either a European thousands separator or a
    // decimal KRW cannot have.
    {"KRW", "30,000", Kind::kAmount, {30000}, ""},
    {"KRW", "30000" WON_HANGUL, Kind::kAmount, {30000}, ""},
    {"KRW", WON_SIGN "30,000", Kind::kAmount, {30000}, ""},
    {"KRW", "30,000 won", Kind::kAmount, {30000}, ""},
    {"KRW", "30" NNBSP "000", Kind::kAmount, {30000}, ""},
    {"KRW", "30,000,000", Kind::kAmount, {30000000}, ""},
    {"KRW", "30.000.000", Kind::kAmount, {30000000}, ""},
    {"KRW", "9223372036854775807", Kind::kAmount, {kInt64Max}, ""},
    {"KRW", "30.000", Kind::kQuestion, {30000, 30}, "Did you mean 30,000 KRW or 30 KRW?"},
    {"KRW", "30.000 won", Kind::kQuestion, {30000, 30}, "Did you mean 30,000 KRW or 30 KRW?"},
    {"KRW", "30.500", Kind::kQuestion, {30500}, "Did you mean 30,500 KRW?"},
    {"KRW", "30.5", Kind::kRefusal, {}, "KRW has no fractions"},
    {"KRW", "30.0", Kind::kRefusal, {}, "KRW has no fractions"},
    {"KRW", "30,00", Kind::kRefusal, {}, "a comma groups thousands"},
    {"KRW", "$30", Kind::kRefusal, {}, "deposits are kept in KRW"},
    {"KRW", "30 USD", Kind::kRefusal, {}, "deposits are kept in KRW"},
    {"KRW", "9223372036854775808", Kind::kRefusal, {}, "too large"},
    // KRW written with Korean units (issue 16): 만 10^4, 천 10^3, 백 10^2, 십 10, 억 10^8.
    {"KRW", "5" MAN WON_HANGUL, Kind::kAmount, {50000}, ""},
    {"KRW", "5" MAN " " WON_HANGUL, Kind::kAmount, {50000}, ""},
    {"KRW", "3" MAN "5" CHEON WON_HANGUL, Kind::kAmount, {35000}, ""},
    {"KRW", "3" MAN " 5" CHEON, Kind::kAmount, {35000}, ""},
    {"KRW", "1" EOK, Kind::kAmount, {100000000}, ""},
    {"KRW", "2.5" MAN, Kind::kAmount, {25000}, ""},
    {"KRW", "1" EOK " 2" CHEON MAN WON_HANGUL, Kind::kAmount, {120000000}, ""},
    {"KRW", "5" MAN "3,000" WON_HANGUL, Kind::kAmount, {53000}, ""},
    {"KRW", "5" MAN " 3000" WON_HANGUL, Kind::kAmount, {53000}, ""},
    {"KRW", "1,500" MAN WON_HANGUL, Kind::kAmount, {15000000}, ""},
    {"KRW", WON_SIGN "5" MAN, Kind::kAmount, {50000}, ""},
    {"KRW", "5" MAN " won", Kind::kAmount, {50000}, ""},
    {"KRW", MAN WON_HANGUL, Kind::kAmount, {10000}, ""},
    {"KRW", "O" MAN WON_HANGUL, Kind::kRefusal, {}, "not an amount I can read"},
    {"KRW", HANGUL_O MAN WON_HANGUL, Kind::kAmount, {50000}, ""},
    {"KRW", HANGUL_SAM CHEON WON_HANGUL, Kind::kAmount, {3000}, ""},
    {"KRW", "5" CHEON MAN, Kind::kAmount, {50000000}, ""},
    {"KRW", "3" BAEK "5" SIP, Kind::kAmount, {350}, ""},
    {"KRW",
     "1.000" MAN,
     Kind::kQuestion,
     {10000000, 10000},
     "Did you mean 10,000,000 KRW or 10,000 KRW?"},
    {"KRW", "2.55555" MAN, Kind::kRefusal, {}, "KRW has no fractions"},
    {"KRW", "5" MAN "5" MAN, Kind::kRefusal, {}, "not an amount I can read"},
    {"KRW", "5" CHEON "5" CHEON, Kind::kRefusal, {}, "not an amount I can read"},
    {"KRW", "5" MAN " 30000", Kind::kRefusal, {}, "not an amount I can read"},
    {"KRW", "12000" MAN, Kind::kRefusal, {}, "not an amount I can read"},
    {"KRW", "3" MAN "2.5" CHEON, Kind::kRefusal, {}, "not an amount I can read"},
    {"KRW", "-5" MAN, Kind::kRefusal, {}, "must not be negative"},
    {"KRW", "5" MAN " dollars", Kind::kRefusal, {}, "deposits are kept in KRW"},
    {"KRW", "100000" EOK, Kind::kRefusal, {}, "not an amount I can read"},
    {"KRW", "9000" JO, Kind::kAmount, {9000000000000000}, ""},
    {"KRW", "9999" JO " 9999" EOK, Kind::kAmount, {9999999900000000}, ""},
    {"BHD", "9999" JO, Kind::kRefusal, {}, "too large"},
    {"USD", "5" MAN " dollars", Kind::kAmount, {5000000}, ""},
    {"USD", "1.25" MAN, Kind::kAmount, {1250000}, ""},
    // EUR: ',' and '.' may each be the decimal mark; spaces group.
    {"EUR", "1" NBSP "000", Kind::kAmount, {100000}, ""},
    {"EUR", "1 000", Kind::kAmount, {100000}, ""},
    {"EUR", "1" NNBSP "000,50", Kind::kAmount, {100050}, ""},
    {"EUR", "1" THIN "000" THIN "000", Kind::kAmount, {100000000}, ""},
    {"EUR", "1.000,50", Kind::kAmount, {100050}, ""},
    {"EUR", "1,000.50", Kind::kAmount, {100050}, ""},
    {"EUR", EURO "1.000,50", Kind::kAmount, {100050}, ""},
    {"EUR", "12,50 " EURO, Kind::kAmount, {1250}, ""},
    {"EUR", "1,5", Kind::kAmount, {150}, ""},
    {"EUR", "1.000.000", Kind::kAmount, {100000000}, ""},
    {"EUR", "1.000", Kind::kQuestion, {100000, 100}, "Did you mean 1,000.00 EUR or 1.00 EUR?"},
    {"EUR", "1,000", Kind::kQuestion, {100000, 100}, "Did you mean 1,000.00 EUR or 1.00 EUR?"},
    {"EUR", "EUR 1.000", Kind::kQuestion, {100000, 100}, "send the amount again as 1000 or 1"},
    {"EUR", "1 000,000", Kind::kQuestion, {100000000, 100000}, "Did you mean"},
    {"EUR", "1.234,567", Kind::kQuestion, {}, "EUR has only 2 decimal places"},
    {"EUR", "1,000 000", Kind::kRefusal, {}, "mixes separators"},
    {"EUR", "1,000,50", Kind::kRefusal, {}, "grouped by three"},
    {"EUR", "1 00", Kind::kRefusal, {}, "more than one number"},
    {"EUR", "1 000 HANS", Kind::kRefusal, {}, "is not a number"},
    // JPY: no minor units, like KRW.
    {"JPY", "1,000", Kind::kAmount, {1000}, ""},
    {"JPY", YEN "1,000", Kind::kAmount, {1000}, ""},
    {"JPY", "1000" YEN_KANJI, Kind::kAmount, {1000}, ""},
    {"JPY", "1000 yen", Kind::kAmount, {1000}, ""},
    {"JPY", "1.000", Kind::kQuestion, {1000, 1}, "Did you mean 1,000 JPY or 1 JPY?"},
    {"JPY", "1.5", Kind::kRefusal, {}, "JPY has no fractions"},
    // BHD: three decimals; "1.250 BD" is the currency's own notation.
    {"BHD", "1.234", Kind::kAmount, {1234}, ""},
    {"BHD", "1.250 BD", Kind::kAmount, {1250}, ""},
    {"BHD", "BD 1.250", Kind::kAmount, {1250}, ""},
    {"BHD", "1,234", Kind::kAmount, {1234000}, ""},
    {"BHD", "1,234.567", Kind::kAmount, {1234567}, ""},
    {"BHD", "1.2340", Kind::kAmount, {1234}, ""},
    {"BHD", "1.2345", Kind::kQuestion, {}, "BHD has only 3 decimal places"},
    {"BHD", "1.25 " WON_HANGUL, Kind::kRefusal, {}, "deposits are kept in BHD"},
};

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kAmount:
      return "amount";
    case Kind::kQuestion:
      return "question";
    case Kind::kRefusal:
      return "refusal";
  }
  return "?";
}

}  // namespace

TEST_CASE("user amounts in USD, KRW, EUR, JPY and BHD: read, asked about, or refused") {
  CHECK(kTable.size() >= 40);
  for (const auto& row : kTable) {
    CAPTURE(row.currency);
    CAPTURE(row.text);
    auto currency = Currency::FromCode(row.currency);
    REQUIRE(currency);
    const UserAmount a = ReadUserAmount(row.text, *currency);
    INFO("got " << KindName(a.kind) << " " << a.minor << ": " << a.message);
    REQUIRE(a.kind == row.kind);
    if (row.kind == Kind::kAmount) {
      CHECK(a.minor == row.values.at(0));
      CHECK(a.message.empty());
      continue;
    }
    CHECK(a.minor == 0);
    CHECK(a.message.find(row.says) != std::string::npos);
    if (row.kind == Kind::kQuestion) CHECK(a.readings == row.values);
    if (row.kind == Kind::kRefusal) CHECK(a.readings.empty());
  }
}

TEST_CASE("a KRW amount with a dot separator is asked about, not guessed") {
  const Currency krw = *Currency::FromCode("KRW");
  const UserAmount a = ReadUserAmount("30.000", krw);
  REQUIRE(a.kind == Kind::kQuestion);
  CHECK_FALSE(a);
  CHECK(a.message ==
        "Did you mean 30,000 KRW or 30 KRW? In \"30.000\" the dot can separate thousands or mark "
        "the decimals, so I will not guess; please send the amount again as 30000 or 30.");
  auto r = ParseUserAmount("30.000", krw);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
  CHECK(r.error().message == a.message);
}

TEST_CASE("a fraction KRW cannot have is refused with the reason") {
  const UserAmount a = ReadUserAmount("30.5", *Currency::FromCode("KRW"));
  CHECK(a.kind == Kind::kRefusal);
  CHECK(a.message.find("KRW has no fractions") != std::string::npos);
}

TEST_CASE("a fraction finer than the currency's minor unit is asked about, never rounded") {
  for (const auto& [code, text] :
       {std::pair{"USD", "1,234.567"}, std::pair{"BHD", "1.2345"}, std::pair{"EUR", "0,005"}}) {
    CAPTURE(text);
    const UserAmount a = ReadUserAmount(text, *Currency::FromCode(code));
    CHECK(a.kind == Kind::kQuestion);
    CHECK(a.readings.empty());
    CHECK(a.message.find("How much exactly did you send?") != std::string::npos);
  }
}

TEST_CASE("every amount the bot prints reads back as the same amount") {
  for (const char* code : {"USD", "KRW", "EUR", "JPY", "BHD", "VND", "CLP", "TND", "CAD"}) {
    const Currency c = *Currency::FromCode(code);
    for (int64_t v :
         {int64_t{1}, int64_t{5}, int64_t{12}, int64_t{100}, int64_t{1000}, int64_t{1234},
          int64_t{100000}, int64_t{1234567}, int64_t{30000000}, int64_t{987654321012}, kInt64Max}) {
      CAPTURE(code);
      CAPTURE(v);
      const UserAmount plain = ReadUserAmount(FormatMinor(v, c.exponent), c);
      INFO(FormatMinor(v, c.exponent) << ": " << plain.message);
      CHECK(plain.kind == Kind::kAmount);
      CHECK(plain.minor == v);
      const UserAmount with_code = ReadUserAmount(FormatAmount(v, c), c);
      CHECK(with_code.kind == Kind::kAmount);
      CHECK(with_code.minor == v);
    }
  }
}

TEST_CASE("zero is accepted only where the rule allows it") {
  const Currency usd = *Currency::FromCode("USD");
  CHECK(ReadUserAmount("0", usd).kind == Kind::kRefusal);
  const UserAmount zero = ReadUserAmount("0.00", usd, AmountRule::kNonNegative);
  CHECK(zero.kind == Kind::kAmount);
  CHECK(zero.minor == 0);
}

TEST_CASE("a command's amount keeps every word of the number, so its tail never becomes the name") {
  struct Case {
    const char* text;
    const char* amount;
    const char* rest;
  };
  for (const auto& c : std::vector<Case>{
           {"1 000 HANS", "1 000", "HANS"},
           {"1 000 000 HANS MUELLER", "1 000 000", "HANS MUELLER"},
           {"30.000 KIM MINJI", "30.000", "KIM MINJI"},
           {"30,000 won KIM MINJI", "30,000 won", "KIM MINJI"},
           {"30000 " WON_HANGUL " KIM", "30000 " WON_HANGUL, "KIM"},
           {"$ 12.50 JOHN SMITH", "$ 12.50", "JOHN SMITH"},
           {"KRW 30000 KIM", "KRW 30000", "KIM"},
           {"1.250 BD AHMED", "1.250 BD", "AHMED"},
           {"30000 WON BIN", "30000", "WON BIN"},  // a name, not the currency
           {"30000 Won Bin", "30000", "Won Bin"},
           {"30000 2 KIM", "30000 2", "KIM"},  // two numbers: the reader refuses them
           {"KIM 30000", "KIM", "30000"},      // no number first: the reader refuses "KIM"
           {"30000", "30000", ""},
           {"3" MAN " 5" CHEON WON_HANGUL " KIM MINJI", "3" MAN " 5" CHEON WON_HANGUL, "KIM MINJI"},
           {"5" MAN WON_HANGUL " " MAN SU, "5" MAN WON_HANGUL, MAN SU},  // 만수: a name
           {HANGUL_O MAN WON_HANGUL " KIM", HANGUL_O MAN WON_HANGUL, "KIM"},
       }) {
    CAPTURE(c.text);
    auto split = SplitLeadingAmount(c.text);
    CHECK(split.amount == c.amount);
    CHECK(split.rest == c.rest);
  }
}
