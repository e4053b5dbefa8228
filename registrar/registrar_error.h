#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/result.h"

namespace depositbot {

// Why a registrar call failed, with enough detail for the purchase code to decide what to do.
//
// The one question that matters for money is answered by `code`:
//   code == ErrorCode::kUnknownOutcome  the command MAY have taken effect (create timed out,
//                                       connection reset after sending, malformed or 5xx reply
//                                       to create, an internal/provider error on create).
//                                       Do not refund; ask the registrar later (GetInfo/List).
//   any other code                      DEFINITE failure: nothing was done, safe to refund.
// Read commands (Check, Price, GetInfo, List, Balance) never return kUnknownOutcome: a read has
// no effect, so their transport failures are kUnavailable.
struct RegistrarFailure {
  enum class Kind {
    kAuth,                // bad ApiUser/ApiKey/UserName, account locked (Namecheap 1xxxxxx)
    kIpNotWhitelisted,    // ClientIp not whitelisted (1011150, 1017150)
    kDomainNotAvailable,  // the name is taken (3019166, 4019166)
    kInsufficientFunds,   // the registrar ACCOUNT cannot pay (not the user's deposit)
    kRateLimited,         // HTTP 405/429 or error 500000
    kMalformedResponse,   // non-XML body, wrong envelope, missing required attribute
    kInvalidRequest,      // the registrar refused the parameters (2xxxxxx, unsupported TLD)
    kNotFound,            // GetInfo: the domain is not in this account (2019166, 2016166, and
                          // 4011103 when worded about the domain, not the user or access)
    kTransport,           // no usable HTTP answer (connect failed, timeout, reset, HTTP 5xx)
    kOther,               // any other registrar error (provider/internal errors)
  };

  Kind kind = Kind::kOther;
  ErrorCode code = ErrorCode::kUnavailable;
  int64_t number = 0;   // the registrar's error number; 0 when there is none
  std::string message;  // readable; never contains the API key

  bool OutcomeUnknown() const { return code == ErrorCode::kUnknownOutcome; }
  bool Definite() const { return !OutcomeUnknown(); }
  Error ToError() const { return Error{code, message}; }

  // A definite failure of `kind` with the code that kind implies for a read.
  static RegistrarFailure Make(Kind kind, std::string message, int64_t number = 0);
  // Wraps a common Error (e.g. from domain-name validation) as a definite failure.
  static RegistrarFailure FromError(const Error& error, Kind kind);
};

// Stable lower-case name of a kind ("domain_not_available") for logs and tests.
std::string_view RegistrarFailureKindName(RegistrarFailure::Kind kind);

// Maps a Namecheap error number (and its text, for the undocumented insufficient-funds case)
// to a kind. Unknown numbers are kOther.
RegistrarFailure::Kind ClassifyNamecheapError(int64_t number, std::string_view text);

// Either a value or a RegistrarFailure; reads like Result<T>:
//   if (auto r = registrar.Create(req)) done(*r);
//   else if (r.error().OutcomeUnknown()) wait_for_recovery(); else refund();
template <typename T>
using RegistrarResult = Expected<T, RegistrarFailure>;

}  // namespace depositbot
