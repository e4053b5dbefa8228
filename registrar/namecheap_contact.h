#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace depositbot {

// One contact block; sent four times (Registrant, Tech, Admin, AuxBilling) on create.
struct NamecheapContact {
  std::string first_name;
  std::string last_name;
  std::string organization;  // optional
  std::string address1;
  std::string address2;  // optional
  std::string city;
  std::string state_province;
  std::string postal_code;
  std::string country;  // two-letter code, "US"
  std::string phone;    // "+NNN.NNNNNNNNNN", e.g. "+1.6613102107"
  std::string email;
};

// What domains.create needs of one contact field (reference/namecheap-api.md §3.3). The one
// description of a sendable contact: the registrar checks it before a create, and start-up
// checks NAMECHEAP_CONTACT_<key> against it, so no purchase is charged and then refused for it.
struct NamecheapContactField {
  std::string_view key;    // "PHONE", as in NAMECHEAP_CONTACT_PHONE
  std::string_view label;  // "phone", for messages
  std::string NamecheapContact::*member;
  bool required;
};

// Every field, in Namecheap's order.
const std::vector<NamecheapContactField>& NamecheapContactFields();

// Why a value cannot be sent as a field.
struct NamecheapContactProblem {
  bool missing = false;  // a required field is empty or only spaces
  std::string expected;  // what fits: "a two-letter country code such as US"
};

// The problem with `value` as `field`, nullopt when it can be sent. An empty value is good only
// for an optional field. No field may hold a control character or exceed Namecheap's length.
std::optional<NamecheapContactProblem> CheckNamecheapContactField(
    const NamecheapContactField& field, std::string_view value);

// The first field of `contact` domains.create would refuse, as kInvalid naming it; Ok when the
// contact can be sent.
Status ValidateNamecheapContact(const NamecheapContact& contact);

// "+<1-3 digit country code>.<4-20 digits>", e.g. "+1.6613102107".
bool IsNamecheapPhone(std::string_view phone);

}  // namespace depositbot
