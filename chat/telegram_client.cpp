#include "chat/telegram_client.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <thread>

#include "chat/telegram_pacer.h"
#include "chat/telegram_text.h"
#include "common/http_client.h"
#include "common/log.h"
#include "common/text.h"

namespace depositbot {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr size_t kCallbackAnswerLimit = 200;  // characters of answerCallbackQuery's text
constexpr size_t kCaptionLimit = 1024;        // characters of a document's caption

std::string Dump(const json& j) {
  // Invalid UTF-8 (from a model, say) must not throw: send U+FFFD instead.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool LooksLikeToken(std::string_view token) {
  return !token.empty() && std::all_of(token.begin(), token.end(), [](unsigned char c) {
    return std::isalnum(c) || c == ':' || c == '_' || c == '-';
  });
}

class HttpTelegramClient final : public TelegramClient {
 public:
  HttpTelegramClient(Config config, Environment& env, ObserveFunction observe, HttpUrl base)
      : config_(std::move(config)),
        env_(env),
        observe_(std::move(observe)),
        base_(std::move(base)) {
    if (config_.max_attempts < 1) config_.max_attempts = 1;
    pacer_ = std::make_unique<TelegramPacer>(config_.pacing, env_.clock());
  }

  TelegramResult<TelegramUser> GetMe() override {
    auto r = Call("getMe", json::object(), ReadPolicy());
    if (!r) return r.error();
    auto user = ParseTelegramUser(*r);
    if (!user) return Malformed("getMe", user.error().message, ErrorCode::kUnavailable);
    return std::move(*user);
  }

  TelegramResult<std::vector<TelegramUpdate>> GetUpdates(int64_t offset, int timeout_s,
                                                         int limit) override {
    if (timeout_s < 0) timeout_s = config_.long_poll_timeout_s;
    timeout_s = std::clamp(timeout_s, 0, 50);
    limit = std::clamp(limit, 1, 100);
    json params = {{"limit", limit}, {"timeout", timeout_s}};
    if (offset != 0) params["offset"] = offset;
    if (!config_.allowed_updates.empty()) params["allowed_updates"] = config_.allowed_updates;
    Policy policy = ReadPolicy();
    policy.read_timeout = milliseconds(int64_t{timeout_s} * 1000) + config_.long_poll_margin;
    policy.cancel = &poll_cancel_;
    auto r = Call("getUpdates", params, policy);
    if (!r) return r.error();
    if (!r->is_array()) {
      return Malformed("getUpdates", "result is not an array", ErrorCode::kUnavailable);
    }
    std::vector<TelegramUpdate> out;
    out.reserve(r->size());
    for (const json& raw : *r) {
      auto u = ParseTelegramUpdate(raw);
      if (u) {
        if (u->kind == TelegramUpdate::Kind::kUnparsable)
          LogUnparsable(u->update_id, u->parse_error);
        out.push_back(std::move(*u));
        continue;
      }
      TelegramUpdate broken;
      broken.kind = TelegramUpdate::Kind::kUnparsable;
      broken.parse_error = u.error().message;
      if (raw.is_object() && raw.contains("update_id") && raw["update_id"].is_number_integer()) {
        broken.update_id = raw["update_id"].get<int64_t>();
      }
      LogUnparsable(broken.update_id, broken.parse_error);
      out.push_back(std::move(broken));
    }
    return out;
  }

  void StopPolling() override { poll_cancel_.Cancel(); }

  TelegramStatus SetWebhook(const std::string& url, const std::string& secret_token,
                            const std::vector<std::string>& allowed_updates,
                            bool drop_pending_updates) override {
    json params = {{"url", url}};
    if (!secret_token.empty()) params["secret_token"] = secret_token;
    if (!allowed_updates.empty()) params["allowed_updates"] = allowed_updates;
    if (drop_pending_updates) params["drop_pending_updates"] = true;
    return Done(Call("setWebhook", params, ReadPolicy()));
  }

  TelegramStatus DeleteWebhook(bool drop_pending_updates) override {
    json params = json::object();
    if (drop_pending_updates) params["drop_pending_updates"] = true;
    return Done(Call("deleteWebhook", params, ReadPolicy()));
  }

  TelegramResult<TelegramWebhookInfo> GetWebhookInfo() override {
    auto r = Call("getWebhookInfo", json::object(), ReadPolicy());
    if (!r) return r.error();
    if (!r->is_object()) {
      return Malformed("getWebhookInfo", "result is not an object", ErrorCode::kUnavailable);
    }
    TelegramWebhookInfo info;
    const json& j = *r;
    if (j.contains("url") && j["url"].is_string()) info.url = j["url"].get<std::string>();
    if (j.contains("pending_update_count") && j["pending_update_count"].is_number_integer()) {
      info.pending_update_count = j["pending_update_count"].get<int64_t>();
    }
    if (j.contains("last_error_message") && j["last_error_message"].is_string()) {
      info.last_error_message = j["last_error_message"].get<std::string>();
    }
    if (j.contains("last_error_date") && j["last_error_date"].is_number_integer()) {
      info.last_error_date = j["last_error_date"].get<int64_t>();
    }
    return info;
  }

  TelegramResult<std::vector<int64_t>> SendMessage(int64_t chat_id, const std::string& text,
                                                   const TelegramSendOptions& options) override {
    if (options.keyboard) {
      if (Status s = options.keyboard->Validate(); !s) {
        return Invalid("sendMessage", s.error().message);
      }
    }
    bool html = options.parse_mode == TelegramParseMode::kHtml;
    std::vector<std::string> parts;
    if (html) {
      parts = SplitForTelegram(text);
    } else {
      // Escaped text has no tags, so the split adds none; StripHtml undoes the escaping.
      for (std::string& p : SplitForTelegram(HtmlEscape(text))) parts.push_back(StripHtml(p));
    }
    if (parts.empty()) return Invalid("sendMessage", "message text is empty");

    std::vector<int64_t> ids;
    for (size_t i = 0; i < parts.size(); ++i) {
      json params = {{"chat_id", chat_id}, {"text", parts[i]}};
      if (html) params["parse_mode"] = "HTML";
      if (options.disable_link_preview) params["link_preview_options"] = {{"is_disabled", true}};
      if (i == 0 && options.reply_to_message_id != 0) {
        params["reply_parameters"] = {{"message_id", options.reply_to_message_id},
                                      {"allow_sending_without_reply", true}};
      }
      if (i + 1 == parts.size() && options.keyboard) {
        params["reply_markup"] = options.keyboard->ToJson();
      }
      auto r = CallWithPlainFallback("sendMessage", params, SendPolicy(chat_id), html);
      if (!r) {
        TelegramError e = r.error();
        e.sent_message_ids = ids;
        return e;
      }
      if (!r->is_object() || !r->contains("message_id") ||
          !(*r)["message_id"].is_number_integer()) {
        TelegramError e =
            Malformed("sendMessage", "result has no message_id", ErrorCode::kUnknownOutcome);
        e.sent_message_ids = ids;
        return e;
      }
      ids.push_back((*r)["message_id"].get<int64_t>());
    }
    return ids;
  }

  TelegramStatus EditMessageText(int64_t chat_id, int64_t message_id, const std::string& text,
                                 const TelegramEditOptions& options) override {
    if (options.keyboard) {
      if (Status s = options.keyboard->Validate(); !s) {
        return Invalid("editMessageText", s.error().message);
      }
    }
    bool html = options.parse_mode == TelegramParseMode::kHtml;
    std::string visible = html ? StripHtml(text) : text;
    if (visible.find_first_not_of(" \t\r\n") == std::string::npos) {
      return Invalid("editMessageText", "message text is empty");
    }
    if (Utf16Length(text) > kTelegramMessageLimit) {
      return Invalid("editMessageText", "the text does not fit one message (4096 UTF-16 units)");
    }
    json params = {{"chat_id", chat_id}, {"message_id", message_id}, {"text", text}};
    if (html) params["parse_mode"] = "HTML";
    params["link_preview_options"] = {{"is_disabled", true}};
    if (options.keyboard) params["reply_markup"] = options.keyboard->ToJson();
    return Edited(CallWithPlainFallback("editMessageText", params, EditPolicy(chat_id), html));
  }

  TelegramStatus EditMessageReplyMarkup(int64_t chat_id, int64_t message_id,
                                        const std::optional<InlineKeyboard>& keyboard) override {
    json params = {{"chat_id", chat_id}, {"message_id", message_id}};
    if (keyboard) {
      if (Status s = keyboard->Validate(); !s) {
        return Invalid("editMessageReplyMarkup", s.error().message);
      }
      params["reply_markup"] = keyboard->ToJson();
    }
    return Edited(Call("editMessageReplyMarkup", params, EditPolicy(chat_id)));
  }

  TelegramStatus AnswerCallbackQuery(const std::string& callback_query_id, const std::string& text,
                                     bool show_alert) override {
    if (callback_query_id.empty()) return Invalid("answerCallbackQuery", "no callback_query_id");
    json params = {{"callback_query_id", callback_query_id}};
    if (!text.empty()) params["text"] = FirstCodePoints(text, kCallbackAnswerLimit);
    if (show_alert) params["show_alert"] = true;
    return Done(Call("answerCallbackQuery", params, ReadPolicy()));
  }

  TelegramResult<int64_t> SendDocument(int64_t chat_id, const std::string& filename,
                                       const std::string& content, const std::string& mime_type,
                                       const std::string& caption) override {
    if (content.empty()) return Invalid("sendDocument", "the file is empty");
    if (content.size() > kTelegramDocumentLimit) {
      return Invalid("sendDocument", "the file is larger than Telegram's 50 MB limit for bots");
    }
    if (filename.empty() || filename.size() > 255 ||
        filename.find_first_of("/\\\"\r\n") != std::string::npos) {
      return Invalid("sendDocument",
                     "the file name is empty, too long or has / \\ \" or a line break");
    }
    json params = {{"chat_id", chat_id}};
    std::vector<HttpFormPart> parts{{"chat_id", std::to_string(chat_id), "", ""}};
    if (!caption.empty()) {
      params["caption"] = FirstCodePoints(caption, kCaptionLimit);
      parts.push_back({"caption", params["caption"].get<std::string>(), "", ""});
    }
    parts.push_back({"document", content, filename, mime_type});
    auto r = Call("sendDocument", params, SendPolicy(chat_id), &parts);
    if (!r) return r.error();
    if (!r->is_object() || !r->contains("message_id") || !(*r)["message_id"].is_number_integer()) {
      return Malformed("sendDocument", "result has no message_id", ErrorCode::kUnknownOutcome);
    }
    return (*r)["message_id"].get<int64_t>();
  }

  TelegramStatus SendChatAction(int64_t chat_id, const std::string& action) override {
    return Done(Call("sendChatAction", {{"chat_id", chat_id}, {"action", action}}, ReadPolicy()));
  }

 private:
  struct Policy {
    milliseconds read_timeout{0};
    bool retry_unknown_outcome = true;  // false for calls that must not be duplicated
    std::optional<int64_t> pace_chat;
    HttpCancel* cancel = nullptr;  // getUpdates: poll_cancel_
  };

  Policy ReadPolicy() const {
    Policy p;
    p.read_timeout = config_.read_timeout;
    return p;
  }
  Policy SendPolicy(int64_t chat_id) const {
    Policy p = ReadPolicy();
    p.retry_unknown_outcome = false;
    if (config_.pace_sends) p.pace_chat = chat_id;
    return p;
  }
  Policy EditPolicy(int64_t chat_id) const {
    Policy p = SendPolicy(chat_id);
    p.retry_unknown_outcome = true;  // an edit repeated is the same edit
    return p;
  }

  // `upload`: send these parts as multipart/form-data instead of `params` as JSON (`params`
  // then only names the call in logs).
  TelegramResult<json> Call(std::string_view method, const json& params, const Policy& policy,
                            const std::vector<HttpFormPart>* upload = nullptr) {
    HttpOptions options;
    options.connect_timeout = config_.connect_timeout;
    options.read_timeout = policy.read_timeout;
    options.cancel = policy.cancel;
    HttpClient http(base_, options);
    const std::string path = "/bot" + config_.token + "/" + std::string(method);
    const std::string body = Dump(params);
    bool resent_after_429 = false;
    for (int attempt = 1;; ++attempt) {
      if (policy.pace_chat) {
        milliseconds wait = pacer_->Reserve(*policy.pace_chat);
        if (wait.count() > 0) env_.Sleep(wait);
      }
      auto answer =
          upload ? http.PostMultipart(path, *upload) : http.Post(path, body, "application/json");
      if (policy.cancel && policy.cancel->cancelled() && !answer) {
        // Stopping: no retry, no warning; the caller asked for this.
        TelegramError e =
            MakeTelegramError(TelegramError::Kind::kCancelled, method,
                              std::string(method) + " cancelled: polling was stopped");
        e.description = e.message;
        return e;
      }
      if (!answer) {
        Observe(method, 0, 0);
        TelegramError e = MakeTelegramError(TelegramError::Kind::kTransport, method,
                                            RedactToken(answer.error().message, config_.token));
        e.code = answer.code();
        e.description = e.message;
        bool retryable = answer.code() == ErrorCode::kUnavailable || policy.retry_unknown_outcome;
        if (retryable && attempt < config_.max_attempts) {
          Retry(method, e, attempt);
          continue;
        }
        return Fail(std::move(e), params);
      }
      auto result = InterpretTelegramAnswer(method, *answer);
      Observe(method, answer->status, result ? 0 : result.error().error_code);
      if (result) return result;
      TelegramError e = result.error();
      if (e.kind == TelegramError::Kind::kRateLimited && !resent_after_429) {
        milliseconds wait(int64_t{e.retry_after_s} * 1000);
        if (wait <= config_.max_retry_after) {
          resent_after_429 = true;
          Log(LogLevel::kWarn, "telegram_rate_limited",
              {{"method", std::string(method)},
               {"retry_after_s", std::to_string(e.retry_after_s)}});
          env_.Sleep(wait);
          --attempt;  // the one resend after a 429 does not use up a retry
          continue;
        }
      }
      if (e.kind == TelegramError::Kind::kServer && attempt < config_.max_attempts) {
        Retry(method, e, attempt);
        continue;
      }
      return Fail(std::move(e), params);
    }
  }

  // Sends; if Telegram cannot parse the HTML, sends the same text once more as plain text.
  TelegramResult<json> CallWithPlainFallback(std::string_view method, json params,
                                             const Policy& policy, bool html) {
    auto r = Call(method, params, policy);
    if (r || !html || !r.error().IsEntityParseError()) return r;
    Log(LogLevel::kWarn, "telegram_html_fallback",
        {{"method", std::string(method)}, {"description", r.error().description}});
    params.erase("parse_mode");
    params["text"] = StripHtml(params["text"].get<std::string>());
    return Call(method, params, policy);
  }

  void Retry(std::string_view method, const TelegramError& e, int attempt) {
    milliseconds wait = config_.backoff_base * (int64_t{1} << std::min(attempt - 1, 16));
    Log(LogLevel::kInfo, "telegram_retry",
        {{"method", std::string(method)},
         {"attempt", std::to_string(attempt)},
         {"http_status", std::to_string(e.http_status)},
         {"error", e.message},
         {"wait_ms", std::to_string(wait.count())}});
    env_.Sleep(wait);
  }

  TelegramError Fail(TelegramError e, const json& params) {
    std::string chat = params.contains("chat_id") ? params["chat_id"].dump() : "";
    if (e.IsNotModified()) {
      // An edit to the same content: the callers treat it as done.
      Log(LogLevel::kDebug, "telegram_not_modified", {{"method", e.method}, {"chat_id", chat}});
    } else if (e.kind == TelegramError::Kind::kForbidden) {
      Log(LogLevel::kWarn, "telegram_forbidden",
          {{"method", e.method}, {"chat_id", chat}, {"description", e.description}});
    } else {
      Log(LogLevel::kWarn, "telegram_call_failed",
          {{"method", e.method},
           {"kind", std::string(TelegramErrorKindName(e.kind))},
           {"http_status", std::to_string(e.http_status)},
           {"error_code", std::to_string(e.error_code)},
           {"chat_id", chat},
           {"error", e.message}});
    }
    return e;
  }

  TelegramError Malformed(std::string_view method, const std::string& why, ErrorCode code) {
    TelegramError e = MakeTelegramError(TelegramError::Kind::kMalformedResponse, method,
                                        std::string(method) + " answered ok but " + why);
    e.code = code;
    e.http_status = 200;
    Log(LogLevel::kWarn, "telegram_malformed_result", {{"method", e.method}, {"error", e.message}});
    return e;
  }

  TelegramError Invalid(std::string_view method, const std::string& why) {
    return MakeTelegramError(TelegramError::Kind::kInvalidArgument, method,
                             std::string(method) + " not sent: " + why);
  }

  static TelegramStatus Done(const TelegramResult<json>& r) {
    if (!r) return r.error();
    return std::monostate{};
  }

  static TelegramStatus Edited(const TelegramResult<json>& r) {
    if (!r && r.error().IsNotModified()) return std::monostate{};
    return Done(r);
  }

  void LogUnparsable(int64_t update_id, const std::string& why) {
    Log(LogLevel::kWarn, "telegram_unparsable_update",
        {{"update_id", std::to_string(update_id)}, {"error", why}});
  }

  void Observe(std::string_view method, int status, int error_code) {
    if (observe_) observe_(method, status, error_code);
  }

  Config config_;
  Environment& env_;
  ObserveFunction observe_;
  HttpUrl base_;
  std::unique_ptr<TelegramPacer> pacer_;
  HttpCancel poll_cancel_;  // StopPolling()
};

}  // namespace

std::string RedactToken(std::string text, std::string_view token) {
  if (token.empty()) return text;
  for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at)) {
    text.replace(at, token.size(), "<redacted>");
    at += 10;
  }
  return text;
}

Result<std::unique_ptr<TelegramClient>> TelegramClient::Create(Config config, Environment& env,
                                                               ObserveFunction observe) {
  auto base = HttpUrl::Parse(config.api_base);
  if (!base) return Error::Invalid("TELEGRAM_API_BASE: " + base.error().message);
  if (config.token.empty()) return Error::Invalid("TELEGRAM_BOT_TOKEN is empty");
  if (!LooksLikeToken(config.token)) {
    return Error::Invalid(
        "TELEGRAM_BOT_TOKEN has characters a bot token cannot have (expected digits, ':' and "
        "letters, digits, '_' or '-')");
  }
  if (config.long_poll_timeout_s < 0 || config.long_poll_timeout_s > 50) {
    return Error::Invalid("the long-poll timeout must be 0..50 seconds");
  }
  return std::unique_ptr<TelegramClient>(std::make_unique<HttpTelegramClient>(
      std::move(config), env, std::move(observe), std::move(*base)));
}

}  // namespace depositbot
