#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/telegram_error.h"
#include "chat/telegram_pacer.h"
#include "chat/telegram_types.h"
#include "common/environment.h"
#include "common/result.h"

namespace depositbot {

// Settings of TelegramClient (see there).
struct TelegramClientConfig {
  std::string api_base = "https://api.telegram.org";  // TELEGRAM_API_BASE
  std::string token;                                  // TELEGRAM_BOT_TOKEN; secret
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{15000};  // every method but getUpdates
  int long_poll_timeout_s = 25;                   // GetUpdates' default `timeout`
  // getUpdates' HTTP read timeout is its `timeout` plus this margin.
  std::chrono::milliseconds long_poll_margin{10000};
  // Sent with every getUpdates (it otherwise keeps the last setting); empty: not sent.
  std::vector<std::string> allowed_updates{"message", "edited_message", "callback_query"};
  int max_attempts = 3;                         // per call, on 5xx / non-JSON / connection failures
  std::chrono::milliseconds backoff_base{500};  // waits base, 2*base, ... between attempts
  // A 429 whose retry_after is longer than this is returned at once instead of waited out.
  std::chrono::milliseconds max_retry_after{30000};
  bool pace_sends = true;  // sendMessage / editMessage* go through the TelegramPacer
  TelegramPacer::Limits pacing;
};

enum class TelegramParseMode { kHtml, kPlain };

// The largest file a bot may upload with sendDocument: 50 MB.
inline constexpr size_t kTelegramDocumentLimit = 50u * 1000u * 1000u;

struct TelegramSendOptions {
  TelegramParseMode parse_mode = TelegramParseMode::kHtml;
  // Attached to the last part only (a long text becomes several messages).
  std::optional<InlineKeyboard> keyboard;
  int64_t reply_to_message_id = 0;   // 0: none; the first part replies, sent even if it is gone
  bool disable_link_preview = true;  // the bot writes domain names; previews are noise
};

struct TelegramEditOptions {
  TelegramParseMode parse_mode = TelegramParseMode::kHtml;
  std::optional<InlineKeyboard> keyboard;  // nullopt: the edited message has no keyboard
};

struct TelegramWebhookInfo {
  std::string url;  // empty when polling
  int64_t pending_update_count = 0;
  std::string last_error_message;
  int64_t last_error_date = 0;
};

// The Telegram Bot API (reference/telegram-bot-api.md) over HTTP: every method is a POST of a
// JSON body to {api_base}/bot<token>/<method>.
//
// Failures and retries, per call:
//  - 429: waits parameters.retry_after (or Retry-After, else 1 s) through the Environment
//    and resends once; a second 429, or a retry_after over max_retry_after, is kRateLimited.
//  - 5xx, a non-JSON body (an HTML 502 page), or a connection that could not be made: up to
//    max_attempts attempts with exponential backoff, then kServer / kTransport.
//  - A read timeout after sending (kUnknownOutcome) is retried for reads, edits, callback
//    answers and chat actions, never for sendMessage: the message may have gone out.
//  - 403 is kForbidden and logged, never retried; 401/404 are kUnauthorized; other 4xx are
//    kBadRequest. Telegram's error_code and description ride on every error.
// The token never appears in a log line or an error (it is redacted from transport messages).
//
// Thread-safe: any number of threads may call any method at once.
class TelegramClient {
 public:
  using Config = TelegramClientConfig;
  // Called once per HTTP attempt with the method, the HTTP status (0: no answer) and Telegram's
  // error_code (0 on success): a hook for metrics. Called from the calling threads at once, so
  // it must be thread-safe.
  using ObserveFunction =
      std::function<void(std::string_view method, int http_status, int error_code)>;

  // Checks the base URL and that the token is non-empty and URL-safe (no '/', spaces, '?');
  // kInvalid otherwise (the message never repeats the token). Sends nothing. Every wait (a
  // 429's retry_after, the backoff, the send pacing) goes through `env`, and the pacer reads
  // env's clock; `env` must outlive the client. `observe` may be empty.
  static Result<std::unique_ptr<TelegramClient>> Create(Config config,
                                                        Environment& env = SystemEnvironment(),
                                                        ObserveFunction observe = {});

  virtual ~TelegramClient() = default;

  // The bot's own user. A rejected token is kUnauthorized whose message says so.
  virtual TelegramResult<TelegramUser> GetMe() = 0;

  // Long polling. `offset` confirms every update below it (0: confirm nothing); `timeout_s`
  // (clamped to 0..50; negative: the configured long_poll_timeout_s) is how long Telegram may
  // hold the request; `limit` is clamped to 1..100. The HTTP read timeout is timeout_s plus
  // long_poll_margin. An update that does not parse comes back as kind kUnparsable with its
  // update_id (confirm it like any other); the batch never fails because of one update.
  // Next offset: 1 + the largest update_id returned.
  virtual TelegramResult<std::vector<TelegramUpdate>> GetUpdates(int64_t offset, int timeout_s = -1,
                                                                 int limit = 100) = 0;
  // Ends long polling for good, from any thread (a stop signal): the GetUpdates in flight
  // returns kCancelled at once instead of waiting out its timeout, and so does every later
  // one, without sending. Updates in an answer cut off this way were not confirmed (no later
  // offset was sent), so Telegram delivers them again to the next poller. Other methods keep
  // working (in-flight replies still go out). The default does nothing, for clients that do
  // not poll.
  virtual void StopPolling() {}

  // Webhook mode: Telegram POSTs each update to `url` with `secret_token` in the
  // X-Telegram-Bot-Api-Secret-Token header. `allowed_updates` empty: Telegram's default.
  virtual TelegramStatus SetWebhook(const std::string& url, const std::string& secret_token,
                                    const std::vector<std::string>& allowed_updates = {},
                                    bool drop_pending_updates = false) = 0;
  virtual TelegramStatus DeleteWebhook(bool drop_pending_updates = false) = 0;
  virtual TelegramResult<TelegramWebhookInfo> GetWebhookInfo() = 0;

  // Sends `text` (HTML by default; escape user input with HtmlEscape) to `chat_id`, split with
  // SplitForTelegram when over 4096 UTF-16 units; returns the message ids in order. Only the
  // last part carries the keyboard. A part Telegram refuses with "can't parse entities" is
  // resent once as plain text (StripHtml). An empty text or a bad keyboard is
  // kInvalidArgument, nothing sent. On failure, error().sent_message_ids lists the parts
  // already delivered. Paced per chat and globally (config.pace_sends).
  virtual TelegramResult<std::vector<int64_t>> SendMessage(
      int64_t chat_id, const std::string& text, const TelegramSendOptions& options = {}) = 0;

  // Replaces a message's text (and keyboard: nullopt removes it), e.g. "Confirmed by Ada" on
  // an admin notice. A text that does not fit one message is kInvalidArgument. Telegram's
  // "message is not modified" counts as success, so an edit can be repeated safely. Bad HTML
  // is resent once as plain text.
  virtual TelegramStatus EditMessageText(int64_t chat_id, int64_t message_id,
                                         const std::string& text,
                                         const TelegramEditOptions& options = {}) = 0;
  // Replaces (or with nullopt removes) a message's inline keyboard. "message is not modified"
  // counts as success.
  virtual TelegramStatus EditMessageReplyMarkup(int64_t chat_id, int64_t message_id,
                                                const std::optional<InlineKeyboard>& keyboard) = 0;

  // Stops the button's spinner; `text` (cut to 200 characters) shows as a toast, or as an
  // alert with `show_alert`. Call it for every callback query.
  virtual TelegramStatus AnswerCallbackQuery(const std::string& callback_query_id,
                                             const std::string& text = "",
                                             bool show_alert = false) = 0;

  // Uploads `content` as a document named `filename` to `chat_id` (sendDocument as
  // multipart/form-data, the encoding Telegram requires for uploads) with a plain-text
  // `caption` (cut to 1024 characters); returns the message id. An empty file, one over
  // kTelegramDocumentLimit bytes (Telegram's limit for bots) or a bad filename is
  // kInvalidArgument, nothing sent. Like sendMessage it is never resent after a read timeout
  // (it may have arrived). Paced as a message to the chat.
  virtual TelegramResult<int64_t> SendDocument(int64_t chat_id, const std::string& filename,
                                               const std::string& content,
                                               const std::string& mime_type,
                                               const std::string& caption = "") = 0;

  // "typing" etc.; lasts about 5 s or until the next message. Not paced.
  virtual TelegramStatus SendChatAction(int64_t chat_id, const std::string& action = "typing") = 0;
};

// Replaces every occurrence of `token` in `text` with "<redacted>" (a no-op for an empty
// token). For callers that build their own messages around API URLs.
std::string RedactToken(std::string text, std::string_view token);

}  // namespace depositbot
