// libFuzzer target: exact decimals from outside (registrar prices via ParseDecimal, rates and
// markups via Decimal::Parse) and the price conversion they feed (ConvertUsdMicros).
// Input: byte 0 picks the scale and the currency, then three texts separated by '|':
// a price, a rate, a markup. Properties: one more decimal place multiplies by ten (or
// overflows); a conversion is never negative and never below the exact price.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string_view>

#include "common/money.h"

#ifndef DEPOSITBOT_FUZZ_ENTRY
#define DEPOSITBOT_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

using namespace depositbot;

namespace {

std::string_view NextField(std::string_view& rest) {
  size_t bar = rest.find('|');
  std::string_view field = rest.substr(0, bar);
  rest = bar == std::string_view::npos ? std::string_view() : rest.substr(bar + 1);
  return field;
}

}  // namespace

extern "C" int DEPOSITBOT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int scale = data[0] % 19;
  static const char* const kCodes[] = {"USD", "KRW", "BHD", "JPY"};
  const Currency currency = *Currency::FromCode(kCodes[(data[0] >> 5) % 4]);
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view price_text = NextField(rest), rate_text = NextField(rest);
  std::string_view markup_text = NextField(rest);

  auto units = ParseDecimal(price_text, scale);
  if (units) {
    if (*units < 0) std::abort();
    if (scale < 18) {
      auto finer = ParseDecimal(price_text, scale + 1);
      bool fits = *units <= std::numeric_limits<int64_t>::max() / 10;
      if (fits != static_cast<bool>(finer)) std::abort();
      if (finer && *finer != *units * 10) std::abort();
    }
  }
  auto micros = ParseDecimal(price_text, 6);
  auto rate = Decimal::Parse(rate_text);
  auto markup = Decimal::Parse(markup_text);
  if (rate && (rate->units < 0 || rate->scale < 0 || rate->scale > 9)) std::abort();
  if (markup && (markup->units < 0 || markup->scale < 0 || markup->scale > 9)) std::abort();
  if (micros && rate && markup) {
    auto minor = ConvertUsdMicros(*micros, *rate, *markup, currency);
    if (minor && *minor < 0) std::abort();
  }
  return 0;
}
