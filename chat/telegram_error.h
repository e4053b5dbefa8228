#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/expected.h"
#include "common/result.h"

namespace depositbot {

struct HttpResponse;

// Why a Bot API call failed. `kind` is what the caller branches on; `http_status`,
// `error_code` and `description` are Telegram's own (for logs and metrics labels); `message`
// is a readable sentence. No field ever contains the bot token.
struct TelegramError {
  enum class Kind {
    kUnauthorized,       // 401/404: the token was rejected; fix TELEGRAM_BOT_TOKEN
    kForbidden,          // 403: blocked by the user, kicked, user deactivated; never retried
    kRateLimited,        // 429 left after the one resend (or retry_after over the cap)
    kBadRequest,         // 400 and other 4xx: chat not found, message is not modified, ...
    kConflict,           // 409: another getUpdates, or a webhook is active
    kServer,             // 5xx or a non-JSON (HTML proxy) answer, after the retries
    kTransport,          // no HTTP answer (see `code`: kUnavailable or kUnknownOutcome)
    kMalformedResponse,  // HTTP 200 with ok:true but a result that does not fit
    kInvalidArgument,    // refused locally before sending (empty text, bad keyboard)
    kCancelled,          // getUpdates after StopPolling(): aborted or never sent
  };

  Kind kind = Kind::kServer;
  // The common code: kForbidden (401/403/404), kUnavailable (429, 5xx, connect failures),
  // kInvalid (4xx, local checks), kConflict (409), kUnknownOutcome (the request was sent and
  // may have acted: a read timeout, or a 200 whose result could not be read).
  ErrorCode code = ErrorCode::kUnavailable;
  std::string method;       // "sendMessage"
  int http_status = 0;      // 0 when no HTTP answer came
  int error_code = 0;       // Telegram's error_code; 0 when the body had none
  std::string description;  // Telegram's description ("Forbidden: bot was blocked by the user")
  int retry_after_s = 0;    // parameters.retry_after (429)
  int64_t migrate_to_chat_id = 0;  // parameters.migrate_to_chat_id (group became supergroup)
  std::string message;             // readable, e.g. "sendMessage failed: 403 Forbidden: ..."
  // SendMessage: ids of the parts delivered before the failure (a long text is several
  // messages).
  std::vector<int64_t> sent_message_ids;

  bool IsBlocked() const { return kind == Kind::kForbidden; }
  // 400 "can't parse entities" (bad HTML).
  bool IsEntityParseError() const;
  // 400 "message is not modified" (an edit to the same content).
  bool IsNotModified() const;
  Error ToError() const { return Error{code, message}; }
};

// Stable lower-case name of a kind ("forbidden", "rate_limited") for logs and metric labels.
std::string_view TelegramErrorKindName(TelegramError::Kind kind);

// Either a value or a TelegramError; reads like Result<T>:
//   if (auto ids = client.SendMessage(chat, text)) ...; else if (ids.error().IsBlocked()) ...
template <typename T>
using TelegramResult = Expected<T, TelegramError>;

// A call that returns nothing useful (Telegram's `true`).
using TelegramStatus = TelegramResult<std::monostate>;

// Classifies one HTTP answer of `method` (before any retry decision): Telegram's `result` when
// the body is {"ok":true,...}; otherwise a TelegramError with the kind the status and
// error_code imply, Telegram's description and parameters (retry_after, migrate_to_chat_id),
// and a readable message. A non-JSON body (a proxy's HTML page) is kServer (kRateLimited for a
// 429, kBadRequest etc. for other 4xx). The body is never echoed into the message.
TelegramResult<nlohmann::json> InterpretTelegramAnswer(std::string_view method,
                                                       const HttpResponse& answer);

// A TelegramError of `kind` with the common code that kind implies.
TelegramError MakeTelegramError(TelegramError::Kind kind, std::string_view method,
                                std::string message);

}  // namespace depositbot
