#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace depositbot {

// Typed views of the Bot API objects the bot uses (reference/telegram-bot-api.md §4). Parsing
// is tolerant the way Telegram requires: unknown fields and unknown update types are ignored,
// optional fields may be missing (they read as empty strings / nullopt), ids are int64. A
// required field that is missing or of the wrong type is a kInvalid error naming the field;
// parsing never throws.

struct TelegramUser {
  int64_t id = 0;
  bool is_bot = false;
  std::string first_name;
  std::string last_name;      // optional
  std::string username;       // optional, without '@'
  std::string language_code;  // optional ("en", "ko")
};

struct TelegramChat {
  int64_t id = 0;     // negative for groups; -100... for supergroups and channels
  std::string type;   // "private", "group", "supergroup", "channel"
  std::string title;  // optional (groups, channels)
  std::string username;
};

struct TelegramMessage {
  int64_t message_id = 0;
  std::optional<TelegramUser> from;  // absent in channels
  TelegramChat chat;
  int64_t date = 0;       // Unix seconds; 0 for an inaccessible message in a callback query
  int64_t edit_date = 0;  // edited messages only
  std::string text;       // empty when the message has no text (photo, sticker, ...)
};

struct TelegramCallbackQuery {
  std::string id;  // pass to AnswerCallbackQuery
  TelegramUser from;
  // The message the button was on (message_id and chat; date 0 if no longer accessible).
  // Absent for inline-mode messages.
  std::optional<TelegramMessage> message;
  std::string data;  // callback_data of the button; empty for game buttons
  std::string chat_instance;
};

struct TelegramUpdate {
  enum class Kind {
    kMessage,        // `message` is set
    kEditedMessage,  // `message` is set (the new text); the bot ignores these
    kCallbackQuery,  // `callback_query` is set
    kOther,          // a type the bot does not handle; `other_type` names it
    kUnparsable,     // a known type with broken required fields; `parse_error` says why
  };

  int64_t update_id = 0;  // 0 only for an unparsable update without a usable update_id
  Kind kind = Kind::kOther;
  std::optional<TelegramMessage> message;
  std::optional<TelegramCallbackQuery> callback_query;
  std::string other_type;   // kOther: "my_chat_member", "inline_query", ...; "" if none
  std::string parse_error;  // kUnparsable
};

// "message", "edited_message", "callback_query", "other", "unparsable" (logs, metrics).
std::string_view TelegramUpdateKindName(TelegramUpdate::Kind kind);

Result<TelegramUser> ParseTelegramUser(const nlohmann::json& j);
Result<TelegramChat> ParseTelegramChat(const nlohmann::json& j);
Result<TelegramMessage> ParseTelegramMessage(const nlohmann::json& j);
Result<TelegramCallbackQuery> ParseTelegramCallbackQuery(const nlohmann::json& j);
// One Update object. Fails (kInvalid) only when `j` is not an object or has no integer
// update_id; a broken message or callback_query gives a kUnparsable update that keeps its id,
// so the caller can still confirm or record it.
Result<TelegramUpdate> ParseTelegramUpdate(const nlohmann::json& j);
// The same from JSON text (a webhook request body); text that is not JSON is kInvalid.
Result<TelegramUpdate> ParseTelegramUpdate(std::string_view json_text);

// One inline keyboard button: exactly one of `callback_data` (1-64 bytes) and `url`.
struct InlineKeyboardButton {
  std::string text;
  std::string callback_data;
  std::string url;

  static InlineKeyboardButton Callback(std::string text, std::string data) {
    return {std::move(text), std::move(data), ""};
  }
  static InlineKeyboardButton Link(std::string text, std::string url) {
    return {std::move(text), "", std::move(url)};
  }
};

// An inline keyboard: rows of buttons, as sent in reply_markup.
struct InlineKeyboard {
  std::vector<std::vector<InlineKeyboardButton>> rows;

  // Checks what Telegram would refuse: no rows or an empty row, a button without text, a button
  // with neither or both of callback_data/url, callback_data over 64 bytes. kInvalid.
  Status Validate() const;
  // {"inline_keyboard":[[{"text":..,"callback_data":..},..],..]}.
  nlohmann::json ToJson() const;
  // Reads a reply_markup object back (tests, recordings); kInvalid when it is not an inline
  // keyboard.
  static Result<InlineKeyboard> FromJson(const nlohmann::json& j);
};

// Telegram's limit on callback_data, in bytes.
inline constexpr size_t kCallbackDataLimit = 64;

// What an inline button of the bot asks for, packed into callback_data as "<scope>:<verb>:<id>":
//   dep:c:123  confirm deposit 123      dep:r:123  reject deposit 123
//   buy:c:45   confirm purchase 45      buy:x:45   cancel purchase 45
//   adj:c:7    confirm adjustment 7     adj:x:7    cancel adjustment 7
//   bnk:p:7:123  confirm deposit 123 for bank notification 7 (bank feed)
//   bnk:i:7      ignore bank notification 7 (bank feed)
// The id is a positive decimal int64 without leading zeros or sign.
struct CallbackData {
  enum class Action {
    kConfirmDeposit,
    kRejectDeposit,
    kConfirmPurchase,
    kCancelPurchase,
    // Admin tools in chat.
    kConfirmAdjustment,
    kCancelAdjustment,
    // Bank feed: `id` is the notification.
    kPickBankMatch,
    kIgnoreBankNotice,
  };
  Action action = Action::kConfirmDeposit;
  int64_t id = 0;
  int64_t transaction_id = 0;  // kPickBankMatch only: the deposit picked

  bool operator==(const CallbackData&) const = default;
};

// "dep:c:123". `id` must be positive (asserted in debug builds; a non-positive id still
// produces a string that ParseCallbackData refuses).
std::string MakeCallbackData(CallbackData data);
// Strict inverse of MakeCallbackData: anything else (another prefix, an unknown verb, a sign,
// leading zeros, spaces, trailing bytes, an id past int64, more than 64 bytes) is kInvalid.
// The data comes from a client, so treat it as untrusted even when it parses.
Result<CallbackData> ParseCallbackData(std::string_view data);

}  // namespace depositbot
