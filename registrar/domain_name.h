#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct psl_ctx_st;

namespace depositbot {

// A registrable domain name in the two spellings the bot uses.
struct DomainName {
  // The one canonical form: lower case, internationalised labels as A-labels
  // ("xn--bj0bj3i97fq8o5lq.com"). What orders store and registrars are sent.
  std::string ascii;
  // The same name as people read it ("한글도메인.com"); equal to `ascii` for an ASCII name.
  std::string unicode;
  // The public suffix (ICANN section of the Public Suffix List), ASCII: "com", "co.uk".
  std::string suffix;
  // For an internationalised registrable label, the language code registrars ask for with it
  // (Namecheap's IdnCode: "kor", "ger", ...); empty for an ASCII label.
  std::string idn_language;

  bool idn() const { return ascii != unicode; }
  // "한글도메인.com (xn--bj0bj3i97fq8o5lq.com)" for an internationalised name, else "example.com".
  std::string Shown() const;
};

// Which names can be registered at all: exactly one label in front of a public suffix of the
// Public Suffix List's ICANN section, so "shop.co.uk" and "shop.co.kr" are whole domains and
// "www.shop.co.uk" is a subdomain of "shop.co.uk". Which suffixes are *offered* is the
// registrar's answer (Registrar::OfferedTlds, CheckOffered below), not these rules'.
// The list is the one built into libpsl (psl_builtin), falling back to Debian's
// /usr/share/publicsuffix file only when libpsl was built without one, so one build always
// answers the same. Immutable, thread-safe; cheap to copy.
class DomainNameRules {
 public:
  // Throws std::runtime_error only when no Public Suffix List can be loaded at all (a broken
  // installation, a start-up failure).
  DomainNameRules();

  // Trims spaces and one trailing dot; maps Unicode input with UTS #46 (non-transitional:
  // upper case, full-width letters and dots such as "。" fold to their plain form) to A-labels;
  // and checks the result. A refusal is kInvalid with a sentence a person can act on: empty or
  // overlong labels, hyphens at a label's edge or in positions 3-4, characters outside a-z 0-9
  // - (and the Unicode ones UTS #46 does not allow), an xn-- label that is not valid punycode,
  // a label mixing scripts ("раypal", Cyrillic and Latin), a Cyrillic or Greek label that only
  // looks like a Latin name ("аррӏе.com") outside those scripts' countries, a label written in
  // a script whose language cannot be told, > 253 characters, no extension, a bare public suffix
  // ("co.uk"), a subdomain (naming the registrable domain to buy instead). The shown form
  // pasted back, "한글도메인.com (xn--bj0bj3i97fq8o5lq.com)", is that name when both halves
  // name the same domain, and refused when they do not.
  Result<DomainName> Parse(std::string_view input) const;
  // Parse(input)->ascii.
  Result<std::string> Normalize(std::string_view input) const;

  // The ICANN public suffix of an ASCII name ("co.uk" for "shop.co.uk"); the last label when
  // the list knows none of its suffixes.
  std::string SuffixOf(std::string_view ascii) const;

  // Which list answers, for logs and `depositbot config`: "libpsl built-in list of 2023-02-09".
  static std::string Source();

 private:
  const psl_ctx_st* psl_;
};

// DomainNameRules().Normalize(input).
Result<std::string> NormalizeDomainName(std::string_view input);
Result<std::string> NormalizeDomainName(std::string_view input, const DomainNameRules& rules);

// How a canonical (ASCII) name is shown to people: "한글도메인.com (xn--bj0bj3i97fq8o5lq.com)"
// when it has xn-- labels, else the name itself. Text that is no valid name is returned as is.
std::string ShownDomainName(std::string_view ascii);

// One spelling of a name to compare with another ("is the registrar's answer about the name we
// ordered?"): UTS #46 to A-labels, lower case, one trailing dot dropped; no registrability
// check and no Public Suffix List, so the answer never changes with the list. Text that is no
// domain name comes back lower-cased as it is (and so equals no canonical name).
std::string CanonicalDomainSpelling(std::string_view name);

// The IDN language code of a canonical name's first label ("kor" for "xn--bj0bj3i97fq8o5lq.com",
// "ger" for "xn--mnchen-3ya.de"); empty when that label is ASCII. kInvalid when the label mixes
// scripts or its language cannot be told (DomainNameRules::Parse refuses such names first).
// Needs no Public Suffix List: an order's name gets the same code whatever list runs.
Result<std::string> IdnLanguageOf(std::string_view ascii);

// The last label of a name ("com" for "shop.example.com"); the whole text when it has no dot.
std::string_view LastLabel(std::string_view domain);

// One extension a registrar sells through its API.
struct TldOffer {
  std::string name;  // lower case, no leading dot: "com", "co.uk"
  bool supports_idn = false;
  int min_years = 1;
  int max_years = 10;
};

// Whether `name`'s public suffix is among `offered` (and, for an internationalised name, one
// that takes such names). A refusal is kInvalid naming what is offered: the common extensions
// first, then alphabetically, at most ten, "and N more".
Status CheckOffered(const DomainName& name, const std::vector<TldOffer>& offered);
// The offer for `suffix`, or nullptr.
const TldOffer* FindOffer(const std::vector<TldOffer>& offered, std::string_view suffix);

}  // namespace depositbot
