#include "agent/reply_limit.h"

#include <array>

#include "common/text.h"

namespace depositbot {
namespace {

constexpr std::string_view kCutNote =
    "(My answer was cut short here; ask me to go on if you need more.)";
constexpr std::string_view kEllipsis = "…";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The byte length of the longest prefix of `text` that takes at most `units` UTF-16 code units
// and ends on a code point boundary.
size_t FittingPrefix(std::string_view text, size_t units) {
  size_t used = 0;
  size_t i = 0;
  while (i < text.size()) {
    const Utf8CodePoint cp = DecodeUtf8At(text, i);
    const size_t cost = cp.utf16_units();
    if (used + cost > units) break;
    used += cost;
    i += cp.size;
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

std::string LimitReply(std::string_view text, size_t max_units, bool cut_off) {
  if (!cut_off && Utf16Length(text) <= max_units) return std::string(text);
  const size_t overhead = Utf16Length(kEllipsis) + 1 + Utf16Length(kCutNote);  // "…\n(...)"
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
