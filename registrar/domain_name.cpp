#include "registrar/domain_name.h"

#include <idn2.h>
#include <libpsl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <memory>
#include <set>
#include <stdexcept>

#include "common/text.h"

namespace depositbot {
namespace {

constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxName = 253;
constexpr size_t kOfferedShown = 10;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitLabels(std::string_view name) {
  std::vector<std::string_view> labels;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    labels.push_back(name.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels;
}

std::string Join(const std::vector<std::string_view>& labels, size_t from) {
  std::string out;
  for (size_t i = from; i < labels.size(); ++i) {
    if (i > from) out += '.';
    out += labels[i];
  }
  return out;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool IsLdh(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

std::string DescribeChar(char c) {
  if (c == ' ') return "a space";
  if (!std::isprint(static_cast<unsigned char>(c))) return "a control character";
  return Quote(std::string(1, c));
}

struct Idn2Free {
  void operator()(void* p) const { idn2_free(p); }
};

// A-label form of UTF-8 text under UTS #46 non-transitional processing, or libidn2's error.
// Deliberately without IDN2_USE_STD3_ASCII_RULES: with it libidn2 2.3 silently drops spaces,
// underscores and slashes ("ex ample.com" -> "example.com"); without it they stay and the
// LDH check below refuses them by name.
int ToAscii(const std::string& utf8, std::string& out) {
  char* raw = nullptr;
  int rc = idn2_to_ascii_8z(utf8.c_str(), &raw, IDN2_NONTRANSITIONAL);
  std::unique_ptr<char, Idn2Free> owned(raw);
  if (rc == IDN2_OK && raw) out = raw;
  return rc;
}

bool ToUnicode(const std::string& ascii, std::string& out) {
  char* raw = nullptr;
  int rc = idn2_to_unicode_8z8z(ascii.c_str(), &raw, 0);
  std::unique_ptr<char, Idn2Free> owned(raw);
  if (rc != IDN2_OK || !raw) return false;
  out = raw;
  return true;
}

bool ToCodePoints(const std::string& ascii, std::u32string& out) {
  uint32_t* raw = nullptr;
  int rc = idn2_to_unicode_8z4z(ascii.c_str(), &raw, 0);
  std::unique_ptr<uint32_t, Idn2Free> owned(raw);
  if (rc != IDN2_OK || !raw) return false;
  out.clear();
  for (const uint32_t* p = raw; *p; ++p) out.push_back(static_cast<char32_t>(*p));
  return true;
}

// Why libidn2 refused a name, as the end of a sentence about it.
std::string Idn2Reason(int rc) {
  switch (rc) {
    case IDN2_DISALLOWED:
    case IDN2_UNASSIGNED:
      return "contains a character that is not allowed in domain names (such as a symbol or an "
             "emoji).";
    case IDN2_CONTEXTJ:
    case IDN2_CONTEXTJ_NO_RULE:
    case IDN2_CONTEXTO:
    case IDN2_CONTEXTO_NO_RULE:
      return "contains an invisible joining character or a punctuation mark where domain names "
             "do not allow it.";
    case IDN2_BIDI:
      return "mixes right-to-left and left-to-right writing in a way domain names do not allow.";
    case IDN2_LEADING_COMBINING:
      return "has a part that starts with an accent or another combining mark.";
    case IDN2_HYPHEN_STARTEND:
      return "has a part that starts or ends with a hyphen, which is not allowed.";
    case IDN2_2HYPHEN:
      return "has a part with hyphens in its third and fourth places, which only xn-- parts may "
             "have.";
    case IDN2_TOO_BIG_LABEL:
      return "has a part longer than 63 characters in its ASCII (xn--) form.";
    case IDN2_TOO_BIG_DOMAIN:
      return "is longer than 253 characters in its ASCII (xn--) form.";
    case IDN2_PUNYCODE_BAD_INPUT:
    case IDN2_PUNYCODE_BIG_OUTPUT:
    case IDN2_PUNYCODE_OVERFLOW:
    case IDN2_INVALID_ALABEL:
    case IDN2_ALABEL_ROUNDTRIP_FAILED:
    case IDN2_INVALID_TRANSITIONAL:
    case IDN2_INVALID_NONTRANSITIONAL:
      return "has an xn-- part that is not a valid internationalised name.";
    case IDN2_ENCODING_ERROR:
    case IDN2_ICONV_FAIL:
      return "is not valid UTF-8 text.";
    default:
      return std::string("is not a valid domain name (") + idn2_strerror(rc) + ").";
  }
}

enum class Script {
  kCommon,     // digits, hyphen
  kInherited,  // combining marks: take the script of the letter they sit on
  kLatin,
  kGreek,
  kCyrillic,
  kHebrew,
  kArabic,
  kThai,
  kHangul,
  kHiragana,
  kKatakana,
  kHan,
  kOther,
};

// A small table of Unicode blocks, enough to tell the scripts names are registered in apart;
// everything else is kOther and refused.
Script ScriptOf(char32_t c) {
  struct Range {
    char32_t first, last;
    Script script;
  };
  static constexpr Range kRanges[] = {
      {U'0', U'9', Script::kCommon},
      {U'-', U'-', Script::kCommon},
      {U'a', U'z', Script::kLatin},
      {0x00C0, 0x024F, Script::kLatin},  // Latin-1 letters, Extended-A and -B
      {0x0300, 0x036F, Script::kInherited},
      {0x0370, 0x03FF, Script::kGreek},
      {0x0400, 0x052F, Script::kCyrillic},
      {0x0590, 0x05FF, Script::kHebrew},
      {0x0600, 0x06FF, Script::kArabic},
      {0x0750, 0x077F, Script::kArabic},
      {0x0E00, 0x0E7F, Script::kThai},
      {0x1100, 0x11FF, Script::kHangul},
      {0x1E00, 0x1EFF, Script::kLatin},  // Latin Extended Additional
      {0x1F00, 0x1FFF, Script::kGreek},  // Greek Extended
      {0x3005, 0x3007, Script::kHan},    // 々 〆 〇
      {0x3040, 0x309F, Script::kHiragana},
      {0x30A0, 0x30FF, Script::kKatakana},
      {0x3130, 0x318F, Script::kHangul},
      {0x3400, 0x4DBF, Script::kHan},
      {0x4E00, 0x9FFF, Script::kHan},
      {0xAC00, 0xD7AF, Script::kHangul},
      {0x20000, 0x2A6DF, Script::kHan},
  };
  for (const auto& r : kRanges) {
    if (c >= r.first && c <= r.last) return r.script;
  }
  return Script::kOther;
}

const char* ScriptName(Script s) {
  switch (s) {
    case Script::kLatin:
      return "Latin";
    case Script::kGreek:
      return "Greek";
    case Script::kCyrillic:
      return "Cyrillic";
    case Script::kHebrew:
      return "Hebrew";
    case Script::kArabic:
      return "Arabic";
    case Script::kThai:
      return "Thai";
    case Script::kHangul:
      return "Hangul";
    case Script::kHiragana:
      return "Hiragana";
    case Script::kKatakana:
      return "Katakana";
    case Script::kHan:
      return "Han (Chinese characters)";
    default:
      return "other";
  }
}

std::string Utf8(std::u32string_view cps) {
  std::string out;
  for (char32_t c : cps) AppendUtf8(out, static_cast<uint32_t>(c));
  return out;
}

// Languages whose letters a Latin-script internationalised label may use, tried in this order;
// the first whose alphabet holds every non-ASCII letter of the label names its language.
struct LatinLanguage {
  const char* code;
  std::u32string_view letters;
};
constexpr LatinLanguage kLatinLanguages[] = {
    {"ger", U"äöüß"},         {"fre", U"àâæçéèêëîïôœùûüÿ"}, {"spa", U"áéíñóúü"},
    {"por", U"ãáâàçéêíóôõú"}, {"ita", U"àèéìíîòóùú"},       {"dan", U"æøå"},
    {"swe", U"åäö"},          {"pol", U"ąćęłńóśźż"},        {"cze", U"áčďéěíňóřšťúůýž"},
    {"tur", U"çğıöşü"},       {"hun", U"áéíóöőúüű"},
};

// The IDN language code of a registrable label from its scripts, or why there is none.
// `cps` is the label in Unicode, `shown` the same as UTF-8 for messages.
Result<std::string> LabelLanguage(std::u32string_view cps, const std::string& shown) {
  std::set<Script> scripts;
  for (char32_t c : cps) {
    Script s = ScriptOf(c);
    if (s == Script::kOther) {
      return Error::Invalid(Quote(shown) + " contains " + Quote(Utf8(std::u32string(1, c))) +
                            ", from a script names cannot be registered in here (Latin, Greek, "
                            "Cyrillic, Hebrew, Arabic, Thai, Hangul, Japanese and Chinese are).");
    }
    if (s != Script::kCommon && s != Script::kInherited) scripts.insert(s);
  }
  auto within = [&scripts](std::initializer_list<Script> allowed) {
    return std::all_of(scripts.begin(), scripts.end(), [&](Script s) {
      return std::find(allowed.begin(), allowed.end(), s) != allowed.end();
    });
  };
  // Japanese writes Han with kana and Korean may write Han with Hangul; any other mixture
  // (Cyrillic "р" and "а" among Latin letters, Hangul beside Latin) is how look-alike names
  // are made.
  const bool japanese = within({Script::kHan, Script::kHiragana, Script::kKatakana});
  const bool korean = within({Script::kHangul, Script::kHan});
  if (scripts.size() > 1 && !japanese && !korean) {
    std::string names;
    size_t i = 0;
    for (Script s : scripts) {
      if (i > 0) names += i + 1 == scripts.size() ? " and " : ", ";
      names += ScriptName(s);
      ++i;
    }
    return Error::Invalid(Quote(shown) + " mixes " + names +
                          " letters in one part of the name, as look-alike names made to imitate "
                          "another do; write each part in one script.");
  }
  if (scripts.empty()) return std::string();
  if (scripts.count(Script::kHangul)) return std::string("kor");
  if (scripts.count(Script::kHiragana) || scripts.count(Script::kKatakana)) {
    return std::string("jpn");
  }
  switch (*scripts.begin()) {
    case Script::kHan:
      return std::string("chi");
    case Script::kCyrillic:
      return std::string("rus");
    case Script::kGreek:
      return std::string("gre");
    case Script::kHebrew:
      return std::string("heb");
    case Script::kArabic:
      return std::string("ara");
    case Script::kThai:
      return std::string("tha");
    default:
      break;
  }
  std::u32string special;
  for (char32_t c : cps) {
    if (c >= 0x80 && special.find(c) == std::u32string::npos) special.push_back(c);
  }
  for (const auto& lang : kLatinLanguages) {
    if (std::all_of(special.begin(), special.end(), [&](char32_t c) {
          return lang.letters.find(c) != std::u32string_view::npos;
        })) {
      return std::string(lang.code);
    }
  }
  return Error::Invalid(Quote(shown) + " uses the letters " + Quote(Utf8(special)) +
                        ", which I cannot match to one language; the registrar needs the "
                        "language of an internationalised name, so it cannot be registered "
                        "here.");
}

// Cyrillic and Greek letters that pass for Latin ones. A label written only in them spells a
// Latin name it is not ("аррӏе" for "apple"): browsers show such names as xn-- outside the
// script's own country extensions, and they are not registered here either.
struct LookAlike {
  char32_t letter;
  char latin;
};
constexpr LookAlike kLookAlikes[] = {
    {0x0430, 'a'}, {0x0435, 'e'}, {0x043E, 'o'}, {0x0440, 'p'}, {0x0441, 'c'}, {0x0443, 'y'},
    {0x0445, 'x'}, {0x0456, 'i'}, {0x0458, 'j'}, {0x0455, 's'}, {0x04BB, 'h'}, {0x0501, 'd'},
    {0x051B, 'q'}, {0x051D, 'w'}, {0x04CF, 'l'}, {0x04AF, 'y'}, {0x043A, 'k'},  // Cyrillic
    {0x03BF, 'o'}, {0x03BD, 'v'}, {0x03B9, 'i'}, {0x03BA, 'k'}, {0x03C5, 'u'}, {0x03C1, 'p'},
    {0x03B1, 'a'},  // Greek
};

// The Latin name a Cyrillic or Greek label looks like, or empty when it has a letter of its own.
std::string LatinLookAlike(std::u32string_view cps) {
  std::string latin;
  bool any = false;
  for (char32_t c : cps) {
    if (ScriptOf(c) == Script::kCommon) {
      latin += static_cast<char>(c);
      continue;
    }
    auto it = std::find_if(std::begin(kLookAlikes), std::end(kLookAlikes),
                           [c](const LookAlike& l) { return l.letter == c; });
    if (it == std::end(kLookAlikes)) return "";
    latin += it->latin;
    any = true;
  }
  return any ? latin : "";
}

// Country extensions where Cyrillic or Greek names are at home (a look-alike is then allowed).
bool NativeExtension(std::string_view suffix) {
  static constexpr std::array<std::string_view, 13> kNative = {"ru",
                                                               "su",
                                                               "by",
                                                               "ua",
                                                               "kz",
                                                               "bg",
                                                               "rs",
                                                               "mk",
                                                               "gr",
                                                               "cy",
                                                               "xn--p1ai" /* рф */,
                                                               "xn--90ais" /* бел */,
                                                               "xn--qxam" /* ελ */};
  std::string_view last = suffix.substr(suffix.rfind('.') + 1);
  return std::find(kNative.begin(), kNative.end(), last) != kNative.end();
}

const psl_ctx_st* LoadPsl() {
  static const psl_ctx_st* const kPsl = [] {
    const psl_ctx_t* builtin = psl_builtin();
    if (builtin) return builtin;
    // libpsl built without a list: Debian's publicsuffix package file.
    const psl_ctx_t* loaded = psl_load_file("/usr/share/publicsuffix/public_suffix_list.dat");
    if (!loaded) {
      throw std::runtime_error(
          "no Public Suffix List: libpsl has none built in and "
          "/usr/share/publicsuffix/public_suffix_list.dat could not be read (install the "
          "publicsuffix package)");
    }
    return loaded;  // kept for the life of the process
  }();
  return kPsl;
}

std::vector<std::string> OrderedForDisplay(const std::vector<TldOffer>& offered) {
  static constexpr std::array<std::string_view, 11> kCommon = {
      "com", "net", "org", "io", "co", "me", "app", "dev", "xyz", "info", "biz"};
  std::vector<std::string> out;
  for (std::string_view c : kCommon) {
    if (FindOffer(offered, c)) out.emplace_back(c);
  }
  std::vector<std::string> rest;
  for (const auto& o : offered) {
    if (std::find(out.begin(), out.end(), o.name) == out.end() &&
        std::find(rest.begin(), rest.end(), o.name) == rest.end()) {
      rest.push_back(o.name);
    }
  }
  std::sort(rest.begin(), rest.end());
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

std::string ListForPeople(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (size_t i = 0; i < names.size() && i < kOfferedShown; ++i) {
    out += (i == 0 ? "." : ", .") + ShownDomainName(names[i]);
  }
  if (names.size() > kOfferedShown) {
    out += " and " + std::to_string(names.size() - kOfferedShown) + " more";
  }
  return out;
}

}  // namespace

std::string DomainName::Shown() const { return idn() ? unicode + " (" + ascii + ")" : ascii; }

DomainNameRules::DomainNameRules() : psl_(LoadPsl()) {}

std::string DomainNameRules::Source() {
  if (!psl_builtin()) return "the Public Suffix List in /usr/share/publicsuffix";
  std::time_t t = psl_builtin_file_time();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
  return std::string("the Public Suffix List built into libpsl ") + psl_get_version() + " (" +
         date + ")";
}

std::string DomainNameRules::SuffixOf(std::string_view ascii) const {
  std::vector<std::string_view> labels = SplitLabels(ascii);
  for (size_t i = 0; i < labels.size(); ++i) {
    std::string candidate = Join(labels, i);
    if (psl_is_public_suffix2(psl_, candidate.c_str(), PSL_TYPE_ICANN)) return candidate;
  }
  return std::string(LastLabel(ascii));
}

Result<DomainName> DomainNameRules::Parse(std::string_view input) const {
  std::string_view trimmed = Trim(input);
  // The form the bot shows, "한글도메인.com (xn--bj0bj3i97fq8o5lq.com)", pasted back: both
  // spellings must name the same domain.
  if (size_t open = trimmed.find(" ("); open != std::string_view::npos && trimmed.ends_with(")")) {
    std::string_view first = trimmed.substr(0, open);
    std::string_view second = trimmed.substr(open + 2, trimmed.size() - open - 3);
    auto a = Parse(first);
    if (!a) return a.error();
    auto b = Parse(second);
    if (!b) return b.error();
    if (a->ascii != b->ascii) {
      return Error::Invalid(Quote(first) + " and " + Quote(second) +
                            " are two different domain names; please give just the one you "
                            "mean.");
    }
    return a;
  }
  if (trimmed.empty()) {
    return Error::Invalid("Please give a domain name, for example example.com.");
  }
  bool ascii_only = true;
  for (char c : trimmed) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      ascii_only = false;
      continue;
    }
    // The ASCII the user typed is checked here, before UTS #46 could drop any of it (libidn2
    // removes control characters), so the name bought is never one with letters missing.
    char lower = static_cast<char>(std::tolower(u));
    if (!IsLdh(lower) && c != '.') {
      return Error::Invalid(Quote(trimmed) + " contains " + DescribeChar(c) +
                            "; only letters a-z, digits 0-9 and hyphens are allowed.");
    }
  }
  std::string name;
  if (ascii_only) {
    name = AsciiLower(trimmed);
  } else if (int rc = ToAscii(std::string(trimmed), name); rc != IDN2_OK) {
    return Error::Invalid(Quote(trimmed) + " " + Idn2Reason(rc));
  }
  // "。" and "．" became "." above, and an ideographic space a plain one.
  name = std::string(Trim(name));
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty()) {
    return Error::Invalid("Please give a domain name, for example example.com.");
  }
  if (name.size() > kMaxName) {
    return Error::Invalid("That name is " + std::to_string(name.size()) +
                          " characters long; a domain name may have at most 253.");
  }
  std::vector<std::string_view> labels = SplitLabels(name);
  for (std::string_view label : labels) {
    if (label.empty()) {
      return Error::Invalid(Quote(name) + " has an empty part between dots.");
    }
    if (label.size() > kMaxLabel) {
      return Error::Invalid("The part " + Quote(label.substr(0, 20)) + "... of " + Quote(name) +
                            " is " + std::to_string(label.size()) +
                            " characters long; each part between dots may have at most 63.");
    }
    for (char c : label) {
      if (!IsLdh(c)) {
        return Error::Invalid(Quote(trimmed) + " contains " + DescribeChar(c) +
                              "; only letters a-z, digits 0-9 and hyphens are allowed.");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return Error::Invalid("The part " + Quote(label) + " of " + Quote(name) +
                            " starts or ends with a hyphen, which is not allowed.");
    }
    const bool a_label = label.starts_with("xn--");
    if (label.size() >= 4 && label.substr(2, 2) == "--" && !a_label) {
      return Error::Invalid("The part " + Quote(label) + " of " + Quote(name) +
                            " has hyphens in its third and fourth places, which only "
                            "internationalised (xn--) parts may have.");
    }
    if (a_label) {
      // Only a label that decodes and encodes back to itself is one spelling of one name.
      std::string unicode, again;
      if (!ToUnicode(std::string(label), unicode) || ToAscii(unicode, again) != IDN2_OK ||
          again != label || unicode == label) {
        return Error::Invalid("The part " + Quote(label) + " of " + Quote(name) +
                              " is not a valid internationalised (xn--) name.");
      }
    }
  }

  std::string unicode_name;
  if (!ToUnicode(name, unicode_name)) unicode_name = name;
  const std::string shown = unicode_name == name ? name : unicode_name + " (" + name + ")";
  if (labels.size() == 1 &&
      !psl_is_public_suffix2(psl_, name.c_str(), PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE)) {
    return Error::Invalid(Quote(shown) + " has no extension; add one, for example " + unicode_name +
                          ".com.");
  }
  size_t suffix_at = labels.size() - 1;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (psl_is_public_suffix2(psl_, Join(labels, i).c_str(), PSL_TYPE_ICANN)) {
      suffix_at = i;
      break;
    }
  }
  if (suffix_at == 0) {
    return Error::Invalid(Quote(shown) +
                          " is an extension that names are registered under, not a domain of "
                          "its own; put a name in front of it, for example yourname." +
                          unicode_name + ".");
  }
  if (suffix_at > 1) {
    std::string registrable = ShownDomainName(Join(labels, suffix_at - 1));
    return Error::Invalid(Quote(shown) + " is a subdomain of " + registrable +
                          "; only whole domains can be registered, so you could buy " +
                          registrable + " instead.");
  }

  DomainName out;
  out.ascii = name;
  out.unicode = unicode_name;
  out.suffix = Join(labels, 1);
  auto language = IdnLanguageOf(name);
  if (!language) return language.error();
  out.idn_language = std::move(*language);
  if ((out.idn_language == "rus" || out.idn_language == "gre") && !NativeExtension(out.suffix)) {
    std::u32string cps;
    std::string label_unicode;
    if (ToCodePoints(std::string(labels.front()), cps) &&
        ToUnicode(std::string(labels.front()), label_unicode)) {
      if (std::string latin = LatinLookAlike(cps); !latin.empty()) {
        return Error::Invalid(Quote(label_unicode) + " is written in " +
                              (out.idn_language == "rus" ? "Cyrillic" : "Greek") +
                              " letters that look like the Latin " + Quote(latin) +
                              "; it would pass for another name (" + latin + "." + out.suffix +
                              "), so it is not registered here.");
      }
    }
  }
  return out;
}

Result<std::string> DomainNameRules::Normalize(std::string_view input) const {
  auto parsed = Parse(input);
  if (!parsed) return parsed.error();
  return std::move(parsed->ascii);
}

Result<std::string> NormalizeDomainName(std::string_view input) {
  static const DomainNameRules kDefaultRules;
  return kDefaultRules.Normalize(input);
}

Result<std::string> NormalizeDomainName(std::string_view input, const DomainNameRules& rules) {
  return rules.Normalize(input);
}

std::string ShownDomainName(std::string_view ascii) {
  if (ascii.find("xn--") == std::string_view::npos) return std::string(ascii);
  std::string unicode;
  if (!ToUnicode(std::string(ascii), unicode) || unicode == ascii) return std::string(ascii);
  return unicode + " (" + std::string(ascii) + ")";
}

std::string CanonicalDomainSpelling(std::string_view name) {
  std::string_view trimmed = Trim(name);
  std::string lower = AsciiLower(trimmed);
  bool ascii_only = true;
  for (char c : trimmed) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      ascii_only = false;
    } else if (!IsLdh(static_cast<char>(std::tolower(u))) && c != '.') {
      return lower;  // libidn2 could drop it: never let it make two spellings equal
    }
  }
  std::string out = lower;
  if (!ascii_only && ToAscii(std::string(trimmed), out) != IDN2_OK) return lower;
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

Result<std::string> IdnLanguageOf(std::string_view ascii) {
  std::string label(ascii.substr(0, ascii.find('.')));
  if (!label.starts_with("xn--")) return std::string();
  std::u32string cps;
  std::string unicode;
  if (!ToCodePoints(label, cps) || !ToUnicode(label, unicode)) {
    return Error::Invalid("The part " + Quote(label) + " of " + Quote(ascii) +
                          " is not a valid internationalised (xn--) name.");
  }
  return LabelLanguage(cps, unicode);
}

std::string_view LastLabel(std::string_view domain) {
  size_t dot = domain.rfind('.');
  return dot == std::string_view::npos ? domain : domain.substr(dot + 1);
}

const TldOffer* FindOffer(const std::vector<TldOffer>& offered, std::string_view suffix) {
  for (const auto& o : offered) {
    if (o.name == suffix) return &o;
  }
  return nullptr;
}

Status CheckOffered(const DomainName& name, const std::vector<TldOffer>& offered) {
  const TldOffer* offer = FindOffer(offered, name.suffix);
  if (!offer) {
    return Error::Invalid("Domains ending in ." + ShownDomainName(name.suffix) +
                          " are not offered by the registrar. Offered: " +
                          ListForPeople(OrderedForDisplay(offered)) + ".");
  }
  if (name.idn() && !offer->supports_idn) {
    std::vector<TldOffer> idn;
    for (const auto& o : offered) {
      if (o.supports_idn) idn.push_back(o);
    }
    return Error::Invalid("Internationalised names such as " + name.Shown() + " are not offered " +
                          "under ." + name.suffix + ". Extensions that take them: " +
                          ListForPeople(OrderedForDisplay(idn)) + ".");
  }
  return Status::Ok();
}

}  // namespace depositbot
