#include "common/user_amount.h"

#include <array>
#include <cctype>
#include <limits>
#include <optional>

#include "common/text.h"

namespace depositbot {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// Currencies with minor units whose people write ',' as the decimal mark (with '.' or a space
// grouping). In a currency without minor units (VND, CLP, ISK, like KRW) ',' only groups, so
// that "30,000" as the bot prints it reads back; "30.000" is asked about as in KRW.
constexpr std::array<std::string_view, 7> kCommaDecimal = {"EUR", "BRL", "RUB", "UAH",
                                                           "TRY", "CAD", "TND"};

bool CommaMayBeDecimal(const Currency& c) {
  if (c.exponent == 0) return false;
  for (auto code : kCommaDecimal) {
    if (code == c.code) return true;
  }
  return false;
}

// Currency signs and words and the codes they may stand for (space-separated). ISO codes are
// recognised through Currency::FromCode. Words are matched without regard to case.
struct Mark {
  std::string_view text;
  std::string_view codes;
  bool upper_is_currency = false;  // as a separate word in upper case too (not "WON": a name)
};
constexpr std::string_view kDollars = "USD CAD AUD NZD HKD SGD TWD MXN";
constexpr std::array<Mark, 8> kSigns = {{
    {"$", kDollars},
    {"\xE2\x82\xAC", "EUR"},  // €
    {"\xC2\xA5", "JPY CNY"},  // ¥
    {"\xE2\x82\xA9", "KRW"},  // ₩
    {"\xEC\x9B\x90", "KRW"},  // 원
    {"\xE5\x86\x86", "JPY"},  // 円
    {"\xC2\xA3", "GBP"},      // £
    {"\xEF\xBF\xA6", "KRW"},  // ￦ (full width)
}};
constexpr std::array<Mark, 8> kWords = {{
    {"won", "KRW"},
    {"dollar", kDollars},
    {"dollars", kDollars},
    {"euro", "EUR"},
    {"euros", "EUR"},
    {"yen", "JPY"},
    {"bd", "BHD", true},
    {"pounds", "GBP"},
}};

// Spaces that may group thousands (and surround a number): U+0020, U+00A0, U+202F, U+2009.
size_t SpaceLength(std::string_view s) {
  if (s.empty()) return 0;
  if (s[0] == ' ' || s[0] == '\t') return 1;
  if (s.substr(0, 2) == "\xC2\xA0") return 2;
  if (s.substr(0, 3) == "\xE2\x80\xAF" || s.substr(0, 3) == "\xE2\x80\x89") return 3;
  return 0;
}

size_t TrailingSpaceLength(std::string_view s) {
  if (s.empty()) return 0;
  if (s.back() == ' ' || s.back() == '\t') return 1;
  if (s.size() >= 2 && s.substr(s.size() - 2) == "\xC2\xA0") return 2;
  if (s.size() >= 3 &&
      (s.substr(s.size() - 3) == "\xE2\x80\xAF" || s.substr(s.size() - 3) == "\xE2\x80\x89")) {
    return 3;
  }
  return 0;
}

std::string_view TrimSpaces(std::string_view s) {
  while (size_t n = SpaceLength(s)) s.remove_prefix(n);
  while (size_t n = TrailingSpaceLength(s)) s.remove_suffix(n);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool ListHas(std::string_view list, std::string_view code) {
  while (!list.empty()) {
    size_t sp = list.find(' ');
    if (list.substr(0, sp) == code) return true;
    if (sp == std::string_view::npos) break;
    list.remove_prefix(sp + 1);
  }
  return false;
}

// A currency mark at the front of `s`: its length and the codes it may stand for ("" when the
// leading letters are a word that is no currency). nullopt when `s` starts with neither a sign
// nor a letter.
struct FoundMark {
  size_t length = 0;
  std::string codes;  // empty: letters that are not a currency word
  std::string text;
};

std::optional<FoundMark> MarkAtFront(std::string_view s) {
  for (const auto& m : kSigns) {
    if (s.substr(0, m.text.size()) == m.text) {
      return FoundMark{m.text.size(), std::string(m.codes), std::string(m.text)};
    }
  }
  size_t n = 0;
  while (n < s.size() && IsAsciiLetter(s[n])) ++n;
  if (n == 0) return std::nullopt;
  std::string word(s.substr(0, n));
  if (n == 3 && Currency::FromCode(AsciiUpper(word))) return FoundMark{n, AsciiUpper(word), word};
  for (const auto& w : kWords) {
    if (AsciiLower(word) == w.text) return FoundMark{n, std::string(w.codes), word};
  }
  return FoundMark{n, "", word};
}

// The same, for a mark that ends `s` (the letters are the trailing run of letters).
std::optional<FoundMark> MarkAtBack(std::string_view s) {
  for (const auto& m : kSigns) {
    if (s.size() >= m.text.size() && s.substr(s.size() - m.text.size()) == m.text) {
      return FoundMark{m.text.size(), std::string(m.codes), std::string(m.text)};
    }
  }
  size_t n = 0;
  while (n < s.size() && IsAsciiLetter(s[s.size() - 1 - n])) ++n;
  if (n == 0) return std::nullopt;
  auto front = MarkAtFront(s.substr(s.size() - n));
  return front;
}

int64_t Pow10(int n) {
  int64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

enum class Sep { kDot, kComma, kSpace };

// One way to read the number: the whole digits and, after a decimal mark, the fraction digits.
struct Reading {
  std::string whole;
  std::string fraction;
  bool has_fraction = false;
};

// A value in minor units, or why a reading has none.
struct Scaled {
  enum class Problem { kNone, kFractionInWholeCurrency, kTooFine, kTooLarge };
  Problem problem = Problem::kNone;
  int64_t minor = 0;
};

Scaled Scale(const Reading& r, const Currency& c, bool allow_zero_fraction_in_whole_currency) {
  Scaled out;
  int64_t whole = 0;
  for (char ch : r.whole) {
    int d = ch - '0';
    if (whole > (kMax - d) / 10) return {Scaled::Problem::kTooLarge, 0};
    whole = whole * 10 + d;
  }
  int64_t frac = 0;
  int digits = 0;
  for (char ch : r.fraction) {
    if (digits >= c.exponent) {
      if (ch != '0') {
        return {
            c.exponent == 0 ? Scaled::Problem::kFractionInWholeCurrency : Scaled::Problem::kTooFine,
            0};
      }
      continue;
    }
    frac = frac * 10 + (ch - '0');
    ++digits;
  }
  if (c.exponent == 0 && r.has_fraction && !allow_zero_fraction_in_whole_currency) {
    return {Scaled::Problem::kFractionInWholeCurrency, 0};
  }
  for (; digits < c.exponent; ++digits) frac *= 10;
  int64_t minor;
  if (__builtin_mul_overflow(whole, Pow10(c.exponent), &minor) ||
      __builtin_add_overflow(minor, frac, &minor)) {
    return {Scaled::Problem::kTooLarge, 0};
  }
  out.minor = minor;
  return out;
}

// How to write `minor` so that it cannot be misread: no grouping, a dot only before a non-zero
// fraction ("1000", "1", "12.50").
std::string PlainMinor(int64_t minor, int exponent) {
  int64_t scale = Pow10(exponent);
  std::string out = std::to_string(minor / scale);
  if (exponent > 0 && minor % scale != 0) {
    std::string frac = std::to_string(minor % scale);
    out += "." + std::string(static_cast<size_t>(exponent) - frac.size(), '0') + frac;
  }
  return out;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

UserAmount Refusal(std::string message) {
  UserAmount a;
  a.kind = UserAmount::Kind::kRefusal;
  a.message = std::move(message);
  return a;
}

std::string Places(const Currency& c) {
  return c.exponent == 0 ? c.code + " has no fractions"
                         : c.code + " has only " + std::to_string(c.exponent) + " decimal place" +
                               (c.exponent == 1 ? "" : "s");
}

// Groups [from, to) form a grouped whole number: 1-3 digits not starting with 0, then threes.
bool ValidGrouping(const std::vector<std::string_view>& g, size_t from, size_t to) {
  if (to - from < 2) return false;
  if (g[from].empty() || g[from].size() > 3 || g[from][0] == '0') return false;
  for (size_t i = from + 1; i < to; ++i) {
    if (g[i].size() != 3) return false;
  }
  return true;
}

std::string Join(const std::vector<std::string_view>& g, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += g[i];
  return out;
}

// The answer for one exact reading of `shown`: its value, or why it has none.
UserAmount FromScaled(const Scaled& v, const Currency& currency, const std::string& shown,
                      AmountRule rule) {
  switch (v.problem) {
    case Scaled::Problem::kFractionInWholeCurrency:
      return Refusal(Places(currency) + "; write a whole number such as 30000");
    case Scaled::Problem::kTooFine: {
      UserAmount a;
      a.kind = UserAmount::Kind::kQuestion;
      a.message = "How much exactly did you send? " + Places(currency) + ", so " + shown +
                  " is finer than the smallest " + currency.code +
                  " unit and I will not round it; please send the amount again with at most " +
                  std::to_string(currency.exponent) + " decimal places.";
      return a;
    }
    case Scaled::Problem::kTooLarge:
      return Refusal("the amount is too large");
    case Scaled::Problem::kNone:
      break;
  }
  if (v.minor == 0 && rule == AmountRule::kPositive) {
    return Refusal("the amount must be greater than zero");
  }
  UserAmount a;
  a.kind = UserAmount::Kind::kAmount;
  a.minor = v.minor;
  return a;
}

// ---- Korean units: 5만원, 3만5천원, 1억 2천만, 2.5만, 오만원 ----

// A unit word and its power of ten. 십 백 천 multiply within a group of four digits; 만 억 조
// close a group.
struct KoreanUnit {
  std::string_view text;
  int power;
};
constexpr std::array<KoreanUnit, 6> kKoreanUnits = {{
    {"\xEC\xA1\xB0", 12},  // 조
    {"\xEC\x96\xB5", 8},   // 억
    {"\xEB\xA7\x8C", 4},   // 만
    {"\xEC\xB2\x9C", 3},   // 천
    {"\xEB\xB0\xB1", 2},   // 백
    {"\xEC\x8B\xAD", 1},   // 십
}};
// Sino-Korean digits 일..구, read as digits only right before a unit (오만원, 삼천).
constexpr std::array<std::string_view, 9> kKoreanDigits = {
    "\xEC\x9D\xBC", "\xEC\x9D\xB4", "\xEC\x82\xBC", "\xEC\x82\xAC", "\xEC\x98\xA4",
    "\xEC\x9C\xA1", "\xEC\xB9\xA0", "\xED\x8C\x94", "\xEA\xB5\xAC"};

std::optional<KoreanUnit> KoreanUnitAt(std::string_view s) {
  for (const auto& u : kKoreanUnits) {
    if (s.substr(0, u.text.size()) == u.text) return u;
  }
  return std::nullopt;
}

// The length of a Sino-Korean digit that starts `s` and is followed by a unit; 0 otherwise.
size_t KoreanDigitBeforeUnit(std::string_view s) {
  for (auto d : kKoreanDigits) {
    if (s.substr(0, d.size()) == d && KoreanUnitAt(s.substr(d.size()))) return d.size();
  }
  return 0;
}

bool HasKoreanUnit(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (KoreanUnitAt(s.substr(i))) return true;
  }
  return false;
}

// One number of a Korean amount as written: digits (grouped by commas in threes, at most one
// '.' with its fraction), or one Sino-Korean digit, or nothing (만 alone is 10,000).
struct KoreanNumber {
  std::string whole = "1";
  std::string fraction;
  bool dot_could_group = false;  // "1.000만": the dot may group thousands or mark decimals
};

// Reads a Korean-unit amount (`all` trimmed, and holding at least one unit). Every number is
// multiplied exactly; units must fall within a group (천 > 백 > 십) and between groups
// (조 > 억 > 만); what precedes 만/억/조 is below 10,000, and what follows a group is below it.
UserAmount ReadKoreanAmount(std::string_view all, const Currency& currency, AmountRule rule) {
  const std::string shown = Quoted(all);
  const std::string unreadable =
      shown + " is not an amount I can read; write it as 35000 or as 3만5천";
  std::string_view s = all;
  // Currency marks: one before (₩, KRW) and one after (원, won, KRW), as in ReadUserAmount.
  std::vector<FoundMark> marks;
  if (auto m = MarkAtFront(s); m && !m->codes.empty()) {
    marks.push_back(*m);
    s.remove_prefix(m->length);
  }
  s = TrimSpaces(s);
  if (auto m = MarkAtBack(s); m && !m->codes.empty()) {
    marks.push_back(*m);
    s.remove_suffix(m->length);
  }
  s = TrimSpaces(s);
  for (const auto& m : marks) {
    if (!ListHas(m.codes, currency.code)) {
      return Refusal(shown + " names another currency (" + m.text + "); deposits are kept in " +
                     currency.code + ", so write the amount in " + currency.code);
    }
  }
  if (!s.empty() && (s.front() == '-' || s.substr(0, 3) == "\xE2\x88\x92")) {
    return Refusal("the amount must not be negative");
  }
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);

  // Terms: (number, power of ten); a group's small terms are summed, then multiplied by its
  // group unit. Values are kept as (digits, fraction) to stay exact.
  struct Term {
    KoreanNumber number;
    int power = 0;
  };
  std::vector<std::vector<Term>> groups(1);
  std::vector<int> group_powers;  // the 만/억/조 closing each finished group
  bool first_number = true;
  bool question = false;
  while (true) {
    while (size_t n = SpaceLength(s)) s.remove_prefix(n);
    if (s.empty()) break;
    KoreanNumber number;
    bool had_number = false;
    if (IsDigit(s.front())) {
      // Digits, commas grouping in threes, and at most one '.', after every comma.
      std::vector<std::string_view> parts;
      size_t i = 0, start = 0, dots = 0;
      for (; i < s.size(); ++i) {
        const char c = s[i];
        if (IsDigit(c)) continue;
        if ((c == ',' || c == '.') && i > start && i + 1 < s.size() && IsDigit(s[i + 1])) {
          if (dots > 0) return Refusal(unreadable);  // "1.5.0만", "1.000,5만"
          parts.push_back(s.substr(start, i - start));
          dots += c == '.';
          start = i + 1;
          continue;
        }
        break;
      }
      parts.push_back(s.substr(start, i - start));
      s.remove_prefix(i);
      if (dots == 1) {
        if (!first_number) return Refusal(unreadable);  // a fraction only leads: "3만2.5천"
        number.fraction = std::string(parts.back());
        number.dot_could_group =
            parts.size() == 2 && parts[1].size() == 3 && parts[0].size() <= 3 && parts[0][0] != '0';
        parts.pop_back();
      }
      if (parts.size() > 1 && !ValidGrouping(parts, 0, parts.size())) return Refusal(unreadable);
      number.whole = Join(parts, 0, parts.size());
      had_number = true;
    } else {
      if (size_t n = KoreanDigitBeforeUnit(s)) {
        for (size_t d = 0; d < kKoreanDigits.size(); ++d) {
          if (s.substr(0, n) == kKoreanDigits[d]) number.whole = std::to_string(d + 1);
        }
        s.remove_prefix(n);
        had_number = true;
      }
    }
    while (size_t n = SpaceLength(s)) s.remove_prefix(n);
    auto unit = KoreanUnitAt(s);
    if (!unit && !had_number) return Refusal(unreadable);
    if (unit) s.remove_prefix(unit->text.size());
    first_number = false;
    question = question || number.dot_could_group;
    const int power = unit ? unit->power : 0;
    if (power >= 4) {
      // Closes a group: the small terms before it (or just this number) times 10^power.
      if (!group_powers.empty() && power >= group_powers.back()) return Refusal(unreadable);
      if (had_number && !groups.back().empty() && groups.back().back().power == 0) {
        return Refusal(unreadable);  // "5 5만"
      }
      if (had_number || groups.back().empty()) groups.back().push_back({number, 0});
      group_powers.push_back(power);
      groups.emplace_back();
    } else {
      auto& g = groups.back();
      if (!g.empty() && power >= g.back().power) return Refusal(unreadable);  // "5천5천"
      g.push_back({number, power});
    }
  }
  if (groups.back().empty()) groups.pop_back();
  if (groups.empty()) return Refusal(unreadable);

  // The value, read once with the dot as the decimal mark and, for "1.000만", once as grouping.
  auto value = [&](bool dot_groups) -> std::optional<Scaled> {
    const Scaled too_large{Scaled::Problem::kTooLarge, 0};
    int64_t total = 0;  // minor units
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      const int group_power = gi < group_powers.size() ? group_powers[gi] : 0;
      int64_t group_units = 0;  // the group's number before its 만/억/조, whole units
      for (const auto& t : groups[gi]) {
        std::string whole = t.number.whole, fraction = t.number.fraction;
        if (dot_groups) {
          whole += fraction;
          fraction.clear();
        }
        if (whole.size() + fraction.size() > 18) return too_large;
        int64_t digits = 0;
        for (char c : whole + fraction) digits = digits * 10 + (c - '0');
        // The term in minor units: digits x 10^(power + group power + exponent - fraction).
        const int scale =
            t.power + group_power + currency.exponent - static_cast<int>(fraction.size());
        int64_t minor = digits;
        if (scale >= 0) {
          if (scale > 18 || __builtin_mul_overflow(minor, Pow10(scale), &minor)) return too_large;
        } else {
          const int64_t div = Pow10(-scale);
          if (minor % div != 0) {
            return Scaled{currency.exponent == 0 ? Scaled::Problem::kFractionInWholeCurrency
                                                 : Scaled::Problem::kTooFine,
                          0};
          }
          minor /= div;
        }
        if (__builtin_add_overflow(total, minor, &total)) return too_large;
        int64_t units = whole.size() > 12 ? 10000 : std::stoll(whole.empty() ? "0" : whole);
        if (t.power > 0 && __builtin_mul_overflow(units, Pow10(t.power), &units)) units = 10000;
        group_units += units;
      }
      // The pieces nest: what comes before 만/억/조, and what follows one, is below 10,000
      // ("12000만" and "5만 30000" are refused, not read).
      if ((gi > 0 || gi < group_powers.size()) && group_units >= 10000) return std::nullopt;
    }
    return Scaled{Scaled::Problem::kNone, total};
  };

  auto as_decimal = value(false);
  if (!question) {
    if (!as_decimal) return Refusal(unreadable);
    return FromScaled(*as_decimal, currency, shown, rule);
  }
  // "1.000만": the dot groups (10,000,000) or marks decimals (10,000). Ask, never guess.
  auto as_grouping = value(true);
  UserAmount a;
  a.kind = UserAmount::Kind::kQuestion;
  for (const auto& v : {as_grouping, as_decimal}) {
    if (v && v->problem == Scaled::Problem::kNone && v->minor > 0) a.readings.push_back(v->minor);
  }
  if (a.readings.empty()) return Refusal(unreadable);
  a.message = "Did you mean " + FormatAmount(a.readings[0], currency);
  if (a.readings.size() == 2) a.message += " or " + FormatAmount(a.readings[1], currency);
  a.message += "? In " + shown +
               " the dot can separate thousands or mark the decimals, so I will not guess; "
               "please send the amount again in digits, such as " +
               PlainMinor(a.readings[0], currency.exponent) + ".";
  return a;
}

}  // namespace

UserAmount ReadUserAmount(std::string_view text, const Currency& currency, AmountRule rule) {
  const std::string_view all = TrimSpaces(text);
  const std::string shown = Quoted(all);
  if (all.empty()) return Refusal("the amount is empty; write a number such as 30000");
  if (HasKoreanUnit(all)) return ReadKoreanAmount(all, currency, rule);
  const std::string not_a_number =
      shown + " is not a number; write the amount in digits, for example 30000";

  std::string_view s = all;
  std::vector<FoundMark> marks;
  auto negative = [](std::string_view v) {
    return !v.empty() && (v.front() == '-' || v.substr(0, 3) == "\xE2\x88\x92");
  };
  // Before the number: '+', one currency mark, spaces; a minus anywhere here is a refusal.
  bool plus = false;
  while (!s.empty() && !IsDigit(s.front()) && s.front() != '.' && s.front() != ',') {
    if (negative(s)) return Refusal("the amount must not be negative");
    if (size_t n = SpaceLength(s)) {
      s.remove_prefix(n);
      continue;
    }
    if (s.front() == '+' && !plus) {
      plus = true;
      s.remove_prefix(1);
      continue;
    }
    auto m = MarkAtFront(s);
    if (!m || m->codes.empty() || !marks.empty()) return Refusal(not_a_number);
    marks.push_back(*m);
    s.remove_prefix(m->length);
  }
  if (s.empty()) return Refusal(shown + " has no digits; write a number such as 30000");

  // The number: digits and single separators; a space separates only when a digit follows.
  std::vector<std::string_view> groups;
  std::vector<Sep> seps;
  size_t i = 0, start = 0;
  if (s[0] == '.' || s[0] == ',') {
    return Refusal(shown + " has no digits before the decimal point");
  }
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (IsDigit(c)) continue;
    Sep sep;
    size_t len = 1;
    if (c == '.') {
      sep = Sep::kDot;
    } else if (c == ',') {
      sep = Sep::kComma;
    } else if (size_t n = SpaceLength(s.substr(i));
               n > 0 && i + n < s.size() && IsDigit(s[i + n])) {
      sep = Sep::kSpace;
      len = n;
    } else {
      break;
    }
    if (i == start) return Refusal(not_a_number);  // two separators in a row
    groups.push_back(s.substr(start, i - start));
    seps.push_back(sep);
    i += len - 1;
    start = i + 1;
  }
  if (start == i) {  // ends with '.' or ','
    return Refusal(shown + " has no digits after the decimal point");
  }
  groups.push_back(s.substr(start, i - start));
  std::string_view after = s.substr(i);
  const bool spaced = SpaceLength(after) > 0;

  // After the number: spaces, one currency mark, spaces, and nothing else.
  after = TrimSpaces(after);
  if (!after.empty()) {
    auto m = MarkAtFront(after);
    if (m && !m->codes.empty() && m->length == after.size()) {
      marks.push_back(*m);
      after = {};
    }
  }
  if (!after.empty()) {
    for (char c : after) {
      if (IsDigit(c) && spaced) {
        return Refusal(shown + " holds more than one number; write only the amount, e.g. 30000");
      }
    }
    return Refusal(not_a_number);
  }
  for (const auto& m : marks) {
    if (!ListHas(m.codes, currency.code)) {
      return Refusal(shown + " names another currency (" + m.text + "); deposits are kept in " +
                     currency.code + ", so write the amount in " + currency.code);
    }
  }

  // Which separator is the decimal mark (see the header): one reading, or two for a question.
  const size_t n = seps.size();
  size_t dots = 0, commas = 0, spaces = 0;
  for (Sep sp : seps) {
    dots += sp == Sep::kDot;
    commas += sp == Sep::kComma;
    spaces += sp == Sep::kSpace;
  }
  const std::string bad_grouping =
      shown + " is not an amount I can read: thousands must be grouped by three, as in 30,000";
  std::vector<Reading> readings;
  bool question = false;
  if (n == 0) {
    readings.push_back({std::string(groups[0]), "", false});
  } else if (dots > 0 && commas > 0) {
    const Sep last = seps[n - 1];
    if (spaces > 0 || (last == Sep::kDot ? dots : commas) != 1) {
      return Refusal(shown + " mixes separators in a way I cannot read; write it as 1000.50");
    }
    if (n > 1 && !ValidGrouping(groups, 0, n)) return Refusal(bad_grouping);
    readings.push_back({Join(groups, 0, n), std::string(groups[n]), true});
  } else if (dots + commas == 0) {
    if (!ValidGrouping(groups, 0, n + 1)) {
      return Refusal(shown + " holds more than one number; write only the amount, e.g. 30000");
    }
    readings.push_back({Join(groups, 0, n + 1), "", false});
  } else if (dots + commas >= 2) {
    if (spaces > 0) {
      return Refusal(shown + " mixes separators in a way I cannot read; write it as 1000.50");
    }
    if (!ValidGrouping(groups, 0, n + 1)) return Refusal(bad_grouping);
    readings.push_back({Join(groups, 0, n + 1), "", false});
  } else {  // one '.' or ',' (perhaps after space grouping)
    const Sep mark = dots == 1 ? Sep::kDot : Sep::kComma;
    if (seps[n - 1] != mark) {
      return Refusal(shown + " mixes separators in a way I cannot read; write it as 1000.50");
    }
    if (spaces > 0 && !ValidGrouping(groups, 0, n)) {
      return Refusal(shown + " holds more than one number; write only the amount, e.g. 30000");
    }
    const bool decimal_able = mark == Sep::kDot || CommaMayBeDecimal(currency);
    const bool grouping_able =
        groups[n].size() == 3 && (spaces > 0 || (groups[0].size() <= 3 && groups[0][0] != '0'));
    Reading as_decimal{Join(groups, 0, n), std::string(groups[n]), true};
    Reading as_grouping{Join(groups, 0, n + 1), "", false};
    if (decimal_able && grouping_able) {
      if (mark == Sep::kDot && currency.exponent == 3) {
        readings.push_back(as_decimal);  // "1.250 BD": the currency's own notation
      } else {
        readings = {as_grouping, as_decimal};
        question = true;
      }
    } else if (decimal_able) {
      readings.push_back(as_decimal);
    } else if (grouping_able && spaces == 0) {
      readings.push_back(as_grouping);
    } else if (mark == Sep::kComma && !grouping_able && spaces == 0) {
      return Refusal(shown + " is not an amount I can read: in " + currency.code +
                     " a comma groups thousands (30,000)" +
                     (currency.exponent > 0 ? " and a dot marks the decimals (12.50)" : ""));
    } else {
      return Refusal(shown + " mixes separators in a way I cannot read; write it as 1000.50");
    }
  }

  if (!question) return FromScaled(Scale(readings[0], currency, false), currency, shown, rule);

  // Ambiguous: list every reading that is an exact amount, and ask.
  UserAmount a;
  a.kind = UserAmount::Kind::kQuestion;
  std::vector<std::string> plain;
  for (const auto& r : readings) {
    const Scaled v = Scale(r, currency, true);
    if (v.problem != Scaled::Problem::kNone) continue;
    if (v.minor == 0 && rule == AmountRule::kPositive) continue;
    a.readings.push_back(v.minor);
    plain.push_back(PlainMinor(v.minor, currency.exponent));
  }
  if (a.readings.empty()) return Refusal(not_a_number);
  const std::string sep_name = dots == 1 ? "dot" : "comma";
  const std::string decimal_name = dots == 1 ? "decimal point" : "decimal comma";
  if (a.readings.size() == 2) {
    a.message = "Did you mean " + FormatAmount(a.readings[0], currency) + " or " +
                FormatAmount(a.readings[1], currency) + "? In " + shown + " the " + sep_name +
                " can separate thousands or mark the decimals, so I will not guess; please send "
                "the amount again as " +
                plain[0] + " or " + plain[1] + ".";
  } else {
    a.message = "Did you mean " + FormatAmount(a.readings[0], currency) + "? In " + shown +
                " the " + sep_name + " is either a thousands separator or a " + decimal_name +
                ", and " + Places(currency) +
                ", so I will not guess; please send the amount "
                "again as " +
                plain[0] + " to confirm.";
  }
  return a;
}

Result<int64_t> ParseUserAmount(std::string_view text, const Currency& currency, AmountRule rule) {
  UserAmount a = ReadUserAmount(text, currency, rule);
  if (!a) return Error::Invalid(std::move(a.message));
  return a.minor;
}

namespace {

bool HasDigit(std::string_view w) {
  for (char c : w) {
    if (IsDigit(c)) return true;
  }
  return false;
}

// A word that is a number as people write it: digits, separators, signs, and at most one
// currency mark glued to either end ("30,000", "1.000,50", "-5", "$12.50", "30,000원").
bool IsNumberWord(std::string_view w) {
  if (!HasDigit(w) && !HasKoreanUnit(w)) return false;
  if (auto m = MarkAtFront(w); m && !m->codes.empty()) w.remove_prefix(m->length);
  if (auto m = MarkAtBack(w); m && !m->codes.empty()) w.remove_suffix(m->length);
  while (!w.empty()) {
    char c = w.front();
    if (IsDigit(c) || c == '.' || c == ',' || c == '+' || c == '-') {
      w.remove_prefix(1);
    } else if (auto unit = KoreanUnitAt(w)) {  // "3만", "5천원", "오만원"
      w.remove_prefix(unit->text.size());
    } else if (auto digit = KoreanDigitBeforeUnit(w)) {
      w.remove_prefix(digit);
    } else if (size_t n = SpaceLength(w)) {
      w.remove_prefix(n);
    } else if (w.substr(0, 3) == "\xE2\x88\x92") {
      w.remove_prefix(3);
    } else {
      return false;
    }
  }
  return true;
}

// A separate currency word: a sign, an ISO code in any case, or a currency word in lower case
// ("BD" also in upper case), so that "WON BIN" or "Won Bin" stays a name.
bool IsCurrencyWord(std::string_view w) {
  for (const auto& m : kSigns) {
    if (w == m.text) return true;
  }
  if (w.size() == 3 && IsAsciiLetter(w[0]) && IsAsciiLetter(w[1]) && IsAsciiLetter(w[2]) &&
      Currency::FromCode(AsciiUpper(w))) {
    return true;
  }
  for (const auto& m : kWords) {
    if (w == m.text || (m.upper_is_currency && w == AsciiUpper(m.text))) return true;
  }
  return false;
}

}  // namespace

bool IsAmountWord(std::string_view word) { return IsNumberWord(word); }

AmountAndRest SplitLeadingAmount(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  auto join = [&](size_t from, size_t to) {
    std::string out;
    for (size_t k = from; k < to; ++k) out += (out.empty() ? "" : " ") + std::string(words[k]);
    return out;
  };
  size_t k = 0;
  if (k < words.size() && IsCurrencyWord(words[k])) ++k;  // "$ 12.50", "KRW 30000"
  size_t numbers = 0;
  while (k < words.size() && IsNumberWord(words[k])) {
    ++k;
    ++numbers;
  }
  if (numbers == 0) {
    if (words.empty()) return {};
    return {std::string(words[0]), join(1, words.size())};
  }
  if (k < words.size() && IsCurrencyWord(words[k])) ++k;  // "30,000 won"
  return {join(0, k), join(k, words.size())};
}

}  // namespace depositbot
