#include "common/text.h"

namespace depositbot {
namespace {

char ToLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char ToUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLower(c);
  return out;
}

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToUpper(c);
  return out;
}

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) return false;
  }
  return true;
}

Utf8CodePoint DecodeUtf8At(std::string_view s, size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  Utf8CodePoint cp;
  cp.value = b;
  size_t len = 0;
  uint32_t v = 0;
  if (b < 0x80) {
    cp.valid = true;
    return cp;
  } else if ((b & 0xE0) == 0xC0) {
    len = 2;
    v = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3;
    v = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4;
    v = b & 0x07;
  } else {
    return cp;
  }
  if (i + len > s.size()) return cp;
  for (size_t k = 1; k < len; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return cp;
    v = (v << 6) | (c & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
      v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
    return cp;
  }
  cp.value = v;
  cp.size = len;
  cp.valid = true;
  return cp;
}

void AppendUtf8(std::string& out, uint32_t v) {
  if (v < 0x80) {
    out += static_cast<char>(v);
  } else if (v < 0x800) {
    out += static_cast<char>(0xC0 | (v >> 6));
    out += static_cast<char>(0x80 | (v & 0x3F));
  } else if (v < 0x10000) {
    out += static_cast<char>(0xE0 | (v >> 12));
    out += static_cast<char>(0x80 | ((v >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (v & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (v >> 18));
    out += static_cast<char>(0x80 | ((v >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((v >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (v & 0x3F));
  }
}

bool IsUtf8Continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

size_t Utf16Length(std::string_view utf8) {
  size_t units = 0;
  for (size_t i = 0; i < utf8.size();) {
    const Utf8CodePoint cp = DecodeUtf8At(utf8, i);
    units += cp.utf16_units();
    i += cp.size;
  }
  return units;
}

std::optional<size_t> CountUtf8CodePoints(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size();) {
    const Utf8CodePoint cp = DecodeUtf8At(s, i);
    if (!cp.valid) return std::nullopt;
    i += cp.size;
    ++count;
  }
  return count;
}

std::string ClipUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  size_t end = max_bytes;
  while (end > 0 && IsUtf8Continuation(s[end])) --end;
  return std::string(s.substr(0, end)) + "...";
}

std::string FirstCodePoints(std::string_view s, size_t limit) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsUtf8Continuation(s[i])) {
      if (count == limit) return std::string(s.substr(0, i));
      ++count;
    }
  }
  return std::string(s);
}

std::string EndSentence(std::string_view s) {
  std::string out(s);
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
  for (std::string_view end : {".", "!", "?", "\xE2\x80\xA6", "\xE3\x80\x82"}) {  // … 。
    if (out.size() >= end.size() && out.compare(out.size() - end.size(), end.size(), end) == 0) {
      return out;
    }
  }
  return out + ".";
}

}  // namespace depositbot
