// libFuzzer target: what Telegram (or anyone who finds the webhook) sends. The input goes
// through ParseTelegramUpdate as a webhook body, and as callback_data through ParseCallbackData.
// Properties from chat/telegram_types.h and chat/telegram_bot.h: an update's kind matches what
// it carries; a refusal says why; TelegramUpdateToJson (what the inbox stores) dumps without
// throwing and parses back to the same update; callback data that parses re-makes to the same
// bytes, and made data parses back to what made it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "chat/telegram_bot.h"
#include "chat/telegram_types.h"

#ifndef DEPOSITBOT_FUZZ_ENTRY
#define DEPOSITBOT_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

using namespace depositbot;

namespace {

void Require(bool ok) {
  if (!ok) std::abort();
}

bool SameUser(const TelegramUser& a, const TelegramUser& b) {
  return a.id == b.id && a.is_bot == b.is_bot && a.first_name == b.first_name &&
         a.last_name == b.last_name && a.username == b.username &&
         a.language_code == b.language_code;
}

// TelegramUpdateToJson keeps the fields the bot uses, not the chat's title or the edit date.
bool SameMessage(const TelegramMessage& a, const TelegramMessage& b) {
  if (a.from.has_value() != b.from.has_value()) return false;
  if (a.from && !SameUser(*a.from, *b.from)) return false;
  return a.message_id == b.message_id && a.chat.id == b.chat.id && a.chat.type == b.chat.type &&
         a.date == b.date && a.text == b.text;
}

void CheckCallbackData(std::string_view data) {
  auto parsed = ParseCallbackData(data);
  if (!parsed) {
    Require(!parsed.error().message.empty());
    return;
  }
  Require(parsed->id > 0);
  Require(MakeCallbackData(*parsed) == data);
}

void CheckUpdate(const TelegramUpdate& u) {
  using Kind = TelegramUpdate::Kind;
  switch (u.kind) {
    case Kind::kMessage:
    case Kind::kEditedMessage:
      Require(u.message && !u.callback_query);
      break;
    case Kind::kCallbackQuery:
      Require(u.callback_query && !u.message);
      CheckCallbackData(u.callback_query->data);
      break;
    case Kind::kOther:
      Require(!u.message && !u.callback_query);
      break;
    case Kind::kUnparsable:
      Require(!u.message && !u.callback_query && !u.parse_error.empty());
      break;
  }
  (void)TelegramUpdateKindName(u.kind);
  (void)ChatOf(u);

  const std::string stored = TelegramUpdateToJson(u).dump();  // as TelegramBot::Accept does
  auto again = ParseTelegramUpdate(std::string_view(stored));
  Require(static_cast<bool>(again));
  Require(again->update_id == u.update_id);
  if (u.kind == Kind::kOther || u.kind == Kind::kUnparsable) {
    Require(again->kind == Kind::kOther);  // only update_id is stored for these
    return;
  }
  Require(again->kind == u.kind);
  if (u.message) Require(SameMessage(*u.message, *again->message));
  if (u.callback_query) {
    const TelegramCallbackQuery& a = *u.callback_query;
    const TelegramCallbackQuery& b = *again->callback_query;
    Require(a.id == b.id && a.data == b.data && a.chat_instance == b.chat_instance);
    Require(SameUser(a.from, b.from));
    Require(a.message.has_value() == b.message.has_value());
    if (a.message) Require(SameMessage(*a.message, *b.message));
  }
}

}  // namespace

extern "C" int DEPOSITBOT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto u = ParseTelegramUpdate(input)) {
    CheckUpdate(*u);
  } else {
    Require(!u.error().message.empty());
  }

  CheckCallbackData(input);
  // The other direction: any action and positive id survives Make -> Parse.
  if (size >= 9) {
    uint64_t bits = 0;
    for (size_t i = 1; i < 9; ++i) bits = (bits << 8) | data[i];
    CallbackData made{static_cast<CallbackData::Action>(data[0] % 4),
                      static_cast<int64_t>(bits >> 1)};
    if (made.id == 0) made.id = 1;
    auto back = ParseCallbackData(MakeCallbackData(made));
    Require(back && *back == made);
  }
  return 0;
}
