#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "common/money.h"

using namespace depositbot;

// Registrar USD (exact micro-dollars) × rate × (1 + markup/100), rounded up to
// the deposit currency's minor unit. Expected values computed by hand.
TEST_CASE("price table: exponents 0, 2, 3; markups; exchange rates; rounding up") {
  struct Row {
    const char* usd;
    const char* rate;
    const char* markup;
    const char* currency;
    int64_t expected_minor;
  };
  const Row rows[] = {
      {"10.28", "1", "0", "USD", 1028},          // identity
      {"10.28", "1", "10", "USD", 1131},         // 11.308 -> 11.31
      {"9.98", "1", "0.5", "USD", 1003},         // 10.0299 -> 10.03
      {"0.18", "1", "0", "USD", 18},             // ICANN fee alone
      {"10.28", "1350.5", "0", "KRW", 13884},    // 13883.14 -> 13884
      {"10.28", "1350", "0", "KRW", 13878},      // exact 13878
      {"12.48", "1380.25", "15", "KRW", 19810},  // 17225.52 × 1.15 = 19809.348 -> 19810
      {"10.28", "151.3", "0", "JPY", 1556},      // 1555.364 -> 1556
      {"10", "0.377", "2.5", "BHD", 3865},       // 3.86425 -> 3.865
      {"39.98", "0.377", "0", "BHD", 15073},     // 15.07246 -> 15.073
      {"10.28", "0.92", "0", "EUR", 946},        // 9.4576 -> 9.46
      {"2500", "1", "0", "USD", 250000},         // premium
      {"0.000001", "1", "0", "USD", 1},          // one micro-dollar rounds up to a cent
  };
  for (const auto& r : rows) {
    std::string row =
        std::string(r.usd) + " USD x " + r.rate + " +" + r.markup + "% in " + r.currency;
    CAPTURE(row);
    auto usd = ParseDecimal(r.usd, 6);
    REQUIRE(usd);
    auto price = ConvertUsdMicros(*usd, *Decimal::Parse(r.rate), *Decimal::Parse(r.markup),
                                  *Currency::FromCode(r.currency));
    REQUIRE(price);
    CHECK(*price == r.expected_minor);
  }
}

TEST_CASE("price conversion refuses inputs that could overflow") {
  auto huge = ConvertUsdMicros(INT64_MAX, *Decimal::Parse("1"), *Decimal::Parse("0"),
                               *Currency::FromCode("USD"));
  CHECK_FALSE(huge);
}
