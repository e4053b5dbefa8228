#include "chat/telegram_text.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace depositbot;

namespace {

// Whether every tag opened in `html` is closed in order (the bot's subset: no attributes but
// href).
bool Balanced(const std::string& html) {
  std::vector<std::string> open;
  for (size_t i = 0; i < html.size(); ++i) {
    if (html[i] != '<') continue;
    size_t gt = html.find('>', i);
    if (gt == std::string::npos) return false;
    std::string inner = html.substr(i + 1, gt - i - 1);
    if (!inner.empty() && inner[0] == '/') {
      if (open.empty() || open.back() != inner.substr(1)) return false;
      open.pop_back();
    } else {
      open.push_back(inner.substr(0, inner.find(' ')));
    }
    i = gt;
  }
  return open.empty();
}

bool ValidUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("HtmlEscape escapes the four characters Telegram's HTML reserves") {
  CHECK(HtmlEscape("a < b && c > \"d\"") == "a &lt; b &amp;&amp; c &gt; &quot;d&quot;");
  CHECK(HtmlEscape("김민지 💸 it's fine") == "김민지 💸 it's fine");
  CHECK(HtmlEscape("") == "");
}

TEST_CASE("Utf16Length counts emoji as two units and Korean as one") {
  CHECK(Utf16Length("abc") == 3);
  CHECK(Utf16Length("한국어") == 3);
  CHECK(Utf16Length("💸") == 2);
  CHECK(Utf16Length("é") == 1);
  CHECK(Utf16Length(std::string("\xff\xfe", 2)) == 2);  // invalid bytes count one each
}

TEST_CASE("a text that fits is one unchanged part; a blank text is none") {
  CHECK(SplitForTelegram("<b>hi</b>") == std::vector<std::string>{"<b>hi</b>"});
  CHECK(SplitForTelegram("").empty());
  CHECK(SplitForTelegram(" \n\n ").empty());
}

TEST_CASE("a long text splits at the last line break that fits") {
  std::string line = Repeat("x", 99) + "\n";  // 100 units per line
  std::string text = Repeat(line, 50);        // 5000 units
  auto parts = SplitForTelegram(text);
  REQUIRE(parts.size() == 2);
  CHECK(Utf16Length(parts[0]) <= 4096);
  CHECK(Utf16Length(parts[1]) <= 4096);
  CHECK(parts[0] == Repeat(line, 40).substr(0, 4000 - 1));  // ends at a line, break dropped
  CHECK(parts[1].front() == 'x');
  CHECK(parts[0].size() + 1 + parts[1].size() == text.size());
}

TEST_CASE("without line breaks a text splits at a space, and without spaces it is cut") {
  auto words = SplitForTelegram("aaaa bbbb cccc", 10);
  CHECK(words == std::vector<std::string>{"aaaa bbbb", "cccc"});
  auto hard = SplitForTelegram("abcdefghijkl", 5);
  CHECK(hard == std::vector<std::string>{"abcde", "fghij", "kl"});
}

TEST_CASE("a split closes open tags and reopens them with their attributes") {
  std::string text = "<b>bold <a href=\"https://x.io/?a=1&amp;b=2\">link text here</a> end</b>";
  auto parts = SplitForTelegram(text, 60);
  REQUIRE(parts.size() >= 2);
  for (const std::string& p : parts) {
    CHECK(Balanced(p));
    CHECK(Utf16Length(p) <= 60);
  }
  CHECK(parts[1].rfind("<b>", 0) == 0);
  std::string joined;
  for (const std::string& p : parts) joined += StripHtml(p) + " ";
  CHECK(joined.find("link") != std::string::npos);
  CHECK(joined.find("end") != std::string::npos);
}

TEST_CASE("a cut never falls inside an entity or a tag") {
  std::string text = Repeat("&amp;", 30) + Repeat("<i>x</i>", 30);
  for (size_t limit : {7u, 11u, 13u, 17u}) {
    for (const std::string& p : SplitForTelegram(text, limit)) {
      CHECK(Balanced(p));
      for (size_t at = p.find('&'); at != std::string::npos; at = p.find('&', at + 1)) {
        CHECK(p.compare(at, 5, "&amp;") == 0);  // every '&' starts a whole entity
      }
    }
  }
}

TEST_CASE("Korean and emoji text is split between characters, never inside one") {
  std::string korean = Repeat("입금 확인 부탁드립니다 ", 400);  // ~5,200 units with spaces
  auto parts = SplitForTelegram(korean);
  REQUIRE(parts.size() == 2);
  for (const std::string& p : parts) {
    CHECK(ValidUtf8(p));
    CHECK(Utf16Length(p) <= 4096);
  }
  std::string emoji = Repeat("💸", 3000);  // 6,000 units, no spaces: hard cuts
  auto cut = SplitForTelegram(emoji);
  REQUIRE(cut.size() == 2);
  CHECK(Utf16Length(cut[0]) == 4096);
  CHECK(ValidUtf8(cut[0]));
  CHECK(ValidUtf8(cut[1]));
  CHECK(cut[0].size() + cut[1].size() == emoji.size());
}

TEST_CASE("emoji sequences joined by ZWJ or skin tones stay whole") {
  std::string family = "👨‍👩‍👧";  // man ZWJ woman ZWJ girl: 8 units
  std::string text = Repeat(family, 10);
  for (const std::string& p : SplitForTelegram(text, 12)) {
    CHECK(p == family);
  }
  std::string wave = "👋🏽";  // wave + skin tone: 4 units
  for (const std::string& p : SplitForTelegram(Repeat(wave, 5), 6)) CHECK(p == wave);
}

TEST_CASE("StripHtml removes tags and decodes entities") {
  CHECK(StripHtml("<b>1 &lt; 2</b> &amp; <a href=\"u\">x</a> &quot;q&quot; &#39;&#x1F4B8;") ==
        "1 < 2 & x \"q\" '💸");
  CHECK(StripHtml("a < b & c") == "a < b & c");
  CHECK(StripHtml("&bogus; &#0;") == "&bogus; &#0;");
}
