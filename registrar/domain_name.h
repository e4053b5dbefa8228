#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace depositbot {

// Which domain names this bot will register: one label followed by a supported suffix
// ("example.com", or "example.co.kr" when "co.kr" is listed). Immutable, thread-safe.
class DomainNameRules {
 public:
  // The default suffixes: com net org io dev app xyz info biz me co kr.
  DomainNameRules();
  // `supported_suffixes` without leading dots ("com", "co.kr"); matched case-insensitively.
  explicit DomainNameRules(std::vector<std::string> supported_suffixes);

  static const std::vector<std::string>& DefaultSuffixes();

  // Trims spaces and one trailing dot, lower-cases, and checks the name. A refusal is kInvalid
  // with a sentence a person can act on (empty or overlong labels, hyphens at a label's edge,
  // characters outside a-z 0-9 -, Unicode instead of the xn-- form, > 253 characters, no
  // extension, a subdomain, an unsupported extension).
  Result<std::string> Normalize(std::string_view input) const;

  // The longest supported suffix `normalized` ends with ("com"); empty when none.
  std::string SuffixOf(std::string_view normalized) const;
  bool Supports(std::string_view suffix) const;
  const std::vector<std::string>& suffixes() const { return suffixes_; }

 private:
  std::vector<std::string> suffixes_;
};

// DomainNameRules().Normalize(input).
Result<std::string> NormalizeDomainName(std::string_view input);
Result<std::string> NormalizeDomainName(std::string_view input, const DomainNameRules& rules);

// The last label of a name ("com" for "shop.example.com"); the whole text when it has no dot.
std::string_view LastLabel(std::string_view domain);

}  // namespace depositbot
