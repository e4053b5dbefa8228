// The admins' chat commands with `depositbot serve` as a real process against the fake Telegram
// Bot API: /export as a document (sendDocument), /adjust's buttons, usernames from Telegram.
#include <doctest/doctest.h>

#include <string>

#include "tests/serve_bot.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using namespace depositbot::testing;
using std::chrono::seconds;

namespace {

// Alice's deposit of 30.00 USD, confirmed by the admin's /confirm.
void FundAlice(ServeBot& b) {
  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 30 ALICE KIM");
  b.WaitForMessage(kAlice.id, "is recorded and pending");
  b.telegram.PushMessage(kAdmin, kAdmin.id, "/confirm 1");
  b.WaitForMessage(kAlice.id, "was confirmed. Your balance is now 30.00 USD");
}

}  // namespace

TEST_CASE("an admin's /export arrives as a CSV document of the ledger") {
  ServeBot b;
  b.Start();
  FundAlice(b);
  b.telegram.PushMessage(kAdmin, kAdmin.id, "/export");
  b.WaitForMessage(kAdmin.id, "Ledger export of the whole ledger: 1 row");
  REQUIRE(b.telegram.WaitForSentDocuments(1, seconds(20)));
  FakeSentDocument doc = b.telegram.SentDocuments().at(0);
  CHECK(doc.chat_id == kAdmin.id);
  CHECK(doc.file_name.rfind("ledger-all-", 0) == 0);
  CHECK(doc.file_name.size() > 4);
  CHECK(doc.file_name.substr(doc.file_name.size() - 4) == ".csv");
  CHECK(doc.mime_type == "text/csv");
  CHECK(Contains(doc.caption, "1 row"));
  CHECK(doc.content.rfind(
            "id,created_at,decided_at,user_telegram_id,user_name,type,status,direction,amount,"
            "currency,depositor_name,reference,reason,decided_by,decided_via,requested_by\r\n",
            0) == 0);
  CHECK(Contains(doc.content,
                 ",1001,Alice,deposit,confirmed,credit,30.00,USD,ALICE KIM,,,900,,\r\n"));
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("a non-admin's admin commands are refused in Telegram and send no document") {
  ServeBot b;
  b.Start();
  for (const char* text : {"/export", "/adjust 1002 +100 mine", "/stats", "/user 900"}) {
    b.telegram.PushMessage(kBob, kBob.id, text);
  }
  auto replies = b.WaitForReplies(kBob.id, 4);
  for (const auto& r : replies) CHECK(r == "Sorry, only admins can do that.");
  CHECK(b.telegram.SentDocuments().empty());
  CHECK(b.Query("SELECT COUNT(*) FROM deposit_transactions") == 0);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("/adjust by @username moves money only when an admin presses Confirm; the user is told") {
  ServeBot b;
  b.Start();
  FundAlice(b);
  // Alice's @alice came with her messages.
  CHECK(b.Query("SELECT COUNT(*) FROM users WHERE telegram_id = 1001 AND username = 'alice'") == 1);
  b.telegram.PushMessage(kAdmin, kAdmin.id, "/adjust @alice -5.00 bank fee");
  auto offer = b.WaitForMessage(kAdmin.id, "⚖ Adjustment");
  CHECK(Contains(offer.text, "-5.00 USD"));
  REQUIRE(offer.reply_markup.is_object());
  CHECK(CallbackData(offer, 0) == "adj:c:2");
  CHECK(CallbackData(offer, 1) == "adj:x:2");
  CHECK(b.BalanceOf(kAlice.id) == 3000);

  // Bob's press (he could only forge it) is refused and changes nothing.
  b.telegram.PushCallback(kBob, offer.message_id, CallbackData(offer, 0));
  REQUIRE(b.telegram.WaitForCallbackAnswers(1, seconds(20)));
  CHECK(Contains(b.telegram.CallbackAnswers().at(0).text, "Only admins"));
  CHECK(b.BalanceOf(kAlice.id) == 3000);

  b.telegram.PushCallback(kAdmin, offer.message_id, CallbackData(offer, 0));
  b.WaitForMessage(kAlice.id, "An admin adjusted your balance by -5.00 USD (reason: bank fee)");
  CHECK(b.BalanceOf(kAlice.id) == 2500);
  REQUIRE(b.telegram.WaitForCallbackAnswers(2, seconds(20)));
  CHECK(b.telegram.CallbackAnswers().at(1).text ==
        "Adjustment #2 of -5.00 USD applied for Alice. Their balance is now 25.00 USD.");
  bool edited = false;
  for (const auto& e : b.telegram.Edits()) {
    edited |= e.message_id == offer.message_id && Contains(e.text, "Applied by Admin");
  }
  CHECK(edited);
  CHECK(b.Query("SELECT decided_by FROM deposit_transactions WHERE id = 2") == kAdmin.id);
  CHECK(b.Query("SELECT requested_by FROM deposit_transactions WHERE id = 2") == kAdmin.id);
  CHECK(b.Stop().exit_code == 0);
}
