#include "chat/telegram_client.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat/telegram_text.h"
#include "common/environment.h"
#include "tests/fakes/fake_telegram_server.h"
#include "tests/fakes/log_capture.h"
#include "tests/fakes/loopback_server.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using depositbot::testing::FakeTelegramServer;
using depositbot::testing::FakeTelegramUser;
using depositbot::testing::ScopedLogCapture;
using Fault = FakeTelegramServer::Fault;
using Kind = TelegramError::Kind;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr int64_t kNow = 1772366400000;
constexpr int64_t kChat = 6123456789;  // past 32 bits, as real ids are
const FakeTelegramUser kAda{kChat, "Ada", "Lovelace", "ada_l", "en", false};
const FakeTelegramUser kMinji{5000000002, "민지", "", "minji", "ko", false};

using depositbot::testing::Contains;

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// A fake Telegram, a fixed clock, and a client whose sleeps are recorded (and advance the
// clock) instead of slept. Pacing is off unless a test turns it on.
struct Fixture {
  FakeTelegramServer fake;
  TestEnvironment env{kNow};
  std::mutex mu;
  std::vector<std::tuple<std::string, int, int>> observed;
  std::unique_ptr<TelegramClient> client;

  Fixture() { client = Make(Config()); }

  TelegramClient::Config Config() const {
    TelegramClient::Config c;
    c.api_base = fake.url();
    c.token = fake.token();
    c.read_timeout = seconds(5);
    c.pace_sends = false;
    return c;
  }

  std::unique_ptr<TelegramClient> Make(TelegramClient::Config config) {
    auto observe = [this](std::string_view method, int status, int error_code) {
      std::lock_guard<std::mutex> lock(mu);
      observed.emplace_back(std::string(method), status, error_code);
    };
    auto r = TelegramClient::Create(std::move(config), env, observe);
    REQUIRE(r);
    return std::move(*r);
  }

  std::vector<milliseconds> Sleeps() const { return env.SleepsMillis(); }
};

}  // namespace

// ---- sendDocument (admin tools in chat: /export) ----

TEST_CASE("a document is uploaded as multipart/form-data with its name, type and caption") {
  Fixture f;
  const std::string csv = "id,amount\r\n1,\"1,234.50\"\r\n";
  auto id = f.client->SendDocument(kChat, "ledger-all.csv", csv, "text/csv", "Ledger: 1 row");
  REQUIRE(id);
  auto docs = f.fake.SentDocuments();
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].message_id == *id);
  CHECK(docs[0].chat_id == kChat);
  CHECK(docs[0].file_name == "ledger-all.csv");
  CHECK(docs[0].mime_type == "text/csv");
  CHECK(docs[0].content == csv);
  CHECK(docs[0].caption == "Ledger: 1 row");
  CHECK(f.fake.SentMessages().empty());
}

TEST_CASE("an empty, oversized or badly named document is refused before anything is sent") {
  Fixture f;
  for (auto [name, content] : std::vector<std::pair<std::string, std::string>>{
           {"empty.csv", ""},
           {"big.csv", std::string(kTelegramDocumentLimit + 1, 'x')},
           {"../escape.csv", "a"},
           {"", "a"}}) {
    CAPTURE(name);
    auto r = f.client->SendDocument(kChat, name, content, "text/csv");
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == Kind::kInvalidArgument);
  }
  CHECK(f.fake.CallCount("sendDocument") == 0);
}

TEST_CASE("a document to a chat that blocked the bot is kForbidden, and a caption is cut to 1024") {
  Fixture f;
  f.fake.BlockChat(kChat);
  auto blocked = f.client->SendDocument(kChat, "a.csv", "x", "text/csv");
  REQUIRE_FALSE(blocked);
  CHECK(blocked.error().kind == Kind::kForbidden);
  auto cut = f.client->SendDocument(kMinji.id, "a.csv", "x", "text/csv", Repeat("가", 2000));
  REQUIRE(cut);
  CHECK(Utf16Length(f.fake.SentDocuments().at(0).caption) == 1024);
}

// ---- getMe and the token ----

TEST_CASE("getMe returns the bot's own user") {
  Fixture f;
  auto me = f.client->GetMe();
  REQUIRE(me);
  CHECK(me->id == 7000000001);
  CHECK(me->is_bot);
  CHECK(me->username == "depositbot_test_bot");
}

TEST_CASE("a rejected token is reported as such without printing the token") {
  Fixture f;
  const std::string wrong = "7000000001:AAHwrongTOKENwrongTOKENwrong_123456789";
  auto config = f.Config();
  config.token = wrong;
  auto client = f.Make(config);
  auto me = client->GetMe();
  REQUIRE_FALSE(me);
  CHECK(me.error().kind == Kind::kUnauthorized);
  CHECK(me.error().http_status == 401);
  CHECK(me.error().error_code == 401);
  CHECK(me.error().description == "Unauthorized");
  CHECK(Contains(me.error().message, "rejected the bot token"));
  CHECK_FALSE(Contains(me.error().message, wrong));
  CHECK_FALSE(Contains(me.error().message, "AAHwrong"));

  config.token = "malformed-token-without-colon";
  auto malformed = f.Make(config)->GetMe();
  REQUIRE_FALSE(malformed);
  CHECK(malformed.error().kind == Kind::kUnauthorized);
  CHECK(malformed.error().http_status == 404);
  CHECK_FALSE(Contains(malformed.error().message, "malformed-token"));
}

TEST_CASE("Create refuses an empty or URL-unsafe token and a bad base URL, naming no token") {
  TelegramClient::Config c;
  c.token = "";
  CHECK_FALSE(TelegramClient::Create(c));
  c.token = "123:abc/../../secret?x";
  auto r = TelegramClient::Create(c);
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
  CHECK_FALSE(Contains(r.error().message, "secret"));
  c.token = "123:abc";
  c.api_base = "api.telegram.org";
  CHECK_FALSE(TelegramClient::Create(c));
}

TEST_CASE("the token never appears in errors or logs, even for transport failures") {
  int closed_port = 0;
  {
    httplib::Server probe;
    testing::LoopbackServer loop(probe);
    closed_port = loop.port();
  }
  const std::string token = "7000000001:AAHsuperSECRETtokenNeverPrintMe_0123";
  ScopedLogCapture capture;
  std::vector<std::string> messages;
  {
    Fixture f;
    auto config = f.Config();
    config.token = token;
    config.api_base = "http://127.0.0.1:" + std::to_string(closed_port);
    auto offline = f.Make(config);
    auto r = offline->SendMessage(kChat, "hi");
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == Kind::kTransport);
    CHECK(r.error().code == ErrorCode::kUnavailable);
    CHECK(Contains(r.error().message, "<redacted>"));
    messages.push_back(r.error().message);
    messages.push_back(r.error().description);

    config.api_base = f.fake.url();
    auto wrong = f.Make(config);
    auto me = wrong->GetMe();
    REQUIRE_FALSE(me);
    messages.push_back(me.error().message);

    f.fake.InjectFault("sendMessage", Fault::InternalError(), 3);
    auto failed = f.client->SendMessage(kChat, "hi");
    REQUIRE_FALSE(failed);
    messages.push_back(failed.error().message);
  }
  std::string logs = capture.Text();
  CHECK(Contains(logs, "telegram_call_failed"));
  CHECK_FALSE(Contains(logs, token));
  CHECK_FALSE(Contains(logs, "SECRETtoken"));
  CHECK_FALSE(Contains(logs, FakeTelegramServer::kDefaultToken));
  for (const std::string& m : messages) {
    CHECK_FALSE(Contains(m, token));
    CHECK_FALSE(Contains(m, FakeTelegramServer::kDefaultToken));
  }
}

TEST_CASE("RedactToken replaces every occurrence") {
  CHECK(RedactToken("/bot1:ab/x /bot1:ab/y", "1:ab") == "/bot<redacted>/x /bot<redacted>/y");
  CHECK(RedactToken("nothing here", "") == "nothing here");
}

// ---- long polling ----

TEST_CASE("updates stay until a later poll confirms them with its offset") {
  Fixture f;
  int64_t first = f.fake.PushMessage(kAda, kChat, "balance?");
  int64_t second = f.fake.PushMessage(kMinji, kMinji.id, "30,000 보냈어요");

  auto batch = f.client->GetUpdates(0, 0);
  REQUIRE(batch);
  REQUIRE(batch->size() == 2);
  CHECK((*batch)[0].update_id == first);
  CHECK((*batch)[0].kind == TelegramUpdate::Kind::kMessage);
  CHECK((*batch)[0].message->from->id == kChat);
  CHECK((*batch)[0].message->text == "balance?");
  CHECK((*batch)[1].message->text == "30,000 보냈어요");
  CHECK((*batch)[1].message->from->language_code == "ko");

  // Not confirmed yet: a re-poll without the offset redelivers both.
  auto again = f.client->GetUpdates(0, 0);
  REQUIRE(again);
  CHECK(again->size() == 2);
  CHECK(f.fake.PendingUpdates() == 2);

  // Confirming the first only.
  auto rest = f.client->GetUpdates(first + 1, 0);
  REQUIRE(rest);
  REQUIRE(rest->size() == 1);
  CHECK((*rest)[0].update_id == second);
  CHECK(f.fake.CurrentOffset() == first + 1);

  auto none = f.client->GetUpdates(second + 1, 0);
  REQUIRE(none);
  CHECK(none->empty());
  CHECK(f.fake.CurrentOffset() == second + 1);
  CHECK(f.fake.PendingUpdates() == 0);
}

TEST_CASE("a long poll is held until an update arrives") {
  Fixture f;
  TelegramResult<std::vector<TelegramUpdate>> got = std::vector<TelegramUpdate>{};
  std::thread poller([&] { got = f.client->GetUpdates(0, 30); });
  REQUIRE(f.fake.WaitForParkedPoll(seconds(10)));
  f.fake.PushMessage(kAda, kChat, "hello");
  poller.join();
  REQUIRE(got);
  REQUIRE(got->size() == 1);
  CHECK((*got)[0].message->text == "hello");
}

TEST_CASE("StopPolling ends a held long poll at once, without retrying, and sends no other") {
  Fixture f;
  TelegramResult<std::vector<TelegramUpdate>> got = std::vector<TelegramUpdate>{};
  std::thread poller([&] { got = f.client->GetUpdates(0, 50); });
  REQUIRE(f.fake.WaitForParkedPoll(seconds(10)));
  f.client->StopPolling();
  poller.join();  // the fake still holds the poll: only the stop can have ended it
  CHECK(f.fake.HeldRequests() == 1);
  REQUIRE_FALSE(got);
  CHECK(got.error().kind == Kind::kCancelled);
  CHECK(f.Sleeps().empty());  // no backoff, no retry
  auto again = f.client->GetUpdates(0, 50);
  REQUIRE_FALSE(again);
  CHECK(again.error().kind == Kind::kCancelled);
  CHECK(f.fake.CallCount("getUpdates") == 1);
  // The rest of the API keeps working: in-flight replies still go out after a stop.
  CHECK(f.client->SendMessage(kChat, "still here"));
}

TEST_CASE("a long poll that times out returns an empty batch") {
  Fixture f;
  auto r = f.client->GetUpdates(0, 1);
  REQUIRE(r);
  CHECK(r->empty());
  auto calls = f.fake.Calls();
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].params["timeout"] == 1);
}

TEST_CASE("every poll says which update types the bot wants") {
  Fixture f;
  REQUIRE(f.client->GetUpdates(0, 0));
  CHECK(f.fake.AllowedUpdates() ==
        std::vector<std::string>{"message", "edited_message", "callback_query"});
}

TEST_CASE("a malformed update is reported with its id and the rest of the batch parses") {
  Fixture f;
  f.fake.PushMessage(kAda, kChat, "one");
  int64_t broken = f.fake.PushRawUpdate({{"message", "not an object"}});
  int64_t bad_callback = f.fake.PushRawUpdate({{"callback_query", {{"id", 5}}}});
  int64_t other = f.fake.PushRawUpdate({{"my_chat_member", {{"x", 1}}}});
  int64_t last = f.fake.PushMessage(kAda, kChat, "two");

  auto r = f.client->GetUpdates(0, 0);
  REQUIRE(r);
  REQUIRE(r->size() == 5);
  CHECK((*r)[0].message->text == "one");
  CHECK((*r)[1].kind == TelegramUpdate::Kind::kUnparsable);
  CHECK((*r)[1].update_id == broken);
  CHECK_FALSE((*r)[1].parse_error.empty());
  CHECK((*r)[2].kind == TelegramUpdate::Kind::kUnparsable);
  CHECK((*r)[2].update_id == bad_callback);
  CHECK((*r)[3].kind == TelegramUpdate::Kind::kOther);
  CHECK((*r)[3].update_id == other);
  CHECK((*r)[4].message->text == "two");
  CHECK((*r)[4].update_id == last);

  // Confirming past the broken ones clears the queue: no endless redelivery.
  REQUIRE(f.client->GetUpdates(last + 1, 0));
  CHECK(f.fake.PendingUpdates() == 0);
}

TEST_CASE("a newer poll ends a parked one with a 409 conflict") {
  Fixture f;
  TelegramResult<std::vector<TelegramUpdate>> first = std::vector<TelegramUpdate>{};
  std::thread poller([&] { first = f.client->GetUpdates(0, 30); });
  REQUIRE(f.fake.WaitForParkedPoll(seconds(10)));
  auto second = f.client->GetUpdates(0, 0);
  poller.join();
  CHECK(second);
  REQUIRE_FALSE(first);
  CHECK(first.error().kind == Kind::kConflict);
  CHECK(first.error().http_status == 409);
  CHECK(Contains(first.error().description, "terminated by other getUpdates request"));
}

// ---- webhooks ----

TEST_CASE("setWebhook and deleteWebhook switch between webhook and polling") {
  Fixture f;
  REQUIRE(f.client->SetWebhook("https://bot.example.com/telegram/webhook", "s3cret_Token-1",
                               {"message", "callback_query"}));
  CHECK(f.fake.WebhookUrl() == "https://bot.example.com/telegram/webhook");
  CHECK(f.fake.WebhookSecret() == "s3cret_Token-1");
  auto info = f.client->GetWebhookInfo();
  REQUIRE(info);
  CHECK(info->url == "https://bot.example.com/telegram/webhook");

  auto poll = f.client->GetUpdates(0, 0);
  REQUIRE_FALSE(poll);
  CHECK(poll.error().kind == Kind::kConflict);
  CHECK(poll.error().code == ErrorCode::kConflict);

  auto bad = f.client->SetWebhook("https://bot.example.com/x", "bad secret!");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == Kind::kBadRequest);
  CHECK(Contains(bad.error().description, "secret token contains unallowed characters"));

  f.fake.PushMessage(kAda, kChat, "queued");
  REQUIRE(f.client->DeleteWebhook(/*drop_pending_updates=*/true));
  CHECK(f.fake.WebhookUrl().empty());
  CHECK(f.fake.PendingUpdates() == 0);
  CHECK(f.client->GetUpdates(0, 0));
}

TEST_CASE("the fake delivers an update to a webhook with the secret header") {
  Fixture f;
  httplib::Server bot;
  std::mutex mu;
  std::string secret_seen;
  std::string body_seen;
  bot.Post("/telegram/webhook", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    secret_seen = req.get_header_value("X-Telegram-Bot-Api-Secret-Token");
    body_seen = req.body;
    res.status = secret_seen == "s3cret" ? 200 : 401;
  });
  testing::LoopbackServer loop(bot);
  std::string url = loop.url() + "/telegram/webhook";
  REQUIRE(f.client->SetWebhook(url, "s3cret"));

  auto update = f.fake.BuildMessageUpdate(kAda, kChat, "via webhook");
  CHECK(f.fake.DeliverViaWebhook(url, "s3cret", update) == 200);
  CHECK(f.fake.DeliverViaWebhook(url, "wrong", update) == 401);
  std::lock_guard<std::mutex> lock(mu);
  auto parsed = ParseTelegramUpdate(std::string_view(body_seen));
  REQUIRE(parsed);
  CHECK(parsed->message->text == "via webhook");
  CHECK(parsed->update_id == update["update_id"].get<int64_t>());
}

// ---- sendMessage ----

TEST_CASE("sendMessage sends escaped user text inside the bot's HTML") {
  Fixture f;
  std::string text = "<b>Note</b>: " + HtmlEscape("<script> & \"KIM MINJI\"");
  auto ids = f.client->SendMessage(kChat, text);
  REQUIRE(ids);
  REQUIRE(ids->size() == 1);
  auto sent = f.fake.SentMessages();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].message_id == (*ids)[0]);
  CHECK(sent[0].chat_id == kChat);
  CHECK(sent[0].text == text);
  CHECK(sent[0].parse_mode == "HTML");
  CHECK(sent[0].reply_markup.is_null());
  CHECK(sent[0].params["link_preview_options"]["is_disabled"] == true);
}

TEST_CASE("plain text is sent as written, without parse_mode") {
  Fixture f;
  TelegramSendOptions plain;
  plain.parse_mode = TelegramParseMode::kPlain;
  REQUIRE(f.client->SendMessage(kChat, "1 < 2 & <b>not bold</b>", plain));
  auto sent = f.fake.SentMessages();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].text == "1 < 2 & <b>not bold</b>");
  CHECK(sent[0].parse_mode.empty());
}

TEST_CASE("message ids increase and the first part replies to the given message") {
  Fixture f;
  TelegramSendOptions o;
  o.reply_to_message_id = 52;
  auto a = f.client->SendMessage(kChat, Repeat("line\n", 1000), o);
  auto b = f.client->SendMessage(kChat, "next");
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(a->size() == 2);
  CHECK((*a)[0] < (*a)[1]);
  CHECK((*a)[1] < (*b)[0]);
  auto sent = f.fake.SentMessages();
  CHECK(sent[0].reply_to_message_id == 52);
  CHECK(sent[1].reply_to_message_id == 0);
}

TEST_CASE("a 5,000-character reply becomes two messages split at a line, keyboard on the last") {
  Fixture f;
  std::string text;
  for (int i = 0; text.size() < 5000; ++i) {
    text += "<b>" + std::to_string(i) + "</b> deposit <i>confirmed</i> &amp; credited\n";
  }
  TelegramSendOptions o;
  o.keyboard = InlineKeyboard{{{InlineKeyboardButton::Callback("OK", "dep:c:1")}}};
  auto ids = f.client->SendMessage(kChat, text, o);
  REQUIRE(ids);
  CHECK(ids->size() == 2);
  auto sent = f.fake.SentMessages();
  REQUIRE(sent.size() == 2);
  for (const auto& m : sent) {
    CHECK(Utf16Length(m.text) <= 4096);
    CHECK(m.parse_mode == "HTML");  // the fake checked the tags: no plain-text fallback
  }
  CHECK(sent[0].text.back() != '\n');
  CHECK(Contains(sent[0].text.substr(sent[0].text.size() - 10), "credited"));
  CHECK(sent[1].text.rfind("<b>", 0) == 0);
  CHECK(sent[0].text + "\n" + sent[1].text == text);
  CHECK(sent[0].reply_markup.is_null());
  CHECK(sent[1].reply_markup["inline_keyboard"][0][0]["callback_data"] == "dep:c:1");
  CHECK(f.fake.CallCount("sendMessage") == 2);
}

TEST_CASE("long Korean and emoji replies split between characters and Telegram accepts them") {
  Fixture f;
  std::string korean = Repeat("입금 확인이 완료되었습니다 <b>감사합니다</b>\n", 200);
  std::string emoji =
      Repeat("💸🎉👨‍👩‍👧", 800);  // 8,000+ units, no spaces or lines
  auto k = f.client->SendMessage(kChat, korean);
  auto e = f.client->SendMessage(kChat, emoji);
  REQUIRE(k);
  REQUIRE(e);
  CHECK(k->size() == 2);
  CHECK(e->size() == 3);
  std::string joined;
  for (const auto& m : f.fake.SentMessages()) {
    CHECK(Utf16Length(m.text) <= 4096);
    CHECK(m.parse_mode == "HTML");
    joined += m.text;
  }
  CHECK(Contains(joined, emoji.substr(0, 100)));
  CHECK(joined.size() == korean.size() - 1 + emoji.size());  // one line break dropped
}

TEST_CASE("an empty text or a bad keyboard is refused before anything is sent") {
  Fixture f;
  auto empty = f.client->SendMessage(kChat, "  \n");
  REQUIRE_FALSE(empty);
  CHECK(empty.error().kind == Kind::kInvalidArgument);
  CHECK(empty.error().code == ErrorCode::kInvalid);
  TelegramSendOptions o;
  o.keyboard = InlineKeyboard{{{InlineKeyboardButton::Callback("x", std::string(65, 'd'))}}};
  auto bad = f.client->SendMessage(kChat, "hi", o);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == Kind::kInvalidArgument);
  CHECK(f.fake.Calls().empty());
}

// ---- errors and retries ----

TEST_CASE("a 429 waits retry_after and delivers the message exactly once") {
  Fixture f;
  f.fake.InjectFault("sendMessage", Fault::TooManyRequests(3));
  auto ids = f.client->SendMessage(kChat, "after the flood");
  REQUIRE(ids);
  CHECK(f.Sleeps() == std::vector<milliseconds>{seconds(3)});
  CHECK(f.fake.SentMessages().size() == 1);
  CHECK(f.fake.CallCount("sendMessage") == 2);
}

TEST_CASE("a second 429 is returned with retry_after, and a long retry_after is not waited") {
  Fixture f;
  f.fake.InjectFault("sendMessage", Fault::TooManyRequests(2), 2);
  auto twice = f.client->SendMessage(kChat, "x");
  REQUIRE_FALSE(twice);
  CHECK(twice.error().kind == Kind::kRateLimited);
  CHECK(twice.error().retry_after_s == 2);
  CHECK(twice.error().error_code == 429);
  CHECK(f.fake.CallCount("sendMessage") == 2);

  f.fake.InjectFault("getMe", Fault::TooManyRequests(600));
  auto slow = f.client->GetMe();
  REQUIRE_FALSE(slow);
  CHECK(slow.error().retry_after_s == 600);
  CHECK(f.Sleeps() == std::vector<milliseconds>{seconds(2)});  // only the first case's wait
}

TEST_CASE("a 403 from a user who blocked the bot is not retried and is typed") {
  Fixture f;
  f.fake.BlockChat(kChat);
  ScopedLogCapture capture;
  auto r = f.client->SendMessage(kChat, "your deposit was confirmed");
  std::string logs = capture.Text();
  REQUIRE_FALSE(r);
  CHECK(r.error().IsBlocked());
  CHECK(r.error().kind == Kind::kForbidden);
  CHECK(r.error().code == ErrorCode::kForbidden);
  CHECK(r.error().http_status == 403);
  CHECK(r.error().error_code == 403);
  CHECK(r.error().description == "Forbidden: bot was blocked by the user");
  CHECK(TelegramErrorKindName(r.error().kind) == "forbidden");
  CHECK(f.fake.CallCount("sendMessage") == 1);
  CHECK(f.Sleeps().empty());
  CHECK(Contains(logs, "event=telegram_forbidden"));
  CHECK(Contains(logs, std::to_string(kChat)));
}

TEST_CASE("an entity error is resent once as plain text") {
  Fixture f;
  f.fake.InjectFault("sendMessage", Fault::EntityError());
  auto r = f.client->SendMessage(kChat, "<b>Balance</b>: 1 &lt; 2");
  REQUIRE(r);
  auto calls = f.fake.Calls();
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].params["parse_mode"] == "HTML");
  CHECK_FALSE(calls[1].params.contains("parse_mode"));
  auto sent = f.fake.SentMessages();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].text == "Balance: 1 < 2");

  f.fake.InjectFault("sendMessage", Fault::EntityError(), 2);
  auto twice = f.client->SendMessage(kChat, "<b>x</b>");
  REQUIRE_FALSE(twice);
  CHECK(twice.error().IsEntityParseError());
  CHECK(f.fake.CallCount("sendMessage") == 4);
}

TEST_CASE("HTML Telegram cannot parse falls back to its visible text") {
  Fixture f;
  auto r = f.client->SendMessage(kChat, "<b>unclosed and <br> unsupported");
  REQUIRE(r);
  auto sent = f.fake.SentMessages();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].text == "unclosed and  unsupported");
  CHECK(sent[0].parse_mode.empty());
}

TEST_CASE("two 500s are retried with backoff and the third attempt delivers") {
  Fixture f;
  f.fake.InjectFault("sendMessage", Fault::InternalError(), 2);
  auto r = f.client->SendMessage(kChat, "hello");
  REQUIRE(r);
  CHECK(f.fake.SentMessages().size() == 1);
  CHECK(f.fake.CallCount("sendMessage") == 3);
  CHECK(f.Sleeps() == std::vector<milliseconds>{milliseconds(500), milliseconds(1000)});
  std::lock_guard<std::mutex> lock(f.mu);
  REQUIRE(f.observed.size() == 3);
  CHECK(f.observed[0] == std::tuple<std::string, int, int>{"sendMessage", 500, 500});
  CHECK(f.observed[2] == std::tuple<std::string, int, int>{"sendMessage", 200, 0});
}

TEST_CASE("server errors give up after three attempts with Telegram's code and description") {
  Fixture f;
  f.fake.InjectFault("sendMessage", Fault::InternalError(), 3);
  auto r = f.client->SendMessage(kChat, "hello");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kServer);
  CHECK(r.error().code == ErrorCode::kUnavailable);
  CHECK(r.error().error_code == 500);
  CHECK(r.error().description == "Internal Server Error");
  CHECK(f.fake.CallCount("sendMessage") == 3);
  CHECK(f.fake.SentMessages().empty());
}

TEST_CASE("an HTML 502 page from a proxy is a retryable network error") {
  Fixture f;
  f.fake.InjectFault("getMe", Fault::BadGatewayHtml());
  CHECK(f.client->GetMe());
  CHECK(f.fake.CallCount("getMe") == 2);

  f.fake.InjectFault("getMe", Fault::BadGatewayHtml(), 3);
  auto r = f.client->GetMe();
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kServer);
  CHECK(r.error().http_status == 502);
  CHECK(Contains(r.error().description, "non-JSON"));
}

TEST_CASE("a send that times out after sending is not resent; a callback answer is") {
  Fixture f;
  auto config = f.Config();
  config.read_timeout = milliseconds(300);
  auto client = f.Make(config);
  f.fake.InjectFault("sendMessage", Fault::Hang());
  auto r = client->SendMessage(kChat, "maybe sent");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == Kind::kTransport);
  CHECK(r.error().code == ErrorCode::kUnknownOutcome);
  CHECK(f.fake.CallCount("sendMessage") == 1);

  auto pushed = f.fake.PushCallback(kAda, 1, "dep:c:1");
  f.fake.InjectFault("answerCallbackQuery", Fault::Hang());
  CHECK(client->AnswerCallbackQuery(pushed.callback_query_id));
  CHECK(f.fake.CallCount("answerCallbackQuery") == 2);
  f.fake.ReleaseHangs();
}

TEST_CASE("a failure after some parts were delivered lists the delivered ids") {
  Fixture f;
  f.fake.InjectFault("sendMessage", Fault::Pass());
  f.fake.InjectFault("sendMessage", Fault::Blocked());
  auto r = f.client->SendMessage(kChat, Repeat("word ", 1000));
  REQUIRE_FALSE(r);
  CHECK(r.error().IsBlocked());
  REQUIRE(r.error().sent_message_ids.size() == 1);
  CHECK(r.error().sent_message_ids[0] == f.fake.SentMessages()[0].message_id);
}

// ---- edits, callbacks, chat actions ----

TEST_CASE("an admin notice is edited to say who confirmed it and loses its buttons") {
  Fixture f;
  TelegramSendOptions o;
  o.keyboard = InlineKeyboard{{{InlineKeyboardButton::Callback("Confirm", "dep:c:7"),
                                InlineKeyboardButton::Callback("Reject", "dep:r:7")}}};
  auto ids = f.client->SendMessage(kChat, "Deposit #7: 30,000 from <b>KIM MINJI</b>", o);
  REQUIRE(ids);
  int64_t id = (*ids)[0];
  REQUIRE(f.client->EditMessageText(kChat, id, "Deposit #7 — confirmed by <b>Ada</b>"));
  // Repeating the same edit (a retried button press) is not an error.
  CHECK(f.client->EditMessageText(kChat, id, "Deposit #7 — confirmed by <b>Ada</b>"));
  auto edits = f.fake.Edits();
  REQUIRE(edits.size() == 1);
  CHECK(edits[0].method == "editMessageText");
  CHECK(edits[0].message_id == id);
  CHECK(edits[0].parse_mode == "HTML");
  CHECK(edits[0].reply_markup.is_null());

  auto missing = f.client->EditMessageText(kChat, 999999, "x");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == Kind::kBadRequest);
  CHECK(Contains(missing.error().description, "message to edit not found"));
  auto too_long = f.client->EditMessageText(kChat, id, std::string(5000, 'a'));
  REQUIRE_FALSE(too_long);
  CHECK(too_long.error().kind == Kind::kInvalidArgument);
}

TEST_CASE("editMessageReplyMarkup replaces and removes a keyboard") {
  Fixture f;
  auto ids = f.client->SendMessage(kChat, "Buy example.com for 12.00?");
  REQUIRE(ids);
  int64_t id = (*ids)[0];
  InlineKeyboard k{{{InlineKeyboardButton::Callback("Buy", "buy:c:45"),
                     InlineKeyboardButton::Callback("Cancel", "buy:x:45")}}};
  REQUIRE(f.client->EditMessageReplyMarkup(kChat, id, k));
  REQUIRE(f.client->EditMessageReplyMarkup(kChat, id, std::nullopt));
  CHECK(f.client->EditMessageReplyMarkup(kChat, id, std::nullopt));  // not modified: fine
  auto edits = f.fake.Edits();
  REQUIRE(edits.size() == 2);
  CHECK(edits[0].reply_markup["inline_keyboard"][0][1]["callback_data"] == "buy:x:45");
  CHECK(edits[1].reply_markup.is_null());
}

TEST_CASE("a button press arrives as a callback query and is answered once") {
  Fixture f;
  InlineKeyboard k{{{InlineKeyboardButton::Callback(
      "Confirm", MakeCallbackData({CallbackData::Action::kConfirmDeposit, 123}))}}};
  TelegramSendOptions o;
  o.keyboard = k;
  auto ids = f.client->SendMessage(kChat, "Deposit #123?", o);
  REQUIRE(ids);
  auto pushed = f.fake.PushCallback(kAda, (*ids)[0], "dep:c:123");
  auto updates = f.client->GetUpdates(0, 0);
  REQUIRE(updates);
  REQUIRE(updates->size() == 1);
  const TelegramUpdate& u = (*updates)[0];
  REQUIRE(u.kind == TelegramUpdate::Kind::kCallbackQuery);
  CHECK(u.callback_query->id == pushed.callback_query_id);
  CHECK(u.callback_query->from.id == kChat);
  CHECK(u.callback_query->message->message_id == (*ids)[0]);
  CHECK(u.callback_query->message->chat.id == kChat);
  auto data = ParseCallbackData(u.callback_query->data);
  REQUIRE(data);
  CHECK(data->action == CallbackData::Action::kConfirmDeposit);
  CHECK(data->id == 123);

  REQUIRE(f.client->AnswerCallbackQuery(u.callback_query->id, Repeat("가", 300), true));
  auto answers = f.fake.CallbackAnswers();
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].show_alert);
  CHECK(Utf16Length(answers[0].text) == 200);
  auto again = f.client->AnswerCallbackQuery(u.callback_query->id, "again");
  REQUIRE_FALSE(again);
  CHECK(Contains(again.error().description, "query is too old"));
}

TEST_CASE("sendChatAction shows typing") {
  Fixture f;
  REQUIRE(f.client->SendChatAction(kChat));
  auto bad = f.client->SendChatAction(kChat, "dancing");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == Kind::kBadRequest);
  auto actions = f.fake.ChatActions();
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].chat_id == kChat);
  CHECK(actions[0].action == "typing");
}

// ---- pacing and threads ----

TEST_CASE("the pacer spaces one chat's messages a second apart") {
  FixedClock clock(kNow);
  TelegramPacer pacer({}, clock);
  CHECK(pacer.Reserve(1) == milliseconds(0));
  CHECK(pacer.Reserve(1) == milliseconds(1000));
  CHECK(pacer.Reserve(1) == milliseconds(2000));
  clock.Advance(5000);
  CHECK(pacer.Reserve(1) == milliseconds(0));
  clock.Advance(400);
  CHECK(pacer.Reserve(1) == milliseconds(600));
}

TEST_CASE("the pacer lets different chats go at once up to the global limit") {
  FixedClock clock(kNow);
  TelegramPacer pacer({}, clock);
  CHECK(pacer.Reserve(1) == milliseconds(0));
  CHECK(pacer.Reserve(1) == milliseconds(1000));  // chat 1 waits; others are not held back
  for (int64_t chat = 2; chat <= 30; ++chat) CHECK(pacer.Reserve(chat) == milliseconds(0));
  // 30 sends booked now: the 31st waits until the window of the first has passed.
  CHECK(pacer.Reserve(100) == milliseconds(1000));
  clock.Advance(1000);
  CHECK(pacer.Reserve(101) == milliseconds(0));  // two booked in this window: room for more
}

TEST_CASE("the client paces sends to one chat but not to others") {
  Fixture f;
  auto config = f.Config();
  config.pace_sends = true;
  auto client = f.Make(config);
  REQUIRE(client->SendMessage(1001, "a"));
  REQUIRE(client->SendMessage(1002, "b"));
  REQUIRE(client->SendMessage(1003, "c"));
  CHECK(f.Sleeps().empty());
  REQUIRE(client->SendMessage(1001, "again"));
  CHECK(f.Sleeps() == std::vector<milliseconds>{milliseconds(1000)});
  REQUIRE(client->SendMessage(1002, "b2"));  // the clock moved 1 s: chat 1002 is free again
  CHECK(f.Sleeps().size() == 1);
}

TEST_CASE("several threads can send at once") {
  Fixture f;
  constexpr int kThreads = 4;
  constexpr int kEach = 5;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!f.client->SendMessage(2000 + t, "msg " + std::to_string(i))) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  REQUIRE(f.fake.WaitForSentMessages(kThreads * kEach, seconds(5)));
  std::set<int64_t> ids;
  for (const auto& m : f.fake.SentMessages()) ids.insert(m.message_id);
  CHECK(ids.size() == kThreads * kEach);
}
