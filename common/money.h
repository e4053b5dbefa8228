#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace depositbot {

// An ISO 4217 currency and its minor-unit exponent (USD 2, KRW 0, BHD 3).
struct Currency {
  std::string code;
  int exponent = 2;

  // Known codes only; an unknown code is kInvalid naming the code.
  static Result<Currency> FromCode(std::string_view code);
  bool operator==(const Currency&) const = default;
};

// Overflow-checked int64 arithmetic; an overflow is kInvalid, never UB.
Result<int64_t> CheckedAdd(int64_t a, int64_t b);
Result<int64_t> CheckedSub(int64_t a, int64_t b);

// An amount of money: an int64 count of minor units in one currency.
// Arithmetic is checked and refuses mixing currencies.
class Money {
 public:
  Money(int64_t minor, Currency currency) : minor_(minor), currency_(std::move(currency)) {}

  int64_t minor() const { return minor_; }
  const Currency& currency() const { return currency_; }

  Result<Money> Plus(const Money& other) const;
  Result<Money> Minus(const Money& other) const;
  // "30,000 KRW", "12.50 USD", "-1.250 BHD".
  std::string ToString() const;

  bool operator==(const Money&) const = default;

 private:
  int64_t minor_;
  Currency currency_;
};

// Whether zero is an acceptable amount. Amounts people write are read by ReadUserAmount /
// ParseUserAmount in common/user_amount.h.
enum class AmountRule { kPositive, kNonNegative };

// Parses an exact non-negative decimal string ("10.28", "0.1800", "12") as an
// integer count of 10^-scale units: ParseDecimal("10.28", 6) == 10280000.
// Digits beyond `scale` must be zeros; otherwise kInvalid (never rounded).
Result<int64_t> ParseDecimal(std::string_view text, int scale);

// Formats minor units by the exponent with thousands separators, no currency.
std::string FormatMinor(int64_t minor, int exponent);
// FormatMinor plus " CODE".
std::string FormatAmount(int64_t minor, const Currency& currency);

// Registrar prices are USD. Converts micro-dollars into the deposit currency:
// usd_micros × rate × (1 + markup_percent/100), rounded up to the minor unit.
// `rate` and `markup_percent` are exact decimals given as (units, scale), e.g.
// 1350.5 == {13505, 1}. Overflow is kInvalid.
struct Decimal {
  int64_t units = 0;
  int scale = 0;
  static Result<Decimal> Parse(std::string_view text);  // non-negative, <= 9 places
};
Result<int64_t> ConvertUsdMicros(int64_t usd_micros, const Decimal& rate,
                                 const Decimal& markup_percent, const Currency& currency);

}  // namespace depositbot
