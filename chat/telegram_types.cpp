#include "chat/telegram_types.h"

#include <cassert>
#include <limits>
#include <nlohmann/json.hpp>

namespace depositbot {
namespace {

using nlohmann::json;

// Reads an optional string field: missing or null is "", any other non-string is an error.
Status OptionalString(const json& j, const char* key, std::string& out, const char* what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) {
    return Error::Invalid(std::string(what) + "." + key + " is not a string");
  }
  out = it->get<std::string>();
  return Status::Ok();
}

Status RequiredInt(const json& j, const char* key, int64_t& out, const char* what) {
  auto it = j.find(key);
  if (it == j.end()) return Error::Invalid(std::string(what) + " has no " + key);
  if (it->is_number_unsigned()) {
    if (it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Error::Invalid(std::string(what) + "." + key + " is out of range");
    }
    out = static_cast<int64_t>(it->get<uint64_t>());
    return Status::Ok();
  }
  if (!it->is_number_integer()) {
    return Error::Invalid(std::string(what) + "." + key + " is not an integer");
  }
  out = it->get<int64_t>();
  return Status::Ok();
}

Status OptionalInt(const json& j, const char* key, int64_t& out, const char* what) {
  if (!j.contains(key) || j[key].is_null()) return Status::Ok();
  return RequiredInt(j, key, out, what);
}

bool ParseId(std::string_view digits, int64_t& out) {
  if (digits.empty() || digits.size() > 19 || digits[0] == '0') return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  out = static_cast<int64_t>(v);
  return true;
}

}  // namespace

std::string_view TelegramUpdateKindName(TelegramUpdate::Kind kind) {
  switch (kind) {
    case TelegramUpdate::Kind::kMessage:
      return "message";
    case TelegramUpdate::Kind::kEditedMessage:
      return "edited_message";
    case TelegramUpdate::Kind::kCallbackQuery:
      return "callback_query";
    case TelegramUpdate::Kind::kOther:
      return "other";
    case TelegramUpdate::Kind::kUnparsable:
      return "unparsable";
  }
  return "other";
}

Result<TelegramUser> ParseTelegramUser(const json& j) {
  if (!j.is_object()) return Error::Invalid("user is not an object");
  TelegramUser u;
  if (Status s = RequiredInt(j, "id", u.id, "user"); !s) return s.error();
  if (auto it = j.find("is_bot"); it != j.end() && it->is_boolean()) u.is_bot = it->get<bool>();
  for (auto [key, field] :
       {std::pair{"first_name", &u.first_name}, std::pair{"last_name", &u.last_name},
        std::pair{"username", &u.username}, std::pair{"language_code", &u.language_code}}) {
    if (Status s = OptionalString(j, key, *field, "user"); !s) return s.error();
  }
  return u;
}

Result<TelegramChat> ParseTelegramChat(const json& j) {
  if (!j.is_object()) return Error::Invalid("chat is not an object");
  TelegramChat c;
  if (Status s = RequiredInt(j, "id", c.id, "chat"); !s) return s.error();
  for (auto [key, field] : {std::pair{"type", &c.type}, std::pair{"title", &c.title},
                            std::pair{"username", &c.username}}) {
    if (Status s = OptionalString(j, key, *field, "chat"); !s) return s.error();
  }
  return c;
}

Result<TelegramMessage> ParseTelegramMessage(const json& j) {
  if (!j.is_object()) return Error::Invalid("message is not an object");
  TelegramMessage m;
  if (Status s = RequiredInt(j, "message_id", m.message_id, "message"); !s) return s.error();
  if (!j.contains("chat")) return Error::Invalid("message has no chat");
  auto chat = ParseTelegramChat(j["chat"]);
  if (!chat) return Error::Invalid("message." + chat.error().message);
  m.chat = std::move(*chat);
  if (j.contains("from") && !j["from"].is_null()) {
    auto from = ParseTelegramUser(j["from"]);
    if (!from) return Error::Invalid("message." + from.error().message);
    m.from = std::move(*from);
  }
  if (Status s = OptionalInt(j, "date", m.date, "message"); !s) return s.error();
  if (Status s = OptionalInt(j, "edit_date", m.edit_date, "message"); !s) return s.error();
  if (Status s = OptionalString(j, "text", m.text, "message"); !s) return s.error();
  return m;
}

Result<TelegramCallbackQuery> ParseTelegramCallbackQuery(const json& j) {
  if (!j.is_object()) return Error::Invalid("callback_query is not an object");
  TelegramCallbackQuery q;
  auto id = j.find("id");
  if (id == j.end()) return Error::Invalid("callback_query has no id");
  if (!id->is_string() || id->get<std::string>().empty()) {
    return Error::Invalid("callback_query.id is not a non-empty string");
  }
  q.id = id->get<std::string>();
  if (!j.contains("from")) return Error::Invalid("callback_query has no from");
  auto from = ParseTelegramUser(j["from"]);
  if (!from) return Error::Invalid("callback_query." + from.error().message);
  q.from = std::move(*from);
  if (j.contains("message") && !j["message"].is_null()) {
    auto m = ParseTelegramMessage(j["message"]);
    if (!m) return Error::Invalid("callback_query." + m.error().message);
    q.message = std::move(*m);
  }
  if (Status s = OptionalString(j, "data", q.data, "callback_query"); !s) return s.error();
  if (Status s = OptionalString(j, "chat_instance", q.chat_instance, "callback_query"); !s) {
    return s.error();
  }
  return q;
}

Result<TelegramUpdate> ParseTelegramUpdate(const json& j) {
  if (!j.is_object()) return Error::Invalid("update is not an object");
  TelegramUpdate u;
  if (Status s = RequiredInt(j, "update_id", u.update_id, "update"); !s) return s.error();
  auto broken = [&u](const std::string& why) {
    u.kind = TelegramUpdate::Kind::kUnparsable;
    u.message.reset();
    u.callback_query.reset();
    u.parse_error = why;
    return u;
  };
  for (auto [key, kind] : {std::pair{"message", TelegramUpdate::Kind::kMessage},
                           std::pair{"edited_message", TelegramUpdate::Kind::kEditedMessage}}) {
    if (!j.contains(key)) continue;
    auto m = ParseTelegramMessage(j[key]);
    if (!m)
      return broken(std::string("update ") + std::to_string(u.update_id) + ": " + key + ": " +
                    m.error().message);
    u.kind = kind;
    u.message = std::move(*m);
    return u;
  }
  if (j.contains("callback_query")) {
    auto q = ParseTelegramCallbackQuery(j["callback_query"]);
    if (!q) return broken("update " + std::to_string(u.update_id) + ": " + q.error().message);
    u.kind = TelegramUpdate::Kind::kCallbackQuery;
    u.callback_query = std::move(*q);
    return u;
  }
  u.kind = TelegramUpdate::Kind::kOther;
  for (const auto& [key, value] : j.items()) {
    if (key != "update_id") {
      u.other_type = key;
      break;
    }
  }
  return u;
}

Result<TelegramUpdate> ParseTelegramUpdate(std::string_view json_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error::Invalid("update is not valid JSON");
  return ParseTelegramUpdate(j);
}

Status InlineKeyboard::Validate() const {
  if (rows.empty()) return Error::Invalid("an inline keyboard needs at least one row");
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].empty())
      return Error::Invalid("inline keyboard row " + std::to_string(r) + " is empty");
    for (const InlineKeyboardButton& b : rows[r]) {
      if (b.text.empty()) return Error::Invalid("an inline keyboard button has no text");
      if (b.callback_data.empty() == b.url.empty()) {
        return Error::Invalid("button \"" + b.text +
                              "\" needs exactly one of callback_data and url");
      }
      if (b.callback_data.size() > kCallbackDataLimit) {
        return Error::Invalid("button \"" + b.text + "\" has callback_data over 64 bytes");
      }
    }
  }
  return Status::Ok();
}

json InlineKeyboard::ToJson() const {
  json out = json::array();
  for (const auto& row : rows) {
    json r = json::array();
    for (const InlineKeyboardButton& b : row) {
      json button = {{"text", b.text}};
      if (!b.callback_data.empty()) button["callback_data"] = b.callback_data;
      if (!b.url.empty()) button["url"] = b.url;
      r.push_back(std::move(button));
    }
    out.push_back(std::move(r));
  }
  return {{"inline_keyboard", std::move(out)}};
}

Result<InlineKeyboard> InlineKeyboard::FromJson(const json& j) {
  if (!j.is_object() || !j.contains("inline_keyboard") || !j["inline_keyboard"].is_array()) {
    return Error::Invalid("reply_markup is not an inline keyboard");
  }
  InlineKeyboard k;
  for (const json& row : j["inline_keyboard"]) {
    if (!row.is_array()) return Error::Invalid("an inline keyboard row is not an array");
    std::vector<InlineKeyboardButton> buttons;
    for (const json& b : row) {
      if (!b.is_object()) return Error::Invalid("an inline keyboard button is not an object");
      InlineKeyboardButton button;
      for (auto [key, field] :
           {std::pair{"text", &button.text}, std::pair{"callback_data", &button.callback_data},
            std::pair{"url", &button.url}}) {
        if (Status s = OptionalString(b, key, *field, "button"); !s) return s.error();
      }
      buttons.push_back(std::move(button));
    }
    k.rows.push_back(std::move(buttons));
  }
  return k;
}

std::string MakeCallbackData(CallbackData data) {
  assert(data.id > 0);
  const char* prefix = "dep:c:";
  switch (data.action) {
    case CallbackData::Action::kConfirmDeposit:
      prefix = "dep:c:";
      break;
    case CallbackData::Action::kRejectDeposit:
      prefix = "dep:r:";
      break;
    case CallbackData::Action::kConfirmPurchase:
      prefix = "buy:c:";
      break;
    case CallbackData::Action::kCancelPurchase:
      prefix = "buy:x:";
      break;
    // Admin tools in chat.
    case CallbackData::Action::kConfirmAdjustment:
      prefix = "adj:c:";
      break;
    case CallbackData::Action::kCancelAdjustment:
      prefix = "adj:x:";
      break;
    case CallbackData::Action::kPickBankMatch:
      return "bnk:p:" + std::to_string(data.id) + ":" + std::to_string(data.transaction_id);
    case CallbackData::Action::kIgnoreBankNotice:
      prefix = "bnk:i:";
      break;
  }
  return prefix + std::to_string(data.id);
}

Result<CallbackData> ParseCallbackData(std::string_view data) {
  if (data.size() > kCallbackDataLimit) return Error::Invalid("callback data is over 64 bytes");
  if (data.size() < 7 || data[3] != ':' || data[5] != ':') {
    return Error::Invalid("callback data is not of the form scope:verb:id");
  }
  std::string_view head = data.substr(0, 6);
  CallbackData out;
  if (head == "dep:c:") {
    out.action = CallbackData::Action::kConfirmDeposit;
  } else if (head == "dep:r:") {
    out.action = CallbackData::Action::kRejectDeposit;
  } else if (head == "buy:c:") {
    out.action = CallbackData::Action::kConfirmPurchase;
  } else if (head == "buy:x:") {
    out.action = CallbackData::Action::kCancelPurchase;
  } else if (head == "adj:c:") {  // admin tools in chat
    out.action = CallbackData::Action::kConfirmAdjustment;
  } else if (head == "adj:x:") {
    out.action = CallbackData::Action::kCancelAdjustment;
  } else if (head == "bnk:i:") {
    out.action = CallbackData::Action::kIgnoreBankNotice;
  } else if (head == "bnk:p:") {
    // Two ids: "<notification>:<deposit>".
    out.action = CallbackData::Action::kPickBankMatch;
    std::string_view ids = data.substr(6);
    const size_t colon = ids.find(':');
    if (colon == std::string_view::npos || !ParseId(ids.substr(0, colon), out.id) ||
        !ParseId(ids.substr(colon + 1), out.transaction_id)) {
      return Error::Invalid("callback data has no valid ids");
    }
    return out;
  } else {
    return Error::Invalid("unknown callback action");
  }
  if (!ParseId(data.substr(6), out.id)) {
    return Error::Invalid("callback data has no valid id");
  }
  return out;
}

}  // namespace depositbot
