#include "agent/reply_limit.h"

#include <array>

namespace depositbot {
namespace {

constexpr std::string_view kCutNote =
    "(My answer was cut short here; ask me to go on if you need more.)";
constexpr std::string_view kEllipsis = "…";

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The byte length of the code point starting at text[i]; 1 for a byte that does not start a
// complete, well-formed sequence.
size_t SequenceLength(std::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  size_t len = 1;
  if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= text.size() || !IsContinuation(text[i + k])) return 1;
  }
  return len;
}

// The byte length of the longest prefix of `text` that takes at most `units` UTF-16 code units
// and ends on a code point boundary.
size_t FittingPrefix(std::string_view text, size_t units) {
  size_t used = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t len = SequenceLength(text, i);
    const size_t cost = len == 4 ? 2 : 1;
    if (used + cost > units) break;
    used += cost;
    i += len;
  }
  return i;
}

// The end (exclusive) of the last sentence inside text[0, limit): just after . ! ? that is
// followed by white space or ends `text`, just after a CJK full stop, or just before a line
// break. 0 when there is none.
size_t LastSentenceEnd(std::string_view text, size_t limit) {
  static constexpr std::array<std::string_view, 3> kCjkStops = {"。", "！", "？"};
  for (size_t end = limit; end > 0; --end) {
    const char c = text[end - 1];
    if (c == '\n' && end > 1) return end - 1;
    if ((c == '.' || c == '!' || c == '?') && (end == text.size() || IsSpace(text[end]))) {
      return end;
    }
    for (std::string_view stop : kCjkStops) {
      if (end >= stop.size() && text.substr(end - stop.size(), stop.size()) == stop) return end;
    }
  }
  return 0;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

size_t Utf16Units(std::string_view utf8) {
  size_t units = 0;
  for (size_t i = 0; i < utf8.size();) {
    const size_t len = SequenceLength(utf8, i);
    units += len == 4 ? 2 : 1;
    i += len;
  }
  return units;
}

std::string LimitReply(std::string_view text, size_t max_units, bool cut_off) {
  if (!cut_off && Utf16Units(text) <= max_units) return std::string(text);
  const size_t overhead = Utf16Units(kEllipsis) + 1 + Utf16Units(kCutNote);  // "…\n(...)"
  if (max_units < overhead) return std::string(kCutNote);
  const size_t limit = FittingPrefix(text, max_units - overhead);
  // A text that fits was cut by the token cap: only its unfinished tail goes, however long.
  // One that does not fit keeps at least half of what fits.
  const size_t keep_at_least = limit < text.size() ? limit / 2 : 1;
  std::string out;
  if (size_t sentence = LastSentenceEnd(text, limit); sentence >= keep_at_least) {
    out = TrimRight(text.substr(0, sentence));
  } else {
    // The word at the cut is incomplete unless white space follows it; drop it when a space
    // keeps at least half of what fits.
    size_t cut = limit;
    if (cut == text.size() || !IsSpace(text[cut])) {
      while (cut > 0 && !IsSpace(text[cut - 1])) --cut;
      if (cut < keep_at_least) cut = limit;
    }
    out = TrimRight(text.substr(0, cut));
    if (!out.empty()) out += kEllipsis;
  }
  if (!out.empty()) out += "\n";
  out += kCutNote;
  return out;
}

}  // namespace depositbot
