#include "common/result.h"

namespace depositbot {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalid:
      return "invalid";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kInsufficientFunds:
      return "insufficient_funds";
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kFailedPrecondition:
      return "failed_precondition";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kUnknownOutcome:
      return "unknown_outcome";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

ErrorCode ErrorCodeFromName(std::string_view name) {
  for (ErrorCode code :
       {ErrorCode::kInvalid, ErrorCode::kNotFound, ErrorCode::kConflict,
        ErrorCode::kInsufficientFunds, ErrorCode::kForbidden, ErrorCode::kFailedPrecondition,
        ErrorCode::kUnavailable, ErrorCode::kUnknownOutcome}) {
    if (ErrorCodeName(code) == name) return code;
  }
  return ErrorCode::kInternal;
}

}  // namespace depositbot
