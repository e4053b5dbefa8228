#include "agent/offline_intent.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>
#include <sstream>

#include "common/text.h"
#include "common/user_amount.h"

namespace depositbot {
namespace {

using nlohmann::json;

// ---- words ----

bool IsHangulSyllableAt(std::string_view s, size_t i) {
  if (i >= s.size()) return false;
  auto cp = DecodeUtf8At(s, i);
  return cp.valid && cp.value >= 0xAC00 && cp.value <= 0xD7A3;
}

size_t HangulSyllables(std::string_view w) {
  size_t n = 0;
  for (size_t i = 0; i < w.size();) {
    auto cp = DecodeUtf8At(w, i);
    if (!cp.valid || cp.value < 0xAC00 || cp.value > 0xD7A3) return 0;
    ++n;
    i += cp.size;
  }
  return n;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool Has(std::string_view s, std::string_view piece) { return s.find(piece) != s.npos; }

template <size_t N>
bool HasAny(std::string_view s, const std::array<std::string_view, N>& pieces) {
  for (auto p : pieces) {
    if (Has(s, p)) return true;
  }
  return false;
}

std::string TrimPunctuation(std::string w) {
  auto strip = [](char c) {
    return std::string_view(".,!?;:~\"'()[]{}<>").find(c) != std::string_view::npos;
  };
  while (!w.empty() && strip(w.back())) w.pop_back();
  size_t i = 0;
  while (i < w.size() && strip(w[i]) && w[i] != '.') ++i;
  return w.substr(i);
}

// Korean particles and endings that may stick to a number, a name or a domain ("5만원을",
// "김민지로", "example.com을"), longest first.
constexpr std::array<std::string_view, 23> kParticles = {
    "이고",  // "이름은 한지민이고"
    "이며",
    "\xEC\x9D\xB4\xEC\x97\x90\xEC\x9A\x94",  // 이에요
    "\xEC\x9E\x85\xEB\x8B\x88\xEB\x8B\xA4",  // 입니다
    "\xEC\x9C\xBC\xEB\xA1\x9C\xEC\x9A\x94",  // 으로요
    "\xEC\x9C\xBC\xEB\xA1\x9C",              // 으로
    "\xEC\x9D\xB4\xEC\x9A\x94",              // 이요
    "\xEC\x98\x88\xEC\x9A\x94",              // 예요
    "\xEB\xA1\x9C\xEC\x9A\x94",              // 로요
    "\xEC\x97\x90\xEC\x84\x9C",              // 에서
    "\xEC\x9D\xB4\xEB\x9D\xBC",              // 이라
    "\xEB\xA1\x9C",                          // 로
    "\xEC\x9D\x84",                          // 을
    "\xEB\xA5\xBC",                          // 를
    "\xEC\x9D\xB4",                          // 이
    "\xEA\xB0\x80",                          // 가
    "\xEC\x9D\x80",                          // 은
    "\xEB\x8A\x94",                          // 는
    "\xEC\x9A\x94",                          // 요
    "\xEC\x9D\x98",                          // 의
    "\xEB\x8F\x84",                          // 도
    "\xEB\xA7\x8C\xED\x81\xBC",              // 만큼
    "\xEC\x9D\xB8\xEB\x8D\xB0",              // 인데
};

std::string StripParticle(std::string_view w) {
  for (auto p : kParticles) {
    if (w.size() > p.size() && EndsWith(w, p)) return std::string(w.substr(0, w.size() - p.size()));
  }
  return std::string(w);
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  std::string w;
  while (in >> w) {
    w = TrimPunctuation(w);
    if (!w.empty()) out.push_back(w);
  }
  return out;
}

std::string Join(const std::vector<std::string>& w, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to && i < w.size(); ++i) out += (out.empty() ? "" : " ") + w[i];
  return out;
}

bool HasAsciiDigit(std::string_view w) {
  return std::any_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr std::array<std::string_view, 6> kKoreanUnits = {
    "\xEB\xA7\x8C", "\xEC\xB2\x9C", "\xEC\x96\xB5",
    "\xEB\xB0\xB1", "\xEC\x8B\xAD", "\xEC\xA1\xB0"};  // 만 천 억 백 십 조

// ---- domain names ----

// "example.com", "shop.co.kr", "한글도메인.com", "münchen.de" as a word (a scheme, a path and a
// Korean particle after the extension are dropped); nullopt for anything else ("2.5만", "1.000").
std::optional<std::string> DomainIn(std::string w) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (AsciiLower(w).rfind(scheme, 0) == 0) w = w.substr(scheme.size());
  }
  if (auto slash = w.find('/'); slash != std::string::npos) w.resize(slash);
  auto dot = w.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 >= w.size()) return std::nullopt;
  std::string tld = w.substr(dot + 1);
  // An ASCII extension with a Korean particle stuck to it: "example.com을".
  size_t ascii = 0;
  while (ascii < tld.size() && std::isalpha(static_cast<unsigned char>(tld[ascii]))) ++ascii;
  if (ascii >= 2 && ascii < tld.size() && IsHangulSyllableAt(tld, ascii)) {
    w.resize(dot + 1 + ascii);
    tld.resize(ascii);
  }
  if (tld.empty() || HasAsciiDigit(tld.substr(0, 1))) return std::nullopt;
  for (char c : tld) {
    if (static_cast<unsigned char>(c) < 0x80 && !std::isalpha(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
  }
  if (static_cast<unsigned char>(tld[0]) < 0x80 && tld.size() < 2) return std::nullopt;
  for (auto unit : kKoreanUnits) {
    if (Has(tld, unit) && HasAsciiDigit(w)) return std::nullopt;  // "2.5만"
  }
  // Every label non-empty, of letters, digits, hyphens or non-ASCII.
  size_t start = 0;
  while (true) {
    size_t end = w.find('.', start);
    std::string_view label =
        std::string_view(w).substr(start, end == w.npos ? w.npos : end - start);
    if (label.empty()) return std::nullopt;
    for (char c : label) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x80 && !std::isalnum(u) && c != '-') return std::nullopt;
    }
    if (end == w.npos) break;
    start = end + 1;
  }
  return AsciiLower(w);
}

// ---- names ----

// Common Korean family names: a 2-4 syllable word starting with one is read as a name when it is
// no word of the bot's vocabulary.
constexpr std::array<std::string_view, 40> kSurnames = {
    "\xEA\xB9\x80", "\xEC\x9D\xB4", "\xEB\xB0\x95",
    "\xEC\xB5\x9C", "\xEC\xA0\x95",  // 김 이 박 최 정
    "\xEA\xB0\x95", "\xEC\xA1\xB0", "\xEC\x9C\xA4",
    "\xEC\x9E\xA5", "\xEC\x9E\x84",  // 강 조 윤 장 임
    "\xED\x95\x9C", "\xEC\x98\xA4", "\xEC\x84\x9C",
    "\xEC\x8B\xA0", "\xEA\xB6\x8C",  // 한 오 서 신 권
    "\xED\x99\xA9", "\xEC\x95\x88", "\xEC\x86\xA1",
    "\xEB\xA5\x98", "\xEC\xA0\x84",  // 황 안 송 류 전
    "\xED\x99\x8D", "\xEA\xB3\xA0", "\xEB\xAC\xB8",
    "\xEC\x96\x91", "\xEC\x86\x90",  // 홍 고 문 양 손
    "\xEB\xB0\xB0", "\xEB\xB0\xB1", "\xED\x97\x88",
    "\xEC\x9C\xA0", "\xEB\x82\xA8",  // 배 백 허 유 남
    "\xEC\x8B\xAC", "\xEB\x85\xB8", "\xED\x95\x98",
    "\xEA\xB3\xBD", "\xEC\x84\xB1",  // 심 노 하 곽 성
    "\xEC\xB0\xA8", "\xEC\xA3\xBC", "\xEC\x9A\xB0",
    "\xEA\xB5\xAC", "\xEB\xAF\xBC",  // 차 주 우 구 민
};

// Words of the bot's own vocabulary that start like a family name.
constexpr std::array<std::string_view, 16> kNotNames = {
    "\xEC\x9E\x85\xEA\xB8\x88",  // 입금
    "\xEC\x9D\xB4\xEB\xA6\x84",  // 이름
    "\xEC\xA0\x95\xEB\xA7\x90",  // 정말
    "\xEC\x9D\xB4\xEC\xB2\xB4",  // 이체
    "\xEC\x86\xA1\xEA\xB8\x88",  // 송금
    "\xEC\x9E\x94\xEC\x95\xA1",  // 잔액
    "\xEC\x9E\x94\xEA\xB3\xA0",  // 잔고
    "\xEA\xB5\xAC\xEB\xA7\xA4",  // 구매
    "\xEA\xB5\xAC\xEC\x9E\x85",  // 구입
    "\xEC\xA3\xBC\xEB\xAC\xB8",  // 주문
    "\xEC\x98\xA4\xEB\x8A\x98",  // 오늘
    "\xEC\x96\xBC\xEB\xA7\x88",  // 얼마
    "\xED\x95\x9C\xEA\xB8\x80",  // 한글
    "\xEC\xA0\x84\xEB\xB6\x80",  // 전부
    "\xEC\x84\x9C\xEB\xB9\x84",  // 서비
    "\xEC\x9D\xB4\xEB\xB2\x88",  // 이번
};

// Verb endings: a word ending so is no name ("보냈어요", "했습니다").
constexpr std::array<std::string_view, 8> kEndings = {
    "\xEC\x9A\x94", "\xEB\x8B\xA4", "\xEA\xB3\xA0", "\xEC\x84\x9C",   // 요 다 고 서
    "\xEC\xA3\xA0", "\xEA\xB9\x8C", "\xEB\x8B\x88", "\xEC\x9E\x84"};  // 죠 까 니 임

bool LooksLikeKoreanName(std::string_view w) {
  size_t n = HangulSyllables(w);
  if (n < 2 || n > 4) return false;
  bool surname = false;
  for (auto s : kSurnames) surname = surname || w.substr(0, s.size()) == s;
  if (!surname) return false;
  for (auto v : kNotNames) {
    if (w.substr(0, v.size()) == v) return false;
  }
  for (auto e : kEndings) {
    if (EndsWith(w, e)) return false;
  }
  return true;
}

bool IsUpperWord(std::string_view w) {
  if (w.size() < 2) return false;
  for (char c : w) {
    if (!(c >= 'A' && c <= 'Z') && c != '-') return false;
  }
  return true;
}

bool IsCurrencyCode(std::string_view w) {
  static const std::array<std::string_view, 8> codes = {"USD", "KRW", "EUR", "JPY",
                                                        "GBP", "BHD", "WON", "CNY"};
  return std::find(codes.begin(), codes.end(), w) != codes.end();
}

// English words that end a name written after "as"/"from" ("as KIM MINJI yesterday").
bool IsNameStop(std::string_view lower) {
  static const std::array<std::string_view, 16> stops = {
      "yesterday", "today", "just", "now", "this", "last", "please", "thanks",
      "thank",     "and",   "to",   "via", "with", "on",   "at",     "earlier"};
  return std::find(stops.begin(), stops.end(), lower) != stops.end();
}

// ---- the request's pieces ----

struct Pieces {
  std::vector<std::string> words;  // punctuation trimmed
  std::vector<std::string> domains;
  std::string amount;         // as written, "" when none
  std::string name;           // "" when none
  std::optional<int64_t> id;  // "#12", "12번", "number 12"
};

std::optional<int64_t> IdOf(std::string_view w) {
  if (!w.empty() && w.front() == '#') w.remove_prefix(1);
  const std::string_view beon = "\xEB\xB2\x88";  // 번
  if (EndsWith(w, beon)) w.remove_suffix(beon.size());
  if (w.empty() || w.size() > 15) return std::nullopt;
  int64_t v = 0;
  for (char c : w) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Pieces Read(std::string_view text) {
  Pieces p;
  p.words = Words(text);
  std::vector<bool> used(p.words.size(), false);
  // Domains first: their dots are no decimal marks.
  for (size_t i = 0; i < p.words.size(); ++i) {
    if (auto d = DomainIn(p.words[i])) {
      p.domains.push_back(*d);
      used[i] = true;
    }
  }
  // An id: "#12", "12번", "number 12", "no 12".
  for (size_t i = 0; i < p.words.size(); ++i) {
    const std::string& w = p.words[i];
    std::string lower = AsciiLower(w);
    bool marked = w.front() == '#' || EndsWith(w, "\xEB\xB2\x88");
    bool after_word =
        i > 0 && (AsciiLower(p.words[i - 1]) == "number" || AsciiLower(p.words[i - 1]) == "no");
    if (auto id = IdOf(w); id && (marked || after_word)) {
      p.id = id;
      used[i] = true;
      break;
    }
  }
  // The amount: the first run of number words, with a currency word after it.
  for (size_t i = 0; i < p.words.size() && p.amount.empty(); ++i) {
    if (used[i]) continue;
    std::string w = StripParticle(p.words[i]);
    if (!IsAmountWord(w)) continue;
    std::vector<std::string> rest{w};
    for (size_t k = i + 1; k < p.words.size() && !used[k]; ++k) rest.push_back(p.words[k]);
    auto split = SplitLeadingAmount(Join(rest, 0, rest.size()));
    if (split.amount.empty()) continue;
    p.amount = split.amount;
    size_t taken = Words(split.amount).size();
    for (size_t k = i; k < i + taken && k < used.size(); ++k) used[k] = true;
  }
  // The name. English: after "as", "from", "under (the name)", "named", "name is".
  std::string lower = AsciiLower(std::string(text));
  static const std::regex kNameAfter(
      R"((?:^|\s)(?:as|from|under(?:\s+the\s+name(?:\s+of)?)?|named|name\s+is|name:|by|sender(?:\s+is)?)\s+(.+))",
      std::regex::icase);
  std::smatch m;
  std::string original(text);
  if (std::regex_search(original, m, kNameAfter)) {
    auto after = Words(m[1].str());
    std::vector<std::string> name;
    for (const auto& w : after) {
      std::string wl = AsciiLower(w);
      if (IsNameStop(wl) || HasAsciiDigit(w) || DomainIn(w)) break;
      if (wl == "my" || wl == "the" || wl == "bank" || wl == "account") break;
      name.push_back(w);
      if (name.size() == 4) break;
    }
    if (!name.empty()) p.name = Join(name, 0, name.size());
  }
  // Korean: "김민지 이름으로", "입금자명 김민지", "이름은 김민지".
  const std::string_view ireum = "\xEC\x9D\xB4\xEB\xA6\x84";                 // 이름
  const std::string_view ipgeumja = "\xEC\x9E\x85\xEA\xB8\x88\xEC\x9E\x90";  // 입금자
  for (size_t i = 0; i < p.words.size() && p.name.empty(); ++i) {
    const std::string& w = p.words[i];
    if (w.rfind(ireum, 0) == 0 && w.size() > ireum.size() && i > 0 && !used[i - 1]) {
      // "김민지 이름으로"
      std::string before = StripParticle(p.words[i - 1]);
      if (IsUpperWord(before)) {
        size_t k = i - 1;  // "KIM MINJI 이름으로": the whole upper-case run
        while (k > 0 && !used[k - 1] && IsUpperWord(p.words[k - 1])) --k;
        p.name = Join(p.words, k, i);
      } else if (HangulSyllables(before) >= 2) {
        p.name = before;
      }
    } else if (EndsWith(StripParticle(w), ireum) && w.size() > ireum.size() + 3 &&
               w.rfind(ireum, 0) != 0) {
      // "김민지이름으로"
      std::string base = StripParticle(w);
      p.name = base.substr(0, base.size() - ireum.size());
    }
    if (p.name.empty() && (w.rfind(ipgeumja, 0) == 0 || w.rfind(ireum, 0) == 0) &&
        i + 1 < p.words.size()) {
      // "입금자명 김민지", "이름은 김민지"
      std::string next = StripParticle(p.words[i + 1]);
      if (HangulSyllables(next) >= 2 || IsUpperWord(next)) p.name = next;
    }
  }
  // A run of upper-case Latin words ("CHOI YUNA"), or a Korean name on its own ("김민지").
  if (p.name.empty()) {
    for (size_t i = 0; i < p.words.size(); ++i) {
      if (used[i] || !IsUpperWord(p.words[i]) || IsCurrencyCode(p.words[i])) continue;
      size_t k = i;
      while (k < p.words.size() && !used[k] && IsUpperWord(p.words[k]) &&
             !IsCurrencyCode(p.words[k])) {
        ++k;
      }
      if (k - i >= 2) {
        p.name = Join(p.words, i, k);
        break;
      }
    }
  }
  if (p.name.empty()) {
    for (size_t i = 0; i < p.words.size(); ++i) {
      if (used[i]) continue;
      std::string w = StripParticle(p.words[i]);
      if (LooksLikeKoreanName(w)) {
        p.name = w;
        break;
      }
    }
  }
  return p;
}

// ---- intents ----

const std::regex kCancelEn(R"(\b(cancel|cancle|cansel|withdraw|take back|undo|revoke)\b)",
                           std::regex::icase);
const std::regex kDepositEn(
    R"(\b(sent|send|sending|transferred|transfered|transfer|deposit|deposited|depositing|deposite|diposit|paid|pay|wired|wire|top\s?up|topped\s+up|topup|fund|add money|put in)\b)",
    std::regex::icase);
const std::regex kBalanceEn(
    R"(\b(balance|balace|ballance|blance|balanse|balence|funds|how much (money )?(do i have|have i got|is left|i have|is on my account|have i)|my money|my credit|what.?s left)\b)",
    std::regex::icase);
const std::regex kHistoryEn(
    R"(\b(history|histroy|hist|transactions|transaction list|statement|past (payments|deposits|transactions)|my deposits|recent (activity|deposits|payments)|what did i (send|pay)|movements)\b)",
    std::regex::icase);
const std::regex kMyDomainsEn(
    R"(\b((my|own|owned|bought|have|registered|purchased)\s+(domains?|names|orders)|domains?\s+(do\s+)?i\s+(own|have|bought|registered|got)|list\s+(my\s+)?(domains|orders)|my orders|which domains)\b)",
    std::regex::icase);
const std::regex kBuyEn(
    R"(\b(buy|by|register|purchase|get me|i.?ll take|take it|order|grab|want|wanna|reserve)\b)",
    std::regex::icase);
const std::regex kCheckEn(R"(\b(free|available|availability|taken|check|price|cost|how much)\b)",
                          std::regex::icase);
const std::regex kHelpEn(
    R"(\b(help|what can you do|what do you do|commands|how does (this|it) work|how (do|can) i use|menu|what are you|who are you|options)\b|^\s*(hi|hello|hey|start|yo)\b)",
    std::regex::icase);
const std::regex kPendingEn(R"(\b(pending|awaiting|waiting)\b)", std::regex::icase);
const std::regex kDomainWordEn(R"(\b(domain|domains|website name|site name)\b)", std::regex::icase);

constexpr std::array<std::string_view, 4> kCancelKo = {
    "\xEC\xB7\xA8\xEC\x86\x8C",  // 취소
    "\xEC\xB2\xA0\xED\x9A\x8C",  // 철회
    "\xEB\x90\x98\xEB\x8F\x8C",  // 되돌
    "\xEB\xAC\xB4\xEB\xA5\xB4",  // 무르
};
constexpr std::array<std::string_view, 8> kDepositKo = {
    "\xEC\x9E\x85\xEA\xB8\x88",  // 입금
    "\xEB\xB3\xB4\xEB\x83\x88",  // 보냈
    "\xEB\xB3\xB4\xEB\x82\xB4",  // 보내
    "\xEC\x86\xA1\xEA\xB8\x88",  // 송금
    "\xEC\x9D\xB4\xEC\xB2\xB4",  // 이체
    "\xEC\xB6\xA9\xEC\xA0\x84",  // 충전
    "\xEB\x84\xA3\xEC\x97\x88",  // 넣었
    "\xEB\xB3\xB4\xEB\x83\x85",  // 보냅
};
constexpr std::array<std::string_view, 6> kBalanceKo = {
    "\xEC\x9E\x94\xEC\x95\xA1",               // 잔액
    "\xEC\x9E\x94\xEA\xB3\xA0",               // 잔고
    "\xEC\x96\xBC\xEB\xA7\x88 \xEB\x82\xA8",  // 얼마 남
    "\xEC\x96\xBC\xEB\xA7\x88 \xEC\x9E\x88",  // 얼마 있
    "\xEB\x82\xA8\xEC\x9D\x80 \xEB\x8F\x88",  // 남은 돈
    "\xEB\x8F\x88 \xEC\x96\xBC\xEB\xA7\x88",  // 돈 얼마
};
constexpr std::array<std::string_view, 4> kHistoryKo = {
    "\xEB\x82\xB4\xEC\x97\xAD",  // 내역
    "\xEA\xB1\xB0\xEB\x9E\x98",  // 거래
    "\xEA\xB8\xB0\xEB\xA1\x9D",  // 기록
    "\xEC\x9D\xB4\xEB\xA0\xA5",  // 이력
};
const std::string_view kDomainKo = "\xEB\x8F\x84\xEB\xA9\x94\xEC\x9D\xB8";  // 도메인
constexpr std::array<std::string_view, 7> kMyDomainsKo = {
    "\xEB\x82\xB4 \xEB\x8F\x84\xEB\xA9\x94\xEC\x9D\xB8",              // 내 도메인
    "\xEB\x82\xB4\xEB\x8F\x84\xEB\xA9\x94\xEC\x9D\xB8",               // 내도메인
    "\xEB\x8F\x84\xEB\xA9\x94\xEC\x9D\xB8 \xEB\xAA\xA9\xEB\xA1\x9D",  // 도메인 목록
    "\xEB\x8F\x84\xEB\xA9\x94\xEC\x9D\xB8\xEB\xAA\xA9\xEB\xA1\x9D",   // 도메인목록
    "\xEB\x8F\x84\xEB\xA9\x94\xEC\x9D\xB8 \xEB\xA6\xAC\xEC\x8A\xA4\xED\x8A\xB8",  // 도메인 리스트
    "\xEC\x82\xB0 \xEB\x8F\x84\xEB\xA9\x94\xEC\x9D\xB8",                          // 산 도메인
    "\xEB\xB3\xB4\xEC\x9C\xA0",                                                   // 보유
};
constexpr std::array<std::string_view, 9> kBuyKo = {
    "\xEC\x82\xAC\xEA\xB3\xA0 \xEC\x8B\xB6",  // 사고 싶
    "\xEC\x82\xB4\xEB\x9E\x98",               // 살래
    "\xEC\x82\xB4\xEA\xB2\x8C",               // 살게
    "\xEA\xB5\xAC\xEB\xA7\xA4",               // 구매
    "\xEA\xB5\xAC\xEC\x9E\x85",               // 구입
    "\xEB\x93\xB1\xEB\xA1\x9D",               // 등록
    "\xEC\x82\xAC\xEC\xA4\x98",               // 사줘
    "\xEC\x82\xAC \xEC\xA3\xBC",              // 사 주
    "\xEC\xA3\xBC\xEB\xAC\xB8",               // 주문
};
constexpr std::array<std::string_view, 9> kHelpKo = {
    "\xEB\x8F\x84\xEC\x9B\x80",                                        // 도움
    "\xEB\x8F\x84\xEC\x99\x80",                                        // 도와
    "\xEB\xAD\x90 \xED\x95\xA0 \xEC\x88\x98",                          // 뭐 할 수
    "\xEB\xAD\x98 \xED\x95\xA0 \xEC\x88\x98",                          // 뭘 할 수
    "\xEB\xAC\xB4\xEC\x97\x87\xEC\x9D\x84 \xED\x95\xA0 \xEC\x88\x98",  // 무엇을 할 수
    "\xEC\x82\xAC\xEC\x9A\xA9\xEB\xB2\x95",                            // 사용법
    "\xEB\xAA\x85\xEB\xA0\xB9\xEC\x96\xB4",                            // 명령어
    "\xEC\x95\x88\xEB\x85\x95",                                        // 안녕
    "\xEA\xB8\xB0\xEB\x8A\xA5",                                        // 기능
};
constexpr std::array<std::string_view, 2> kPendingKo = {
    "\xEB\x8C\x80\xEA\xB8\xB0",              // 대기
    "\xEB\xAF\xB8\xEC\x8A\xB9\xEC\x9D\xB8",  // 미승인
};

// The questions, whose first words also mark them in the conversation for the next message.
constexpr std::string_view kAskNameEn = "Under which name did you send ";
constexpr std::string_view kAskNameKo =
    "\xEC\x9D\x84 \xEC\x96\xB4\xEB\x96\xA4 \xEC\x9D\xB4\xEB\xA6\x84\xEC\x9C\xBC\xEB\xA1\x9C "
    "\xEB\xB3\xB4\xEB\x82\xB4\xEC\x85\xA8\xEB\x82\x98\xEC\x9A\x94";  // 을 어떤 이름으로 보내셨나요
constexpr std::string_view kAskAmountEn = "How much did you send as ";
constexpr std::string_view kAskAmountKo =
    " \xEC\x9D\xB4\xEB\xA6\x84\xEC\x9C\xBC\xEB\xA1\x9C \xEC\x96\xBC\xEB\xA7\x88\xEB\xA5\xBC "
    "\xEB\xB3\xB4\xEB\x82\xB4\xEC\x85\xA8\xEB\x82\x98\xEC\x9A\x94";  // 이름으로 얼마를 보내셨나요
constexpr std::string_view kAskBothEn = "How much did you send, and under which name?";
constexpr std::string_view kAskBothKo =
    "\xEC\x96\xBC\xEB\xA7\x88\xEB\xA5\xBC \xEC\x96\xB4\xEB\x96\xA4 "
    "\xEC\x9D\xB4\xEB\xA6\x84\xEC\x9C\xBC\xEB\xA1\x9C "
    "\xEB\xB3\xB4\xEB\x82\xB4\xEC\x85\xA8\xEB\x82\x98\xEC\x9A\x94";  // 얼마를 어떤 이름으로
                                                                     // 보내셨나요
constexpr std::string_view kAskDomainEn = "Which domain should I buy?";
constexpr std::string_view kAskDomainKo =
    "\xEC\x96\xB4\xEB\x96\xA4 \xEB\x8F\x84\xEB\xA9\x94\xEC\x9D\xB8\xEC\x9D\x84 "
    "\xEC\x82\xB4\xEA\xB9\x8C\xEC\x9A\x94";  // 어떤 도메인을 살까요
constexpr std::string_view kAskCancelEn = "Which deposit should I cancel?";
constexpr std::string_view kAskCancelKo =
    "\xEC\x96\xB4\xEB\x96\xA4 \xEC\x9E\x85\xEA\xB8\x88\xEC\x9D\x84 "
    "\xEC\xB7\xA8\xEC\x86\x8C\xED\x95\xA0\xEA\xB9\x8C\xEC\x9A\x94";  // 어떤 입금을 취소할까요

OfflineIntent CallOf(std::string tool, json args) {
  OfflineIntent i;
  i.kind = OfflineIntent::Kind::kCall;
  i.tool = std::move(tool);
  i.args = std::move(args);
  return i;
}

OfflineIntent Ask(std::string missing, std::string question) {
  OfflineIntent i;
  i.kind = OfflineIntent::Kind::kQuestion;
  i.missing = std::move(missing);
  i.question = std::move(question);
  return i;
}

OfflineIntent Deposit(const Pieces& p, bool korean) {
  if (!p.amount.empty() && !p.name.empty()) {
    return CallOf(
        "manage_deposit",
        {{"action", "request_deposit"}, {"amount", p.amount}, {"depositor_name", p.name}});
  }
  if (!p.amount.empty()) {
    return Ask(
        "depositor_name",
        korean ? p.amount + std::string(kAskNameKo) +
                     "? \xEC\x9D\x80\xED\x96\x89\xEC\x97\x90 \xED\x91\x9C\xEC\x8B\x9C\xEB\x90\x9C "
                     "\xEC\x9E\x85\xEA\xB8\x88\xEC\x9E\x90\xEB\xAA\x85\xEC\x9D\x84 "
                     "\xEA\xB7\xB8\xEB\x8C\x80\xEB\xA1\x9C \xEC\x95\x8C\xEB\xA0\xA4 "
                     "\xEC\xA3\xBC\xEC\x84\xB8\xEC\x9A\x94 (\xEC\x98\x88: "
                     "\xEA\xB9\x80\xEB\xAF\xBC\xEC\xA7\x80)."
               : std::string(kAskNameEn) + p.amount +
                     "? Reply with the name exactly as the bank shows it, e.g. KIM MINJI.");
  }
  if (!p.name.empty()) {
    return Ask(
        "amount",
        korean ? p.name + std::string(kAskAmountKo) +
                     "? \xEA\xB8\x88\xEC\x95\xA1\xEC\x9D\x84 \xEC\x88\xAB\xEC\x9E\x90\xEB\xA1\x9C "
                     "\xEC\x95\x8C\xEB\xA0\xA4 \xEC\xA3\xBC\xEC\x84\xB8\xEC\x9A\x94 (\xEC\x98\x88: "
                     "30000 "
                     "\xEB\x98\x90\xEB\x8A\x94 3\xEB\xA7\x8C\xEC\x9B\x90)."
               : std::string(kAskAmountEn) + p.name +
                     "? Reply with the amount in digits, e.g. 30000.");
  }
  return Ask(
      "deposit",
      korean ? std::string(kAskBothKo) +
                   "? \xEC\x98\x88: 3\xEB\xA7\x8C\xEC\x9B\x90 \xEA\xB9\x80\xEB\xAF\xBC\xEC\xA7\x80"
             : std::string(kAskBothEn) + " For example: 30000 KIM MINJI.");
}

// The answer to "under which name?": the whole reply, without "it's", "name is", "입니다"...
std::string NameFromReply(std::string_view text) {
  auto words = Words(text);
  static const std::array<std::string_view, 8> lead = {"it's", "its", "it",   "is",
                                                       "name", "as",  "from", "under"};
  size_t i = 0;
  while (i < words.size() &&
         std::find(lead.begin(), lead.end(), AsciiLower(words[i])) != lead.end()) {
    ++i;
  }
  if (i >= words.size()) return "";
  std::vector<std::string> rest(words.begin() + static_cast<long>(i), words.end());
  rest.back() = StripParticle(rest.back());
  return Join(rest, 0, rest.size());
}

OfflineIntent Understand(std::string_view text, bool admin) {
  const bool korean = HasHangul(text);
  const std::string s(text);
  Pieces p = Read(text);

  // Cancel a deposit by its number.
  if (std::regex_search(s, kCancelEn) || HasAny(s, kCancelKo)) {
    std::optional<int64_t> id = p.id;
    if (!id) {
      for (const auto& w : p.words) {
        if (auto n = IdOf(w)) id = n;
      }
    }
    if (id) return CallOf("manage_deposit", {{"action", "cancel"}, {"transaction_id", *id}});
    return Ask(
        "transaction_id",
        korean
            ? std::string(kAskCancelKo) +
                  "? \xEB\xB2\x88\xED\x98\xB8\xEB\xA5\xBC \xEC\x95\x8C\xEB\xA0\xA4 "
                  "\xEC\xA3\xBC\xEC\x84\xB8\xEC\x9A\x94 (\xEC\x98\x88: 12\xEB\xB2\x88 "
                  "\xEC\xB7\xA8\xEC\x86\x8C). \xEB\x82\xB4\xEC\x97\xAD\xEC\x9D\x80 /history"
            : std::string(kAskCancelEn) + " Send its number, e.g. cancel 12; /history lists them.");
  }
  // The user's domain list.
  if (std::regex_search(s, kMyDomainsEn) || HasAny(s, kMyDomainsKo)) {
    return CallOf("list_domains", json::object());
  }
  // A domain: buy it, or look it up.
  const bool buy = std::regex_search(s, kBuyEn) || HasAny(s, kBuyKo);
  if (!p.domains.empty()) {
    if (buy && !std::regex_search(s, kCheckEn)) {
      return CallOf("register_domain", {{"domain", p.domains.front()}, {"years", 1}});
    }
    json names = json::array();
    for (const auto& d : p.domains) {
      if (names.size() < 10) names.push_back(d);
    }
    return CallOf("check_domain", {{"domains", names}});
  }
  // Pending deposits: an admin's list; a user asking about theirs gets their history.
  const bool pending = std::regex_search(s, kPendingEn) || HasAny(s, kPendingKo);
  if (pending && p.amount.empty()) {
    return CallOf("manage_deposit", {{"action", admin ? "pending" : "history"}});
  }
  // A deposit announcement: amount and name in any order.
  const bool deposit = std::regex_search(s, kDepositEn) || HasAny(s, kDepositKo);
  if (deposit && !std::regex_search(s, kHistoryEn) && !HasAny(s, kHistoryKo)) {
    return Deposit(p, korean);
  }
  if (std::regex_search(s, kBalanceEn) || HasAny(s, kBalanceKo)) {
    return CallOf("manage_deposit", {{"action", "balance"}});
  }
  if (admin && (std::regex_search(s, kPendingEn) || HasAny(s, kPendingKo))) {
    return CallOf("manage_deposit", {{"action", "pending"}});
  }
  if (std::regex_search(s, kHistoryEn) || HasAny(s, kHistoryKo) ||
      std::regex_search(s, kPendingEn)) {
    return CallOf("manage_deposit", {{"action", "history"}});
  }
  if (buy && (std::regex_search(s, kDomainWordEn) || Has(s, kDomainKo))) {
    return Ask("domain", korean ? std::string(kAskDomainKo) +
                                      "? \xEC\x98\x88: example.com "
                                      "\xEA\xB5\xAC\xEB\xA7\xA4"
                                : std::string(kAskDomainEn) + " For example: buy example.com");
  }
  if (std::regex_search(s, kHelpEn) || HasAny(s, kHelpKo)) {
    OfflineIntent i;
    i.kind = OfflineIntent::Kind::kHelp;
    return i;
  }
  // An amount and a name with no verb ("30000 KIM MINJI"): a deposit announcement.
  if (!p.amount.empty() && !p.name.empty()) return Deposit(p, korean);
  return {};
}

}  // namespace

bool HasHangul(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (IsHangulSyllableAt(text, i)) return true;
  }
  return false;
}

OfflineIntent UnderstandMessage(std::string_view text, const OfflineContext& context) {
  OfflineIntent now = Understand(text, context.admin);
  const std::string& asked = context.previous_assistant;
  if (asked.empty() || context.previous_user.empty()) return now;
  // "Which domain should I buy?" answered with a name: buy that one.
  if ((Has(asked, kAskDomainEn) || Has(asked, kAskDomainKo)) &&
      now.kind == OfflineIntent::Kind::kCall && now.tool == "check_domain" &&
      now.args["domains"].size() == 1) {
    return CallOf("register_domain", {{"domain", now.args["domains"][0]}, {"years", 1}});
  }
  if (now.kind == OfflineIntent::Kind::kCall) return now;
  // The reply to one of the questions above completes the request it interrupted.
  Pieces before = Read(context.previous_user);
  const bool korean = HasHangul(context.previous_user) || HasHangul(text);
  if (Has(asked, kAskNameEn) || Has(asked, kAskNameKo)) {
    Pieces reply = Read(text);
    std::string name = reply.name.empty() ? NameFromReply(text) : reply.name;
    if (!before.amount.empty() && !name.empty() && !HasAsciiDigit(name) &&
        Words(name).size() <= 6) {
      before.name = name;
      return Deposit(before, korean);
    }
  }
  if (Has(asked, kAskAmountEn) || Has(asked, kAskAmountKo) || Has(asked, kAskBothEn) ||
      Has(asked, kAskBothKo)) {
    Pieces reply = Read(text);
    if (!reply.amount.empty()) before.amount = reply.amount;
    if (!reply.name.empty()) before.name = reply.name;
    if (!reply.amount.empty() || !reply.name.empty()) return Deposit(before, korean);
  }
  if (Has(asked, kAskDomainEn) || Has(asked, kAskDomainKo)) {
    Pieces reply = Read(text);
    if (!reply.domains.empty()) {
      return CallOf("register_domain", {{"domain", reply.domains.front()}, {"years", 1}});
    }
  }
  if (Has(asked, kAskCancelEn) || Has(asked, kAskCancelKo)) {
    for (const auto& w : Read(text).words) {
      if (auto id = IdOf(StripParticle(w))) {
        return CallOf("manage_deposit", {{"action", "cancel"}, {"transaction_id", *id}});
      }
    }
  }
  return now;
}

}  // namespace depositbot
