#include "common/text.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using namespace depositbot;

namespace {

#define E_ACUTE "\xC3\xA9"              // é, 2 bytes
#define EURO "\xE2\x82\xAC"             // €, 3 bytes
#define MONEY_WINGS "\xF0\x9F\x92\xB8"  // 💸, 4 bytes, above U+FFFF

std::string Bytes(const char* s, size_t n) { return std::string(s, n); }

}  // namespace

TEST_CASE("changing case touches the ASCII letters only, not the bytes of other letters") {
  CHECK(AsciiLower("ExAmple.COM") == "example.com");
  CHECK(AsciiLower("\xC3\x89"
                   "COLE") ==
        "\xC3\x89"
        "cole");  // É stays É
  CHECK(AsciiUpper("krw 1,000") == "KRW 1,000");
  CHECK(AsciiUpper(E_ACUTE) == E_ACUTE);
  CHECK(AsciiLower("") == "");
}

TEST_CASE("a case-blind comparison ignores ASCII case and nothing else") {
  CHECK(EqualsIgnoringAsciiCase("ERROR", "error"));
  CHECK(EqualsIgnoringAsciiCase("", ""));
  CHECK_FALSE(EqualsIgnoringAsciiCase("OK", "OKAY"));
  CHECK_FALSE(EqualsIgnoringAsciiCase("\xC3\x89", E_ACUTE));  // É and é differ beyond ASCII
}

TEST_CASE("UTF-16 length counts emoji as two units and each byte that is not UTF-8 as one") {
  CHECK(Utf16Length("abc") == 3);
  CHECK(Utf16Length(E_ACUTE EURO) == 2);
  CHECK(Utf16Length(MONEY_WINGS) == 2);
  CHECK(Utf16Length(Bytes("\xff\xfe", 2)) == 2);
  CHECK(Utf16Length(Bytes("\xC0\x80", 2)) == 2);          // overlong NUL
  CHECK(Utf16Length(Bytes("\xED\xA0\x80", 3)) == 3);      // a lone surrogate
  CHECK(Utf16Length(Bytes("\xF4\x90\x80\x80", 4)) == 4);  // past U+10FFFF
  CHECK(Utf16Length(Bytes("a\xE2\x82", 3)) == 3);         // a sequence cut short
}

TEST_CASE("a text's code points are counted only when all of it is well-formed UTF-8") {
  CHECK(CountUtf8CodePoints("") == 0u);
  CHECK(CountUtf8CodePoints("a" E_ACUTE EURO MONEY_WINGS) == 4u);
  CHECK_FALSE(CountUtf8CodePoints(Bytes("a\xC0\x80", 3)));
  CHECK_FALSE(CountUtf8CodePoints(Bytes("\xED\xA0\x80", 3)));
  CHECK_FALSE(CountUtf8CodePoints(Bytes("\xF4\x90\x80\x80", 4)));
  CHECK_FALSE(CountUtf8CodePoints(Bytes("a\xE2\x82", 3)));
}

TEST_CASE("a code point written as UTF-8 decodes back to itself, its bytes counted") {
  for (uint32_t v : {0x41u, 0xE9u, 0x20ACu, 0x1F4B8u, 0x10FFFFu}) {
    std::string s = "x";
    AppendUtf8(s, v);
    const Utf8CodePoint cp = DecodeUtf8At(s, 1);
    CAPTURE(v);
    CHECK(cp.valid);
    CHECK(cp.value == v);
    CHECK(cp.size == s.size() - 1);
    CHECK(cp.utf16_units() == (v >= 0x10000 ? 2u : 1u));
  }
  const Utf8CodePoint bad = DecodeUtf8At(Bytes("\xE2\x82", 2), 0);
  CHECK_FALSE(bad.valid);
  CHECK(bad.size == 1);
  CHECK(bad.value == 0xE2);
}

TEST_CASE("clipping never cuts a character in two and marks the cut") {
  CHECK(ClipUtf8("abc", 3) == "abc");
  CHECK(ClipUtf8("abcd", 3) == "abc...");
  CHECK(ClipUtf8("a" EURO "b", 2) == "a...");  // € does not fit whole: it goes whole
  CHECK(ClipUtf8("a" EURO "b", 4) == "a" EURO "...");
}

TEST_CASE("the first code points of a text end on a character boundary") {
  CHECK(FirstCodePoints("a" EURO MONEY_WINGS "b", 2) == "a" EURO);
  CHECK(FirstCodePoints("a" EURO MONEY_WINGS "b", 3) == "a" EURO MONEY_WINGS);
  CHECK(FirstCodePoints("ab", 5) == "ab");
  CHECK(FirstCodePoints("ab", 0) == "");
}

TEST_CASE("a quoted reason ends with one full stop, never two") {
  CHECK(EndSentence("the name is taken") == "the name is taken.");
  CHECK(EndSentence("the name is taken.") == "the name is taken.");
  CHECK(EndSentence("is it taken?") == "is it taken?");
  CHECK(EndSentence("이미 등록된 이름입니다。") == "이미 등록된 이름입니다。");
  CHECK(EndSentence("trailing space. ") == "trailing space.");
  CHECK(EndSentence("") == ".");
}
