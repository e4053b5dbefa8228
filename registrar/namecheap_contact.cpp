#include "registrar/namecheap_contact.h"

#include <algorithm>

namespace depositbot {
namespace {

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsControl(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }
bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Plausible, not RFC 5322: one @ with something before it, a domain with a dot inside it and
// no empty label, and no spaces anywhere.
bool IsPlausibleEmail(std::string_view e) {
  size_t at = e.find('@');
  if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  if (std::any_of(e.begin(), e.end(), IsSpace)) return false;
  std::string_view domain = e.substr(at + 1);
  return domain.find('.') != std::string_view::npos && domain.front() != '.' &&
         domain.back() != '.' && domain.find("..") == std::string_view::npos;
}

// Namecheap's limits: 255 characters for names, addresses, organisation and e-mail; 50 for the
// rest.
size_t MaxLength(std::string_view key) {
  for (std::string_view k :
       {"FIRST_NAME", "LAST_NAME", "ORGANIZATION", "ADDRESS1", "ADDRESS2", "EMAIL"}) {
    if (key == k) return 255;
  }
  return 50;
}

std::string WhatFits(std::string_view key, std::string_view label) {
  if (key == "COUNTRY") return "a two-letter country code such as US";
  if (key == "PHONE") {
    return "a phone number as +<country code>.<number> such as +1.6613102107";
  }
  if (key == "EMAIL") return "an e-mail address such as hostmaster@example.com";
  return "the contact's " + std::string(label);
}

}  // namespace

const std::vector<NamecheapContactField>& NamecheapContactFields() {
  static const std::vector<NamecheapContactField> kFields = {
      {"FIRST_NAME", "first name", &NamecheapContact::first_name, true},
      {"LAST_NAME", "last name", &NamecheapContact::last_name, true},
      {"ORGANIZATION", "organization", &NamecheapContact::organization, false},
      {"ADDRESS1", "address", &NamecheapContact::address1, true},
      {"ADDRESS2", "second address line", &NamecheapContact::address2, false},
      {"CITY", "city", &NamecheapContact::city, true},
      {"STATE_PROVINCE", "state/province", &NamecheapContact::state_province, true},
      {"POSTAL_CODE", "postal code", &NamecheapContact::postal_code, true},
      {"COUNTRY", "country", &NamecheapContact::country, true},
      {"PHONE", "phone", &NamecheapContact::phone, true},
      {"EMAIL", "email", &NamecheapContact::email, true},
  };
  return kFields;
}

std::optional<NamecheapContactProblem> CheckNamecheapContactField(
    const NamecheapContactField& field, std::string_view value) {
  std::string fits = WhatFits(field.key, field.label);
  if (std::all_of(value.begin(), value.end(), IsSpace)) {  // also the empty value
    if (value.empty() && !field.required) return std::nullopt;
    return NamecheapContactProblem{true, fits};
  }
  if (std::any_of(value.begin(), value.end(), IsControl)) {
    return NamecheapContactProblem{false, fits + " without control characters"};
  }
  const size_t max = MaxLength(field.key);
  if (value.size() > max) {
    return NamecheapContactProblem{false,
                                   fits + " of at most " + std::to_string(max) + " characters"};
  }
  bool fits_form = true;
  if (field.key == "COUNTRY") {
    fits_form = value.size() == 2 && IsAsciiLetter(value[0]) && IsAsciiLetter(value[1]);
  } else if (field.key == "PHONE") {
    fits_form = IsNamecheapPhone(value);
  } else if (field.key == "EMAIL") {
    fits_form = IsPlausibleEmail(value);
  }
  if (!fits_form) return NamecheapContactProblem{false, fits};
  return std::nullopt;
}

Status ValidateNamecheapContact(const NamecheapContact& contact) {
  for (const NamecheapContactField& field : NamecheapContactFields()) {
    if (auto problem = CheckNamecheapContactField(field, contact.*field.member)) {
      if (problem->missing) {
        return Error::Invalid("the registrant contact has no " + std::string(field.label));
      }
      return Error::Invalid("the registrant contact's " + std::string(field.label) + " must be " +
                            problem->expected);
    }
  }
  return Status::Ok();
}

bool IsNamecheapPhone(std::string_view p) {
  // +<1-3 digit country code>.<4-20 digits>
  if (p.size() < 4 || p[0] != '+') return false;
  size_t dot = p.find('.');
  if (dot == std::string_view::npos || dot < 2 || dot > 4) return false;
  std::string_view cc = p.substr(1, dot - 1), num = p.substr(dot + 1);
  auto digits = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), IsAsciiDigit);
  };
  return digits(cc) && digits(num) && num.size() >= 4 && num.size() <= 20;
}

}  // namespace depositbot
