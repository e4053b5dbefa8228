#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace depositbot {

// The signature of a bank notification (docs/bank-notifications.md), in the style of Stripe's
// webhook signatures: the header
//   Depositbot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// may carry several v1 (one per secret while the bank rotates it); one must match.
inline constexpr std::string_view kBankSignatureHeader = "Depositbot-Signature";

// The header's value for `body` signed at `timestamp` with `secret`.
std::string SignBankNotification(std::string_view secret, int64_t timestamp, std::string_view body);

// kForbidden, saying why, unless `header` carries exactly one t, within `tolerance_seconds` of
// `now`, and a v1 that is the HMAC of "<t>.<body>" under `secret` (compared in constant time).
// An empty secret verifies nothing. Pure and thread-safe.
Status VerifyBankSignature(std::string_view header, std::string_view body, std::string_view secret,
                           int64_t now, int64_t tolerance_seconds);

}  // namespace depositbot
