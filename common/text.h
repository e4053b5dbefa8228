#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace depositbot {

// Text helpers shared by every layer. ASCII case only: bytes outside 'A'-'Z' / 'a'-'z' (UTF-8
// included) are kept as they are, whatever the process locale.

// `s` ending a sentence: a full stop added unless it already ends with one (or '!', '?', '…',
// '。'), so that a quoted reason never ends "..".
std::string EndSentence(std::string_view s);

std::string AsciiLower(std::string_view s);
std::string AsciiUpper(std::string_view s);
// Whether `a` and `b` are equal when ASCII letters are compared without regard to case.
bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b);

// UTF-8. None of these fail or throw: a byte that does not start a well-formed sequence (an
// overlong form, a surrogate, a value past U+10FFFF, a sequence cut short) stands for itself,
// one byte long, so that nothing is dropped and nothing is split further.

// One code point decoded from `s` at byte `i` (i < s.size()); `size` bytes long. An invalid
// byte decodes as its own value with size 1 and `valid` false.
struct Utf8CodePoint {
  uint32_t value = 0;
  size_t size = 1;
  bool valid = false;

  // 2 for a code point above U+FFFF (a surrogate pair), else 1.
  size_t utf16_units() const { return valid && value >= 0x10000 ? 2 : 1; }
};
Utf8CodePoint DecodeUtf8At(std::string_view s, size_t i);

// Appends the code point `v` (at most U+10FFFF, not a surrogate) as UTF-8.
void AppendUtf8(std::string& out, uint32_t v);

// Whether `c` continues a UTF-8 sequence (top two bits 10) rather than starting one.
bool IsUtf8Continuation(char c);

// How many UTF-16 code units `utf8` takes (Telegram measures text so): 2 per code point above
// U+FFFF (most emoji), 1 for every other code point and for every invalid byte.
size_t Utf16Length(std::string_view utf8);

// The code points in `s` when all of it is well-formed UTF-8; nullopt otherwise.
std::optional<size_t> CountUtf8CodePoints(std::string_view s);

// At most `max_bytes` of `s`, cut before a continuation byte, with "..." appended when cut.
std::string ClipUtf8(std::string_view s, size_t max_bytes);

// The first `limit` code points of `s` (never cutting a sequence; a code point here is a byte
// that is no continuation byte with the continuation bytes after it).
std::string FirstCodePoints(std::string_view s, size_t limit);

}  // namespace depositbot
