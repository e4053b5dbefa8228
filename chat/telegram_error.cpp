#include "chat/telegram_error.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string>

#include "common/http_client.h"

namespace depositbot {
namespace {

using nlohmann::json;

TelegramError::Kind KindForStatus(int status) {
  if (status == 401 || status == 404) return TelegramError::Kind::kUnauthorized;
  if (status == 403) return TelegramError::Kind::kForbidden;
  if (status == 429) return TelegramError::Kind::kRateLimited;
  if (status == 409) return TelegramError::Kind::kConflict;
  if (status >= 400 && status < 500) return TelegramError::Kind::kBadRequest;
  return TelegramError::Kind::kServer;
}

ErrorCode CodeForKind(TelegramError::Kind kind) {
  switch (kind) {
    case TelegramError::Kind::kUnauthorized:
    case TelegramError::Kind::kForbidden:
      return ErrorCode::kForbidden;
    case TelegramError::Kind::kBadRequest:
    case TelegramError::Kind::kInvalidArgument:
      return ErrorCode::kInvalid;
    case TelegramError::Kind::kConflict:
      return ErrorCode::kConflict;
    case TelegramError::Kind::kMalformedResponse:
    case TelegramError::Kind::kCancelled:
      return ErrorCode::kUnknownOutcome;
    case TelegramError::Kind::kRateLimited:
    case TelegramError::Kind::kServer:
    case TelegramError::Kind::kTransport:
      return ErrorCode::kUnavailable;
  }
  return ErrorCode::kUnavailable;
}

}  // namespace

TelegramError MakeTelegramError(TelegramError::Kind kind, std::string_view method,
                                std::string message) {
  TelegramError e;
  e.kind = kind;
  e.code = CodeForKind(kind);
  e.method = std::string(method);
  e.message = std::move(message);
  return e;
}

TelegramResult<json> InterpretTelegramAnswer(std::string_view method, const HttpResponse& r) {
  json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("ok") || !body["ok"].is_boolean()) {
    // A proxy's HTML page, an empty body: Telegram itself always answers JSON.
    TelegramError::Kind kind = r.status >= 400 && r.status < 500 && r.status != 429
                                   ? KindForStatus(r.status)
                                   : TelegramError::Kind::kServer;
    if (r.status == 429) kind = TelegramError::Kind::kRateLimited;
    TelegramError e = MakeTelegramError(kind, method, "");
    e.http_status = r.status;
    e.description = "HTTP " + std::to_string(r.status) + " with a non-JSON body";
    e.message = std::string(method) + " failed: " + e.description;
    if (kind == TelegramError::Kind::kRateLimited) e.retry_after_s = 1;
    return e;
  }
  if (body["ok"].get<bool>()) return body.contains("result") ? body["result"] : json(true);

  int status = r.status >= 200 && r.status < 300 ? 0 : r.status;
  int error_code = body.contains("error_code") && body["error_code"].is_number_integer()
                       ? body["error_code"].get<int>()
                       : status;
  TelegramError e = MakeTelegramError(KindForStatus(status != 0 ? status : error_code), method, "");
  e.http_status = r.status;
  e.error_code = error_code;
  if (body.contains("description") && body["description"].is_string()) {
    e.description = body["description"].get<std::string>();
  }
  if (body.contains("parameters") && body["parameters"].is_object()) {
    const json& p = body["parameters"];
    if (p.contains("retry_after") && p["retry_after"].is_number_integer()) {
      e.retry_after_s = p["retry_after"].get<int>();
    }
    if (p.contains("migrate_to_chat_id") && p["migrate_to_chat_id"].is_number_integer()) {
      e.migrate_to_chat_id = p["migrate_to_chat_id"].get<int64_t>();
    }
  }
  if (e.kind == TelegramError::Kind::kRateLimited && e.retry_after_s <= 0) {
    std::string header = r.Header("retry-after");
    e.retry_after_s = 1;
    if (!header.empty() && std::all_of(header.begin(), header.end(), ::isdigit) &&
        header.size() < 7) {
      e.retry_after_s = std::max(1, std::stoi(header));
    }
  }
  if (e.kind == TelegramError::Kind::kUnauthorized) {
    e.message = "Telegram rejected the bot token (" + std::to_string(r.status) + " " +
                e.description + "); check TELEGRAM_BOT_TOKEN";
  } else {
    e.message = std::string(method) + " failed: " + std::to_string(r.status) + " " + e.description;
  }
  return e;
}

bool TelegramError::IsEntityParseError() const {
  return kind == Kind::kBadRequest && description.find("can't parse entities") != std::string::npos;
}

bool TelegramError::IsNotModified() const {
  return kind == Kind::kBadRequest &&
         description.find("message is not modified") != std::string::npos;
}

std::string_view TelegramErrorKindName(TelegramError::Kind kind) {
  switch (kind) {
    case TelegramError::Kind::kUnauthorized:
      return "unauthorized";
    case TelegramError::Kind::kForbidden:
      return "forbidden";
    case TelegramError::Kind::kRateLimited:
      return "rate_limited";
    case TelegramError::Kind::kBadRequest:
      return "bad_request";
    case TelegramError::Kind::kConflict:
      return "conflict";
    case TelegramError::Kind::kServer:
      return "server";
    case TelegramError::Kind::kTransport:
      return "transport";
    case TelegramError::Kind::kMalformedResponse:
      return "malformed_response";
    case TelegramError::Kind::kInvalidArgument:
      return "invalid_argument";
    case TelegramError::Kind::kCancelled:
      return "cancelled";
  }
  return "server";
}

}  // namespace depositbot
