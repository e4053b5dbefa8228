#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/money.h"
#include "common/result.h"

namespace depositbot {

// What an amount a person wrote means in the deposit currency: a value, a question back (the
// text can be read more than one way, or finer than the currency's minor unit), or a refusal.
// A question or a refusal never carries a value: the caller records nothing and shows `message`.
struct UserAmount {
  enum class Kind { kAmount, kQuestion, kRefusal };
  Kind kind = Kind::kRefusal;
  int64_t minor = 0;              // kAmount only
  std::vector<int64_t> readings;  // kQuestion: the values the text could mean, largest first
  std::string message;            // kQuestion and kRefusal: what to tell the person

  explicit operator bool() const { return kind == Kind::kAmount; }
};

// The only way text a person wrote ("30,000 won", the amount of "/deposit 1 000 HANS", an LLM's
// `amount` argument, a fixture's balance) becomes minor units; ParseUserAmount below is the same
// reading as a Result. Pure and thread-safe. The rules, in order:
//  1. Around the number: spaces, one leading '+', at most one currency mark before and one after
//     ("$", "€", "¥", "₩", "£", "원", "円", an ISO code, "won", "dollars", "euros", "yen", "BD"),
//     any case. A mark of another currency than `currency` is refused, never converted.
//  2. A '-' or U+2212 before the digits is refused (negative). Anything else that is not part of
//     one number is refused; a second number ("30000 50000", "10 20") is refused.
//  3. The number is digit groups joined by single separators: '.', ',' or a space (U+0020,
//     U+00A0, U+202F, U+2009). Spaces only ever group thousands. Grouping must be right: first
//     group 1-3 digits not starting with 0, every later group exactly 3 digits, one grouping
//     character per number.
//  4. Which separator is the decimal mark. '.' may always be one; ',' only in currencies with
//     minor units whose people write it so (EUR, BRL, RUB, UAH, TRY, CAD, TND).
//     a. Both '.' and ',' appear: the one written last is the decimal mark; it must appear once,
//        after every other separator. Unambiguous by position: "1,234.56" and "1.234,56" are
//        both 1234.56 in any currency.
//     b. '.' or ',' appears twice or more: it groups ("1.000.000", "30,000,000").
//     c. '.' or ',' appears once (on its own, or last after space grouping): it can group when
//        exactly 3 digits follow it and either 1-3 digits not starting with 0, or space groups,
//        precede it; it can be the decimal mark per the rule above. Only one of the two: that
//        one ("12.5", "0.500", "1234.567", "30,000" USD/KRW/JPY/BHD, "1 000,50" EUR); a comma
//        that can be neither ("12,50" USD) or space grouping followed by a grouping comma is
//        refused. Both: a kQuestion naming each exact reading ("1.000" EUR/USD/JPY, "30.000" KRW,
//        "1,000" EUR: "Did you mean 1,000.00 EUR or 1.00 EUR?"), except '.' in a three-decimal
//        currency, which is read as the decimal mark: "1.250 BD" is that currency's own notation.
//     Whatever the bot prints (FormatMinor, FormatAmount) reads back as the same value.
//  5. The fraction: in a currency without minor units (KRW, JPY) any fraction is refused ("KRW
//     has no fractions"); elsewhere digits beyond the exponent must be zeros ("12.5000" USD is
//     12.50), and a finer fraction ("1,234.567" USD, "1.2345" BHD) is a kQuestion, never rounded.
//  6. Zero (under kPositive) and anything beyond int64 are refused.
UserAmount ReadUserAmount(std::string_view text, const Currency& currency,
                          AmountRule rule = AmountRule::kPositive);

// ReadUserAmount as a Result: a question or a refusal is kInvalid carrying its message.
Result<int64_t> ParseUserAmount(std::string_view text, const Currency& currency,
                                AmountRule rule = AmountRule::kPositive);

// Splits a command's text that starts with an amount into the amount part and the rest:
// "1 000 HANS" -> {"1 000", "HANS"}, "30,000 won KIM MINJI" -> {"30,000 won", "KIM MINJI"},
// "$12.50 JOHN" -> {"$12.50", "JOHN"}. The amount part is the leading words that hold digits
// (with separators and currency signs) plus a currency word after them (an ISO code, a sign, or
// "won", "dollars", "euros", "yen", "bd" written in lower case, so that a name such as "WON BIN"
// stays a name). It is not checked: it still goes through ReadUserAmount. When the first word
// holds no digit, it alone is the amount part, for ReadUserAmount to refuse with its reason.
struct AmountAndRest {
  std::string amount;
  std::string rest;
};
AmountAndRest SplitLeadingAmount(std::string_view text);

// A word that is a number as people write it: digits with separators and signs, Korean units
// ("3만", "오만원"), at most one currency mark glued to either end ("30,000원", "$12.50"). What
// SplitLeadingAmount takes as the start of an amount; not checked as an amount.
bool IsAmountWord(std::string_view word);

}  // namespace depositbot
