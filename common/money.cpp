#include "common/money.h"

#include <array>
#include <cctype>
#include <limits>

namespace depositbot {
namespace {

struct KnownCurrency {
  std::string_view code;
  int exponent;
};

// ISO 4217 minor units for the currencies a deposit desk is likely to use.
constexpr std::array<KnownCurrency, 30> kCurrencies = {{
    {"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"CHF", 2}, {"CAD", 2}, {"AUD", 2}, {"NZD", 2}, {"CNY", 2},
    {"HKD", 2}, {"SGD", 2}, {"TWD", 2}, {"INR", 2}, {"RUB", 2}, {"UAH", 2}, {"TRY", 2}, {"BRL", 2},
    {"MXN", 2}, {"THB", 2}, {"PHP", 2}, {"KRW", 0}, {"JPY", 0}, {"VND", 0}, {"CLP", 0}, {"ISK", 0},
    {"BHD", 3}, {"KWD", 3}, {"OMR", 3}, {"JOD", 3}, {"TND", 3}, {"IQD", 3},
}};

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

int64_t Pow10(int n) {
  int64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

// Accumulates decimal digits into an int64, refusing overflow.
bool AppendDigit(int64_t& acc, char c) {
  int d = c - '0';
  if (acc > (kMax - d) / 10) return false;
  acc = acc * 10 + d;
  return true;
}

}  // namespace

Result<Currency> Currency::FromCode(std::string_view code) {
  for (const auto& c : kCurrencies) {
    if (c.code == code) return Currency{std::string(c.code), c.exponent};
  }
  return Error::Invalid("unknown currency code \"" + std::string(code) +
                        "\" (expected an ISO 4217 code such as USD, KRW, JPY, BHD)");
}

Result<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out)) return Error::Invalid("amount out of range");
  return out;
}

Result<int64_t> CheckedSub(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_sub_overflow(a, b, &out)) return Error::Invalid("amount out of range");
  return out;
}

Result<Money> Money::Plus(const Money& other) const {
  if (other.currency_ != currency_) {
    return Error::Invalid("cannot add " + other.currency_.code + " to " + currency_.code);
  }
  auto sum = CheckedAdd(minor_, other.minor_);
  if (!sum) return sum.error();
  return Money(*sum, currency_);
}

Result<Money> Money::Minus(const Money& other) const {
  if (other.currency_ != currency_) {
    return Error::Invalid("cannot subtract " + other.currency_.code + " from " + currency_.code);
  }
  auto diff = CheckedSub(minor_, other.minor_);
  if (!diff) return diff.error();
  return Money(*diff, currency_);
}

std::string Money::ToString() const { return FormatAmount(minor_, currency_); }

std::string FormatMinor(int64_t minor, int exponent) {
  // Work in unsigned so that INT64_MIN formats without overflow.
  bool negative = minor < 0;
  uint64_t v = negative ? 0 - static_cast<uint64_t>(minor) : static_cast<uint64_t>(minor);
  uint64_t scale = static_cast<uint64_t>(Pow10(exponent));
  std::string whole = std::to_string(v / scale);
  std::string grouped;
  int count = 0;
  for (auto it = whole.rbegin(); it != whole.rend(); ++it) {
    if (count > 0 && count % 3 == 0) grouped.insert(grouped.begin(), ',');
    grouped.insert(grouped.begin(), *it);
    ++count;
  }
  std::string out = negative ? "-" + grouped : grouped;
  if (exponent > 0) {
    std::string frac = std::to_string(v % scale);
    out += '.';
    out += std::string(static_cast<size_t>(exponent) - frac.size(), '0') + frac;
  }
  return out;
}

std::string FormatAmount(int64_t minor, const Currency& currency) {
  return FormatMinor(minor, currency.exponent) + " " + currency.code;
}

Result<int64_t> ParseDecimal(std::string_view text, int scale) {
  std::string_view s = Trim(text);
  if (s.empty()) return Error::Invalid("empty decimal");
  if (scale < 0 || scale > 18) return Error::Invalid("decimal scale out of range");
  int64_t units = 0;
  int frac_digits = 0;
  bool in_frac = false;
  bool any_digit = false;
  for (char c : s) {
    if (c == '.' && !in_frac) {
      in_frac = true;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return Error::Invalid("\"" + std::string(text) + "\" is not a decimal number");
    }
    any_digit = true;
    if (in_frac) {
      if (frac_digits >= scale) {
        if (c != '0') {
          return Error::Invalid("\"" + std::string(text) + "\" has more than " +
                                std::to_string(scale) + " decimal places");
        }
        continue;
      }
      ++frac_digits;
    }
    if (!AppendDigit(units, c)) return Error::Invalid("\"" + std::string(text) + "\" is too large");
  }
  if (!any_digit) return Error::Invalid("\"" + std::string(text) + "\" is not a decimal number");
  for (; frac_digits < scale; ++frac_digits) {
    if (units > kMax / 10) return Error::Invalid("\"" + std::string(text) + "\" is too large");
    units *= 10;
  }
  return units;
}

Result<Decimal> Decimal::Parse(std::string_view text) {
  std::string_view s = Trim(text);
  size_t dot = s.find('.');
  int scale = dot == std::string_view::npos ? 0 : static_cast<int>(s.size() - dot - 1);
  if (scale > 9) return Error::Invalid("\"" + std::string(text) + "\" has too many decimal places");
  auto units = ParseDecimal(s, scale);
  if (!units) return units.error();
  return Decimal{*units, scale};
}

Result<int64_t> ConvertUsdMicros(int64_t usd_micros, const Decimal& rate,
                                 const Decimal& markup_percent, const Currency& currency) {
  if (usd_micros < 0) return Error::Invalid("negative price");
  // Bounds keep the 128-bit product below overflow: 10^15 micro-dollars is a
  // billion dollars, a rate of 10^15 units is far beyond any real currency.
  constexpr int64_t kBound = 1'000'000'000'000'000;
  if (usd_micros > kBound || rate.units > kBound || markup_percent.units > kBound) {
    return Error::Invalid("price conversion input is out of range");
  }
  // minor = usd_micros/1e6 * rate.units/10^rs * (100*10^ms + markup.units)/(100*10^ms) * 10^e
  __extension__ typedef __int128 i128;
  // Within the bounds the first product is at most 10^30, but the next two can pass 2^127
  // (a markup of 10^15 alone is a factor of 10^15): check them, signed overflow is UB.
  constexpr i128 kMax128 = ((static_cast<i128>(1) << 126) - 1) * 2 + 1;  // 2^127 - 1
  i128 num = static_cast<i128>(usd_micros) * rate.units;
  const i128 markup_factor =
      static_cast<i128>(100) * Pow10(markup_percent.scale) + markup_percent.units;
  const i128 minor_factor = Pow10(currency.exponent);
  if (num > kMax128 / markup_factor) return Error::Invalid("converted price is out of range");
  num *= markup_factor;
  if (num > kMax128 / minor_factor) return Error::Invalid("converted price is out of range");
  num *= minor_factor;
  i128 den = static_cast<i128>(1000000) * Pow10(rate.scale) * 100 * Pow10(markup_percent.scale);
  i128 q = num / den + (num % den != 0 ? 1 : 0);
  if (q > kMax) return Error::Invalid("converted price is out of range");
  return static_cast<int64_t>(q);
}

}  // namespace depositbot
