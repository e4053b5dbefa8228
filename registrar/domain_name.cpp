#include "registrar/domain_name.h"

#include <algorithm>
#include <cctype>

#include "common/text.h"

namespace depositbot {
namespace {

constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxName = 253;

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

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool IsLdh(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

std::string DescribeChar(char c) {
  if (c == ' ') return "a space";
  if (!std::isprint(static_cast<unsigned char>(c))) return "a control character";
  return Quote(std::string(1, c));
}

}  // namespace

const std::vector<std::string>& DomainNameRules::DefaultSuffixes() {
  static const std::vector<std::string> kDefault = {"com", "net",  "org", "io", "dev", "app",
                                                    "xyz", "info", "biz", "me", "co",  "kr"};
  return kDefault;
}

DomainNameRules::DomainNameRules() : DomainNameRules(DefaultSuffixes()) {}

DomainNameRules::DomainNameRules(std::vector<std::string> supported_suffixes) {
  for (auto& s : supported_suffixes) {
    std::string_view v = Trim(s);
    while (!v.empty() && v.front() == '.') v.remove_prefix(1);
    if (!v.empty()) suffixes_.push_back(AsciiLower(v));
  }
}

bool DomainNameRules::Supports(std::string_view suffix) const {
  std::string s = AsciiLower(suffix);
  return std::find(suffixes_.begin(), suffixes_.end(), s) != suffixes_.end();
}

std::string DomainNameRules::SuffixOf(std::string_view normalized) const {
  std::string best;
  for (const auto& s : suffixes_) {
    if (normalized.size() > s.size() + 1 && normalized.ends_with(s) &&
        normalized[normalized.size() - s.size() - 1] == '.' && s.size() > best.size()) {
      best = s;
    }
  }
  return best;
}

Result<std::string> DomainNameRules::Normalize(std::string_view input) const {
  std::string_view trimmed = Trim(input);
  if (!trimmed.empty() && trimmed.back() == '.') trimmed.remove_suffix(1);
  if (trimmed.empty()) {
    return Error::Invalid("Please give a domain name, for example example.com.");
  }
  for (char c : trimmed) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return Error::Invalid(Quote(trimmed) +
                            " contains non-ASCII characters. Internationalised names must be "
                            "written in their punycode form starting with xn-- (for example "
                            "xn--9n2bp8q.com), not in Unicode.");
    }
  }
  std::string name = AsciiLower(trimmed);
  if (name.size() > kMaxName) {
    return Error::Invalid("That name is " + std::to_string(name.size()) +
                          " characters long; a domain name may have at most 253.");
  }
  std::vector<std::string_view> labels = SplitLabels(name);
  if (labels.size() == 1) {
    return Error::Invalid(Quote(name) + " has no extension; add one, for example " + name +
                          ".com.");
  }
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
        return Error::Invalid(Quote(name) + " contains " + DescribeChar(c) +
                              "; only letters a-z, digits 0-9 and hyphens are allowed.");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return Error::Invalid("The part " + Quote(label) + " of " + Quote(name) +
                            " starts or ends with a hyphen, which is not allowed.");
    }
  }
  std::string suffix = SuffixOf(name);
  if (suffix.empty()) {
    std::string list;
    for (const auto& s : suffixes_) list += (list.empty() ? "." : ", .") + s;
    return Error::Invalid("Domains ending in ." + std::string(LastLabel(name)) +
                          " are not supported here. Supported extensions: " + list + ".");
  }
  std::string_view registrable = std::string_view(name).substr(0, name.size() - suffix.size() - 1);
  if (registrable.find('.') != std::string_view::npos) {
    std::string parent(registrable.substr(registrable.rfind('.') + 1));
    parent += "." + suffix;
    return Error::Invalid(Quote(name) + " is a subdomain; only whole domains such as " + parent +
                          " can be registered.");
  }
  return name;
}

Result<std::string> NormalizeDomainName(std::string_view input) {
  static const DomainNameRules kDefaultRules;
  return kDefaultRules.Normalize(input);
}

Result<std::string> NormalizeDomainName(std::string_view input, const DomainNameRules& rules) {
  return rules.Normalize(input);
}

std::string_view LastLabel(std::string_view domain) {
  size_t dot = domain.rfind('.');
  return dot == std::string_view::npos ? domain : domain.substr(dot + 1);
}

}  // namespace depositbot
