#include "chat/telegram_types.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

using namespace depositbot;
using nlohmann::json;

TEST_CASE("a private text message parses with 64-bit ids and ignores unknown fields") {
  auto u = ParseTelegramUpdate(std::string_view(R"({"update_id":804211367,
    "message":{"message_id":52,
     "from":{"id":6123456789,"is_bot":false,"first_name":"Ada","last_name":"Lovelace",
             "username":"ada_l","language_code":"en","is_premium":true},
     "chat":{"id":6123456789,"first_name":"Ada","type":"private"},
     "date":1718000000,"text":"/start hello",
     "entities":[{"offset":0,"length":6,"type":"bot_command"}],"brand_new_field":{"x":1}}})"));
  REQUIRE(u);
  CHECK(u->update_id == 804211367);
  CHECK(u->kind == TelegramUpdate::Kind::kMessage);
  REQUIRE(u->message);
  CHECK(u->message->message_id == 52);
  REQUIRE(u->message->from);
  CHECK(u->message->from->id == 6123456789);
  CHECK(u->message->from->first_name == "Ada");
  CHECK(u->message->from->username == "ada_l");
  CHECK(u->message->from->language_code == "en");
  CHECK(u->message->chat.id == 6123456789);
  CHECK(u->message->chat.type == "private");
  CHECK(u->message->date == 1718000000);
  CHECK(u->message->text == "/start hello");
}

TEST_CASE("missing optional fields are fine: no from, no text, no last name") {
  auto u = ParseTelegramUpdate(json::parse(R"({"update_id":1,
    "message":{"message_id":9,"chat":{"id":-1001234567890,"type":"supergroup","title":"G"},
               "date":1,"photo":[]}})"));
  REQUIRE(u);
  CHECK(u->kind == TelegramUpdate::Kind::kMessage);
  CHECK_FALSE(u->message->from);
  CHECK(u->message->text.empty());
  CHECK(u->message->chat.id == -1001234567890);
  CHECK(u->message->chat.title == "G");
}

TEST_CASE("an edited message is parsed and marked as edited") {
  auto u = ParseTelegramUpdate(json::parse(R"({"update_id":2,"edited_message":{"message_id":52,
    "from":{"id":1,"is_bot":false,"first_name":"A"},"chat":{"id":1,"type":"private"},
    "date":1,"edit_date":90,"text":"new"}})"));
  REQUIRE(u);
  CHECK(u->kind == TelegramUpdate::Kind::kEditedMessage);
  CHECK(u->message->text == "new");
  CHECK(u->message->edit_date == 90);
}

TEST_CASE("a callback query parses its id, sender, message and data") {
  auto u = ParseTelegramUpdate(json::parse(R"({"update_id":804211369,
   "callback_query":{"id":"2633112476582991001","chat_instance":"-745","data":"dep:c:123",
    "from":{"id":6123456789,"is_bot":false,"first_name":"Ada"},
    "message":{"message_id":53,"from":{"id":7000000001,"is_bot":true,"first_name":"Demo"},
     "chat":{"id":6123456789,"first_name":"Ada","type":"private"},"date":1718000010,
     "text":"Vote?","reply_markup":{"inline_keyboard":[[{"text":"Yes","callback_data":"v"}]]}}}})"));
  REQUIRE(u);
  CHECK(u->kind == TelegramUpdate::Kind::kCallbackQuery);
  REQUIRE(u->callback_query);
  CHECK(u->callback_query->id == "2633112476582991001");
  CHECK(u->callback_query->from.id == 6123456789);
  CHECK(u->callback_query->data == "dep:c:123");
  REQUIRE(u->callback_query->message);
  CHECK(u->callback_query->message->message_id == 53);
  CHECK(u->callback_query->message->chat.id == 6123456789);
}

TEST_CASE("an unknown update type is 'other', not an error") {
  auto u = ParseTelegramUpdate(
      json::parse(R"({"update_id":5,"my_chat_member":{"chat":{"id":1,"type":"private"}}})"));
  REQUIRE(u);
  CHECK(u->kind == TelegramUpdate::Kind::kOther);
  CHECK(u->other_type == "my_chat_member");
}

TEST_CASE("a broken message keeps its update id and says what is wrong") {
  auto u = ParseTelegramUpdate(json::parse(
      R"({"update_id":7,"message":{"message_id":"x","chat":{"id":1,"type":"private"}}})"));
  REQUIRE(u);
  CHECK(u->kind == TelegramUpdate::Kind::kUnparsable);
  CHECK(u->update_id == 7);
  CHECK(u->parse_error.find("message_id") != std::string::npos);
  CHECK_FALSE(u->message);

  auto no_chat = ParseTelegramUpdate(json::parse(R"({"update_id":8,"message":{"message_id":1}})"));
  REQUIRE(no_chat);
  CHECK(no_chat->kind == TelegramUpdate::Kind::kUnparsable);
  CHECK(no_chat->parse_error.find("chat") != std::string::npos);

  auto bad_from = ParseTelegramUpdate(json::parse(
      R"({"update_id":9,"callback_query":{"id":"1","from":{"first_name":"x"},"data":"d"}})"));
  REQUIRE(bad_from);
  CHECK(bad_from->kind == TelegramUpdate::Kind::kUnparsable);
}

TEST_CASE("an update without an integer update_id, or not JSON, is an error, never a crash") {
  CHECK_FALSE(ParseTelegramUpdate(json::parse(R"({"message":{}})")));
  CHECK_FALSE(ParseTelegramUpdate(json::parse(R"({"update_id":"12"})")));
  CHECK_FALSE(ParseTelegramUpdate(json::parse(R"({"update_id":1.5})")));
  CHECK_FALSE(ParseTelegramUpdate(json::parse("[1,2]")));
  CHECK_FALSE(ParseTelegramUpdate(json::parse("null")));
  CHECK_FALSE(ParseTelegramUpdate(std::string_view("{\"update_id\":")));
  CHECK_FALSE(ParseTelegramUpdate(json::parse(R"({"update_id":18446744073709551615})")));
  auto r = ParseTelegramUpdate(std::string_view("not json"));
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
}

TEST_CASE("callback data round-trips for every action") {
  for (auto action :
       {CallbackData::Action::kConfirmDeposit, CallbackData::Action::kRejectDeposit,
        CallbackData::Action::kConfirmPurchase, CallbackData::Action::kCancelPurchase}) {
    for (int64_t id : {int64_t{1}, int64_t{123}, int64_t{9223372036854775807}}) {
      CallbackData d{action, id};
      std::string s = MakeCallbackData(d);
      CHECK(s.size() <= kCallbackDataLimit);
      auto back = ParseCallbackData(s);
      REQUIRE(back);
      CHECK(*back == d);
    }
  }
  CHECK(MakeCallbackData({CallbackData::Action::kConfirmDeposit, 123}) == "dep:c:123");
  CHECK(MakeCallbackData({CallbackData::Action::kRejectDeposit, 123}) == "dep:r:123");
  CHECK(MakeCallbackData({CallbackData::Action::kConfirmPurchase, 45}) == "buy:c:45");
  CHECK(MakeCallbackData({CallbackData::Action::kCancelPurchase, 45}) == "buy:x:45");
}

TEST_CASE("an adjustment's buttons round-trip and are not a deposit's") {
  for (auto action :
       {CallbackData::Action::kConfirmAdjustment, CallbackData::Action::kCancelAdjustment}) {
    CallbackData d{action, 7};
    auto back = ParseCallbackData(MakeCallbackData(d));
    REQUIRE(back);
    CHECK(*back == d);
  }
  CHECK(MakeCallbackData({CallbackData::Action::kConfirmAdjustment, 7}) == "adj:c:7");
  CHECK(MakeCallbackData({CallbackData::Action::kCancelAdjustment, 7}) == "adj:x:7");
  for (const char* junk : {"adj:r:7", "adj:c:0", "adj:c:", "ADJ:C:7", "adj:c:7x"}) {
    CAPTURE(junk);
    CHECK_FALSE(ParseCallbackData(junk));
  }
}

TEST_CASE("junk and oversized callback data are refused") {
  for (const char* junk :
       {"", "dep", "dep:c:", "dep:c:0", "dep:c:-1", "dep:c:+1", "dep:c:01", "dep:c:1 ", " dep:c:1",
        "dep:c:1x", "dep:x:1", "buy:r:1", "DEP:C:1", "dep:c:1:2", "vote:yes",
        "dep:c:9223372036854775808", "dep:c:99999999999999999999", "dep;c;1"}) {
    CAPTURE(junk);
    auto r = ParseCallbackData(junk);
    CHECK_FALSE(r);
  }
  std::string big = "dep:c:" + std::string(70, '1');
  auto r = ParseCallbackData(big);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("64") != std::string::npos);
}

TEST_CASE("inline keyboards serialise, read back and refuse what Telegram would") {
  InlineKeyboard k{{{InlineKeyboardButton::Callback("Confirm", "dep:c:1"),
                     InlineKeyboardButton::Callback("Reject", "dep:r:1")},
                    {InlineKeyboardButton::Link("Docs", "https://example.com")}}};
  CHECK(k.Validate());
  json j = k.ToJson();
  CHECK(j["inline_keyboard"][0][1]["callback_data"] == "dep:r:1");
  CHECK(j["inline_keyboard"][1][0]["url"] == "https://example.com");
  CHECK_FALSE(j["inline_keyboard"][1][0].contains("callback_data"));
  auto back = InlineKeyboard::FromJson(j);
  REQUIRE(back);
  CHECK(back->rows.size() == 2);
  CHECK(back->rows[0][0].text == "Confirm");

  CHECK_FALSE(InlineKeyboard{}.Validate());
  CHECK_FALSE(InlineKeyboard{{{}}}.Validate());
  CHECK_FALSE(
      InlineKeyboard{{{InlineKeyboardButton::Callback("x", std::string(65, 'a'))}}}.Validate());
  CHECK_FALSE(InlineKeyboard{{{InlineKeyboardButton{"x", "", ""}}}}.Validate());
  CHECK_FALSE(InlineKeyboard{{{InlineKeyboardButton{"", "d", ""}}}}.Validate());
  CHECK_FALSE(InlineKeyboard::FromJson(json::parse(R"({"keyboard":[]})")));
}

// Bank feed: a bank notice's buttons carry the notification and, for a pick, the deposit.
TEST_CASE("bank notice buttons round-trip with their ids and refuse anything looser") {
  using A = CallbackData::Action;
  for (int64_t id : {int64_t{1}, int64_t{9223372036854775807}}) {
    for (int64_t tx : {int64_t{2}, int64_t{9223372036854775807}}) {
      CallbackData pick{A::kPickBankMatch, id, tx};
      std::string s = MakeCallbackData(pick);
      CHECK(s.size() <= kCallbackDataLimit);
      auto back = ParseCallbackData(s);
      REQUIRE(back);
      CHECK(*back == pick);
    }
    CallbackData ignore{A::kIgnoreBankNotice, id};
    auto back = ParseCallbackData(MakeCallbackData(ignore));
    REQUIRE(back);
    CHECK(*back == ignore);
  }
  CHECK(MakeCallbackData({A::kPickBankMatch, 7, 123}) == "bnk:p:7:123");
  CHECK(MakeCallbackData({A::kIgnoreBankNotice, 7}) == "bnk:i:7");
  for (const char* junk :
       {"bnk:p:7", "bnk:p:7:", "bnk:p::3", "bnk:p:7:0", "bnk:p:0:3", "bnk:p:7:3:4", "bnk:p:7:-3",
        "bnk:p:7:03", "bnk:i:7:3", "bnk:i:0", "bnk:x:7", "bnk:p:7:9223372036854775808"}) {
    CAPTURE(junk);
    CHECK_FALSE(ParseCallbackData(junk));
  }
}
