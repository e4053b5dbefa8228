#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace depositbot::testing {

// A Telegram user as the fake puts it in updates ("from").
struct FakeTelegramUser {
  int64_t id = 0;
  std::string first_name;
  std::string last_name;  // empty: left out, as Telegram does
  std::string username;
  std::string language_code = "en";
  bool is_bot = false;

  nlohmann::json ToJson() const;
};

// A sendMessage the fake accepted.
struct FakeSentMessage {
  int64_t message_id = 0;
  int64_t chat_id = 0;
  std::string text;             // as sent (markup included)
  std::string parse_mode;       // "" when none
  nlohmann::json reply_markup;  // null when none
  int64_t reply_to_message_id = 0;
  nlohmann::json params;  // every parameter as received (JSON-string values decoded)
  std::chrono::steady_clock::time_point received_at;  // when the fake accepted it (benchmarks)
};

// An accepted editMessageText / editMessageReplyMarkup.
struct FakeMessageEdit {
  std::string method;  // "editMessageText" or "editMessageReplyMarkup"
  int64_t chat_id = 0;
  int64_t message_id = 0;
  std::string text;  // editMessageText only
  std::string parse_mode;
  nlohmann::json reply_markup;  // null: the keyboard was removed
};

// A sendDocument the fake accepted (a multipart/form-data upload, the only way to send a file
// that Telegram does not hold yet).
struct FakeSentDocument {
  int64_t message_id = 0;
  int64_t chat_id = 0;
  std::string file_name;  // the upload's filename
  std::string mime_type;  // the part's Content-Type
  std::string content;
  std::string caption;
  nlohmann::json params;  // every other parameter as received
};

struct FakeCallbackAnswer {
  std::string callback_query_id;
  std::string text;
  bool show_alert = false;
};

struct FakeChatAction {
  int64_t chat_id = 0;
  std::string action;
};

// Every request, accepted or not.
struct FakeTelegramCall {
  std::string method;  // lower-cased ("sendmessage")
  nlohmann::json params;
  int http_status = 0;
};

struct FakePushedCallback {
  int64_t update_id = 0;
  std::string callback_query_id;
};

// A Telegram Bot API server on 127.0.0.1 for tests (reference/telegram-bot-api.md): serves
// /bot<token>/<method> (GET or POST; JSON, form or query parameters; method names in any case)
// with the real envelopes {"ok":...,"result"|"error_code","description","parameters"}. A wrong
// token gets 401 Unauthorized, a malformed one or an unknown method 404.
//
// Updates: a FIFO the test fills (Push*). getUpdates drops ids below `offset` (confirming
// them), returns up to `limit`, and parks up to `timeout` seconds (a condition variable) until
// an update arrives; a newer getUpdates ends a parked one with 409, as does setWebhook; while
// a webhook is set getUpdates is 409.
//
// sendMessage is checked like Telegram does: chat_id and a non-empty text; parse_mode HTML
// must use supported, balanced tags and known entities (400 "can't parse entities: ...");
// the text after entity parsing must be at most 4096 UTF-16 units (400 "message is too
// long"); callback_data 1-64 bytes (400 BUTTON_DATA_INVALID). Accepted messages get
// increasing ids and a real Message in the answer.
//
// Faults are queued per method (InjectFault) and answer the next calls instead of the method.
// Control endpoints for tests that run the bot as a process: POST /_fake/updates with an
// Update (without update_id) or {"from":{user},"chat_id":N,"text":"..."} queues it;
// GET /_fake/sent returns the sent messages as a JSON array.
//
// Thread-safe. The destructor releases parked polls and hangs, then stops the server.
class FakeTelegramServer {
 public:
  struct Fault {
    enum class Type {
      kTooManyRequests,  // 429 "Too Many Requests: retry after N", parameters.retry_after
      kBlocked,          // 403 "Forbidden: bot was blocked by the user"
      kEntityError,      // 400 "Bad Request: can't parse entities: ..."
      kInternalError,    // 500 "Internal Server Error"
      kBadGatewayHtml,   // 502 with nginx's HTML page
      kError,            // `status` with `description` (any other Telegram error)
      kHang,             // answers only at ReleaseHangs() or destruction (a 504 by then)
      kPass,             // no fault: the call is served normally (to fault a later call)
    };
    Type type = Type::kInternalError;
    int retry_after = 0;
    int status = 0;
    std::string description;

    static Fault TooManyRequests(int retry_after_s);
    static Fault Blocked();
    static Fault EntityError();
    static Fault InternalError();
    static Fault BadGatewayHtml();
    static Fault Error(int status, std::string description);
    static Fault Hang();
    static Fault Pass();
  };

  static constexpr const char* kDefaultToken = "7000000001:AAHfakeTokenForTests_0123456789abcdefg";

  struct Options {
    int port = 0;  // 0: any free port
    std::string token = kDefaultToken;
    FakeTelegramUser bot{7000000001, "Deposit Bot", "", "depositbot_test_bot", "", true};
    // A local Bot API server allows plain-HTTP webhooks on any port; false checks the real
    // rules (HTTPS, ports 80/88/443/8443).
    bool local_mode = true;
  };

  FakeTelegramServer();
  explicit FakeTelegramServer(Options options);  // throws std::runtime_error if it cannot bind
  ~FakeTelegramServer();
  FakeTelegramServer(const FakeTelegramServer&) = delete;
  FakeTelegramServer& operator=(const FakeTelegramServer&) = delete;

  int port() const;
  // "http://127.0.0.1:PORT": a TELEGRAM_API_BASE.
  std::string url() const;
  const std::string& token() const;
  const FakeTelegramUser& bot() const;

  // Queue updates; each returns its update_id (1, 2, 3, ...). A private chat when chat_id > 0.
  int64_t PushMessage(const FakeTelegramUser& from, int64_t chat_id, const std::string& text);
  int64_t PushEditedMessage(const FakeTelegramUser& from, int64_t chat_id, int64_t message_id,
                            const std::string& text);
  // A button press on `message_id` (a message the fake sent, whose chat and text it uses; else
  // a message in the private chat of `from`).
  FakePushedCallback PushCallback(const FakeTelegramUser& from, int64_t message_id,
                                  const std::string& data);
  // Any JSON (even a malformed update). Gets the next update_id unless it has an integer one.
  int64_t PushRawUpdate(nlohmann::json update);
  // The same Update objects Push* queue, without queueing them (for webhook deliveries).
  nlohmann::json BuildMessageUpdate(const FakeTelegramUser& from, int64_t chat_id,
                                    const std::string& text);
  nlohmann::json BuildCallbackUpdate(const FakeTelegramUser& from, int64_t message_id,
                                     const std::string& data);

  // POSTs `update` to a bot's webhook `url` as Telegram does (JSON body, the secret in
  // X-Telegram-Bot-Api-Secret-Token when non-empty). Returns the HTTP status, 0 when no answer.
  int DeliverViaWebhook(const std::string& url, const std::string& secret,
                        const nlohmann::json& update,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // The next `times` calls of `method` (any case) get `fault`.
  void InjectFault(const std::string& method, Fault fault, int times = 1);
  // Every sendMessage/edit to this chat gets 403 "bot was blocked by the user".
  void BlockChat(int64_t chat_id);
  // Lets hung requests answer; parked getUpdates return what they have.
  void ReleaseHangs();

  std::vector<FakeSentMessage> SentMessages() const;
  // True once at least `n` messages were accepted; false after `timeout`.
  bool WaitForSentMessages(size_t n, std::chrono::milliseconds timeout) const;
  // sendDocument, checked as Telegram does: chat_id; `document` a multipart file upload (a
  // string is a file_id or URL, which the fake does not hold: 400 "wrong file identifier/HTTP
  // URL specified"), non-empty (400 "file must be non-empty"), at most 50 MB (413 "Request
  // Entity Too Large"); caption at most 1024 characters (400 "message caption is too long").
  std::vector<FakeSentDocument> SentDocuments() const;
  bool WaitForSentDocuments(size_t n, std::chrono::milliseconds timeout) const;
  std::vector<FakeMessageEdit> Edits() const;
  bool WaitForEdits(size_t n, std::chrono::milliseconds timeout) const;
  std::vector<FakeCallbackAnswer> CallbackAnswers() const;
  bool WaitForCallbackAnswers(size_t n, std::chrono::milliseconds timeout) const;
  std::vector<FakeChatAction> ChatActions() const;
  std::vector<FakeTelegramCall> Calls() const;
  int CallCount(const std::string& method) const;
  // Answered calls of `method` (any case, any status: a 403 counts) whose chat_id is `chat_id`.
  int CallCountTo(const std::string& method, int64_t chat_id) const;
  // True once CallCountTo(method, chat_id) >= n; false after `timeout`.
  bool WaitForCallsTo(const std::string& method, int64_t chat_id, size_t n,
                      std::chrono::milliseconds timeout) const;
  // True once a getUpdates is parked waiting for updates (to push only after the bot polls).
  bool WaitForParkedPoll(std::chrono::milliseconds timeout) const;
  // Requests held open right now and not answered: parked getUpdates (until their `timeout`)
  // and hung calls (Fault::Hang). The fake does not notice a client that went away, so a
  // request still held after the bot process ended is one the bot abandoned, not waited out.
  size_t HeldRequests() const;
  bool WaitForHeldRequests(size_t n, std::chrono::milliseconds timeout) const;
  // True once at least `n` sendChatAction calls were accepted; false after `timeout`.
  bool WaitForChatActions(size_t n, std::chrono::milliseconds timeout) const;

  // The highest offset a getUpdates confirmed with (0: none yet).
  int64_t CurrentOffset() const;
  // Updates queued and not yet confirmed.
  size_t PendingUpdates() const;
  std::string WebhookUrl() const;
  std::string WebhookSecret() const;
  std::vector<std::string> AllowedUpdates() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace depositbot::testing
