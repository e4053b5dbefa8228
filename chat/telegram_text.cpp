#include "chat/telegram_text.h"

#include <cctype>
#include <cstdint>

#include "common/text.h"

namespace depositbot {
namespace {

// Code points that belong to the character before them: cutting before one would split a
// visible character (an emoji sequence, an accent, a keycap).
bool JoinsPrevious(uint32_t v) {
  return v == 0x200D ||                     // zero-width joiner
         (v >= 0xFE00 && v <= 0xFE0F) ||    // variation selectors
         (v >= 0x1F3FB && v <= 0x1F3FF) ||  // skin tones
         v == 0x20E3 ||                     // combining keycap
         (v >= 0x0300 && v <= 0x036F) ||    // combining diacritics
         (v >= 0x1160 && v <= 0x11FF) ||    // Hangul conjoining vowels and finals
         (v >= 0xE0020 && v <= 0xE007F);    // emoji tag sequences (subdivision flags)
}

bool IsRegionalIndicator(uint32_t v) { return v >= 0x1F1E6 && v <= 0x1F1FF; }

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

// Length of a well-formed tag at s[i] == '<' ("<b>", "</b>", "<a href=\"x\">"), or 0.
size_t TagLength(std::string_view s, size_t i) {
  size_t k = i + 1;
  if (k < s.size() && s[k] == '/') ++k;
  if (k >= s.size() || !std::isalpha(static_cast<unsigned char>(s[k]))) return 0;
  for (size_t e = k; e < s.size(); ++e) {
    if (s[e] == '>') return e - i + 1;
    if (s[e] == '<') return 0;
  }
  return 0;
}

// Length of an entity at s[i] == '&' ("&amp;", "&#39;", "&#x1F600;"), or 0.
size_t EntityLength(std::string_view s, size_t i) {
  constexpr size_t kMaxEntity = 12;
  for (size_t e = i + 1; e < s.size() && e - i <= kMaxEntity; ++e) {
    if (s[e] == ';') return e - i >= 2 ? e - i + 1 : 0;
    if (!std::isalnum(static_cast<unsigned char>(s[e])) && s[e] != '#') return 0;
  }
  return 0;
}

std::string TagName(std::string_view tag) {
  size_t k = 1;
  if (tag[k] == '/') ++k;
  std::string name;
  while (k < tag.size() && IsNameChar(tag[k])) {
    name += static_cast<char>(std::tolower(static_cast<unsigned char>(tag[k])));
    ++k;
  }
  return name;
}

enum class AtomKind { kText, kNewline, kSpace, kOpenTag, kCloseTag };

// The unit a cut may not enter: a tag, an entity, or a character with its joined code points.
struct Atom {
  size_t begin = 0;
  size_t end = 0;
  size_t units = 0;
  AtomKind kind = AtomKind::kText;
  std::string tag_name;  // kOpenTag, kCloseTag
};

std::vector<Atom> Tokenize(std::string_view s) {
  std::vector<Atom> atoms;
  size_t i = 0;
  while (i < s.size()) {
    Atom a;
    a.begin = i;
    if (s[i] == '<') {
      if (size_t len = TagLength(s, i)) {
        std::string_view tag = s.substr(i, len);
        a.end = i + len;
        a.units = Utf16Length(tag);
        bool self_closing = tag.size() >= 2 && tag[tag.size() - 2] == '/';
        a.kind = tag[1] == '/' ? AtomKind::kCloseTag
                               : (self_closing ? AtomKind::kText : AtomKind::kOpenTag);
        a.tag_name = TagName(tag);
        atoms.push_back(std::move(a));
        i += len;
        continue;
      }
    } else if (s[i] == '&') {
      if (size_t len = EntityLength(s, i)) {
        a.end = i + len;
        a.units = len;  // entities are ASCII
        atoms.push_back(std::move(a));
        i += len;
        continue;
      }
    } else if (s[i] == '\n') {
      a.kind = AtomKind::kNewline;
    } else if (s[i] == ' ') {
      a.kind = AtomKind::kSpace;
    }
    Utf8CodePoint cp = DecodeUtf8At(s, i);
    size_t end = i + cp.size;
    size_t units = cp.utf16_units();
    bool regional = cp.valid && IsRegionalIndicator(cp.value);
    bool after_zwj = false;
    while (end < s.size()) {
      Utf8CodePoint next = DecodeUtf8At(s, end);
      if (!next.valid) break;
      bool join =
          after_zwj || JoinsPrevious(next.value) || (regional && IsRegionalIndicator(next.value));
      if (!join) break;
      regional = false;  // a flag is exactly two regional indicators
      after_zwj = next.value == 0x200D;
      end += next.size;
      units += next.utf16_units();
    }
    a.end = end;
    a.units = units;
    atoms.push_back(std::move(a));
    i = end;
  }
  return atoms;
}

struct OpenTag {
  std::string name;
  std::string text;  // the opening tag as written, attributes included
};

size_t CloseUnits(const std::string& name) { return name.size() + 3; }  // "</" name ">"

// Applies a tag atom to the stack of open tags; returns the change in closing cost.
void ApplyTag(std::string_view s, const Atom& a, std::vector<OpenTag>& stack, size_t& close_units) {
  if (a.kind == AtomKind::kOpenTag) {
    stack.push_back({a.tag_name, std::string(s.substr(a.begin, a.end - a.begin))});
    close_units += CloseUnits(a.tag_name);
  } else if (a.kind == AtomKind::kCloseTag) {
    // Close up to the matching tag; an end tag nothing opened changes nothing.
    for (size_t k = stack.size(); k-- > 0;) {
      if (stack[k].name == a.tag_name) {
        while (stack.size() > k) {
          close_units -= CloseUnits(stack.back().name);
          stack.pop_back();
        }
        break;
      }
    }
  }
}

bool HasVisibleText(std::string_view html) {
  for (char c : StripHtml(html)) {
    if (!std::isspace(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

// Decodes one entity ("&amp;"); false when it is not one Telegram knows.
bool DecodeEntity(std::string_view entity, std::string& out) {
  std::string_view body = entity.substr(1, entity.size() - 2);
  if (body == "amp") return out += '&', true;
  if (body == "lt") return out += '<', true;
  if (body == "gt") return out += '>', true;
  if (body == "quot") return out += '"', true;
  if (body.size() < 2 || body[0] != '#') return false;
  bool hex = body[1] == 'x' || body[1] == 'X';
  std::string_view digits = body.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > 8) return false;
  uint32_t v = 0;
  for (char c : digits) {
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : hex && std::isxdigit(static_cast<unsigned char>(c))
                ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                : -1;
    if (d < 0) return false;
    v = v * (hex ? 16 : 10) + static_cast<uint32_t>(d);
    if (v > 0x10FFFF) return false;
  }
  if (v == 0 || (v >= 0xD800 && v <= 0xDFFF)) return false;
  AppendUtf8(out, v);
  return true;
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<std::string> SplitForTelegram(std::string_view html, size_t limit) {
  if (limit == 0) limit = 1;
  if (Utf16Length(html) <= limit) {
    if (!HasVisibleText(html)) return {};
    return {std::string(html)};
  }
  const std::vector<Atom> atoms = Tokenize(html);
  const size_t n = atoms.size();
  constexpr size_t kNone = static_cast<size_t>(-1);

  std::vector<std::string> parts;
  std::vector<OpenTag> stack;  // open at the start of the current part
  size_t i = 0;
  while (i < n) {
    std::string prefix;
    size_t close_units = 0;
    for (const OpenTag& t : stack) {
      prefix += t.text;
      close_units += CloseUnits(t.name);
    }
    size_t cost = Utf16Length(prefix);
    std::vector<OpenTag> trial = stack;
    size_t line_break = kNone;
    size_t space_break = kNone;
    size_t hard_cut = kNone;
    bool all_fit = true;
    for (size_t j = i; j < n; ++j) {
      cost += atoms[j].units;
      ApplyTag(html, atoms[j], trial, close_units);
      if (cost + close_units > limit) {
        all_fit = false;
        break;
      }
      // Cutting right after an opening tag would only leave an empty element behind.
      if (atoms[j].kind != AtomKind::kOpenTag) hard_cut = j + 1;
      if (j + 1 < n && atoms[j + 1].kind == AtomKind::kNewline) line_break = j + 1;
      if (j + 1 < n && atoms[j + 1].kind == AtomKind::kSpace) space_break = j + 1;
    }
    size_t end = 0;   // atoms [i, end) go into this part
    size_t next = 0;  // the next part starts here; [end, next) is a dropped separator
    if (all_fit) {
      end = next = n;
    } else if (line_break != kNone) {
      end = line_break;
      next = line_break + 1;
    } else if (space_break != kNone) {
      end = space_break;
      next = space_break + 1;
    } else if (hard_cut != kNone) {
      end = next = hard_cut;
    } else {
      end = next = i + 1;  // nothing fits (absurd nesting): make progress anyway
    }
    std::string part = prefix;
    part.append(html.substr(atoms[i].begin, atoms[end - 1].end - atoms[i].begin));
    size_t unused = 0;
    for (size_t k = i; k < end; ++k) ApplyTag(html, atoms[k], stack, unused);
    if (next < n || end < n) {
      for (size_t k = stack.size(); k-- > 0;) part += "</" + stack[k].name + ">";
    }
    if (HasVisibleText(part)) parts.push_back(std::move(part));
    i = next;
  }
  return parts;
}

std::string StripHtml(std::string_view html) {
  std::string out;
  out.reserve(html.size());
  for (size_t i = 0; i < html.size();) {
    if (html[i] == '<') {
      if (size_t len = TagLength(html, i)) {
        i += len;
        continue;
      }
    } else if (html[i] == '&') {
      if (size_t len = EntityLength(html, i)) {
        if (DecodeEntity(html.substr(i, len), out)) {
          i += len;
          continue;
        }
      }
    }
    out += html[i++];
  }
  return out;
}

}  // namespace depositbot
