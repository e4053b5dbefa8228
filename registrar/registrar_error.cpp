#include "registrar/registrar_error.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace depositbot {
namespace {

bool ContainsNoCase(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) ==
                                 std::tolower(static_cast<unsigned char>(b));
                        });
  return it != haystack.end();
}

ErrorCode DefaultCode(RegistrarFailure::Kind kind) {
  using Kind = RegistrarFailure::Kind;
  switch (kind) {
    case Kind::kDomainNotAvailable:
      return ErrorCode::kFailedPrecondition;
    case Kind::kInvalidRequest:
      return ErrorCode::kInvalid;
    case Kind::kNotFound:
      return ErrorCode::kNotFound;
    // The registrar account's funds are an operator problem, not the user's balance: the
    // service is unavailable until someone tops it up.
    case Kind::kInsufficientFunds:
    case Kind::kAuth:
    case Kind::kIpNotWhitelisted:
    case Kind::kRateLimited:
    case Kind::kMalformedResponse:
    case Kind::kTransport:
    case Kind::kOther:
      return ErrorCode::kUnavailable;
  }
  return ErrorCode::kUnavailable;
}

}  // namespace

RegistrarFailure RegistrarFailure::Make(Kind kind, std::string message, int64_t number) {
  RegistrarFailure f;
  f.kind = kind;
  f.code = DefaultCode(kind);
  f.number = number;
  f.message = std::move(message);
  return f;
}

RegistrarFailure RegistrarFailure::FromError(const Error& error, Kind kind) {
  RegistrarFailure f = Make(kind, error.message);
  f.code = error.code;
  return f;
}

std::string_view RegistrarFailureKindName(RegistrarFailure::Kind kind) {
  using Kind = RegistrarFailure::Kind;
  switch (kind) {
    case Kind::kAuth:
      return "auth";
    case Kind::kIpNotWhitelisted:
      return "ip_not_whitelisted";
    case Kind::kDomainNotAvailable:
      return "domain_not_available";
    case Kind::kInsufficientFunds:
      return "insufficient_funds";
    case Kind::kRateLimited:
      return "rate_limited";
    case Kind::kMalformedResponse:
      return "malformed_response";
    case Kind::kInvalidRequest:
      return "invalid_request";
    case Kind::kNotFound:
      return "not_found";
    case Kind::kTransport:
      return "transport";
    case Kind::kOther:
      return "other";
  }
  return "other";
}

RegistrarFailure::Kind ClassifyNamecheapError(int64_t number, std::string_view text) {
  using Kind = RegistrarFailure::Kind;
  // Namecheap documents no number for a short account balance; match its wording.
  if (ContainsNoCase(text, "insufficient funds") || ContainsNoCase(text, "not enough funds") ||
      ContainsNoCase(text, "insufficient balance")) {
    return Kind::kInsufficientFunds;
  }
  switch (number) {
    case 1011150:
    case 1017150:
      return Kind::kIpNotWhitelisted;
    case 3019166:
    case 4019166:
      return Kind::kDomainNotAvailable;
    case 500000:
      return Kind::kRateLimited;
    case 2019166:
    case 2016166:
      return Kind::kNotFound;
    // One number for "DomainName not available", "UserName not available" and "Access
    // denied": only the first says the account does not hold the name.
    case 4011103:
      return ContainsNoCase(text, "user") || ContainsNoCase(text, "access") ? Kind::kAuth
                                                                            : Kind::kNotFound;
    // "Order chargeable for the user not found": a logical error at authentication.
    case 2033409:
      return Kind::kAuth;
    default:
      break;
  }
  if (ContainsNoCase(text, "too many requests")) return Kind::kRateLimited;
  if (number >= 1000000 && number < 2000000) return Kind::kAuth;
  if (number >= 2000000 && number < 3000000) return Kind::kInvalidRequest;
  if (number == 2005) return Kind::kInvalidRequest;  // country invalid
  return Kind::kOther;
}

}  // namespace depositbot
