#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "common/expected.h"

namespace depositbot {

// What kind of expected failure a Result carries. Callers branch on the code;
// people read the message.
enum class ErrorCode {
  kInvalid,             // input does not fit (bad amount, bad argument)
  kNotFound,            // unknown user, transaction, order
  kConflict,            // version conflict after all retries; try again
  kInsufficientFunds,   // balance too low for a debit
  kForbidden,           // the acting user may not do this
  kFailedPrecondition,  // e.g. confirming a transaction that is not pending
  kUnavailable,         // a remote service failed or timed out; may succeed later
  kUnknownOutcome,      // a remote call may or may not have taken effect
  kInternal,            // a bug or a broken environment (corrupt file, disk full)
};

std::string_view ErrorCodeName(ErrorCode code);
// The inverse of ErrorCodeName; kInternal for any other name (e.g. a tool's "invalid_json").
ErrorCode ErrorCodeFromName(std::string_view name);

struct Error {
  ErrorCode code;
  std::string message;

  static Error Invalid(std::string m) { return {ErrorCode::kInvalid, std::move(m)}; }
  static Error NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
  static Error Conflict(std::string m) { return {ErrorCode::kConflict, std::move(m)}; }
  static Error InsufficientFunds(std::string m) {
    return {ErrorCode::kInsufficientFunds, std::move(m)};
  }
  static Error Forbidden(std::string m) { return {ErrorCode::kForbidden, std::move(m)}; }
  static Error FailedPrecondition(std::string m) {
    return {ErrorCode::kFailedPrecondition, std::move(m)};
  }
  static Error Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
  static Error UnknownOutcome(std::string m) { return {ErrorCode::kUnknownOutcome, std::move(m)}; }
  static Error Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

  const Error& ToError() const { return *this; }
};

// Either a value or an Error:
//   if (auto r = repo.GetAccount(id)) use(*r); else report(r.error());
template <typename T>
using Result = Expected<T, Error>;

// A Result without a value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  static Status Ok() { return Status(); }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }
  ErrorCode code() const { return error().code; }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

}  // namespace depositbot
