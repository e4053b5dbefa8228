// The bank feed end to end: `depositbot serve` as a real process receives signed bank-transfer
// notifications on POST /deposits/notify, against the fake Telegram Bot API.
#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>

#include "chat/bank_notify_signature.h"
#include "tests/serve_bot.h"

using namespace depositbot;
using namespace depositbot::testing;
using nlohmann::json;
using std::chrono::seconds;

namespace {

const std::string kSecret = "bank-feed-secret-0123456789abcdef";

struct Reply {
  int status = 0;
  json body;
};

struct BankBot : ServeBot {
  BankBot() { env["BANK_NOTIFY_SECRET"] = kSecret; }

  Reply Post(const std::string& body, const std::string& signature) {
    httplib::Client http("127.0.0.1", http_port);
    httplib::Headers headers;
    if (!signature.empty()) headers.emplace(std::string(kBankSignatureHeader), signature);
    auto r = http.Post("/deposits/notify", headers, body, "application/json");
    REQUIRE(r);
    Reply out;
    out.status = r->status;
    out.body = json::parse(r->body, nullptr, false);
    return out;
  }
  Reply Notify(const json& notice, int64_t at = std::time(nullptr),
               const std::string& secret = kSecret) {
    const std::string body = notice.dump();
    return Post(body, SignBankNotification(secret, at, body));
  }
  // Waits (up to 20 s) until `sql` counts at least `n`: the bot records an admin's copy of a
  // request just after Telegram accepted it, so a test must not race that write.
  void WaitForCount(const std::string& sql, int64_t n) {
    for (int i = 0; i < 1000; ++i) {
      if (Query(sql) >= n) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL("never reached " << n << ": " << sql);
  }
  std::string Ledger() {
    auto d = Database::Open(db);
    REQUIRE(d);
    return JoinedRows(**d,
                      "SELECT id || ':' || status || ':' || COALESCE(reference, '') AS x FROM "
                      "deposit_transactions");
  }
};

json Notice(const std::string& amount, const std::string& name, const std::string& reference) {
  return {
      {"amount", amount}, {"currency", "USD"}, {"depositor_name", name}, {"reference", reference}};
}

// The callback data of the button in `row` (one button a row in a bank notice).
std::string RowData(const FakeSentMessage& m, size_t row) {
  return m.reply_markup["inline_keyboard"][row][0]["callback_data"].get<std::string>();
}

}  // namespace

TEST_CASE("a signed notification confirms the one matching deposit; user told, admin copy edited") {
  BankBot b;
  b.Start();
  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 30 ALICE KIM");
  auto request = b.WaitForMessage(kAdmin.id, "New deposit request");
  b.WaitForCount("SELECT COUNT(*) FROM deposit_notifications", 1);
  auto r = b.Notify(Notice("30.00", "alice  kim", "B-1"));
  CHECK(r.status == 200);
  CHECK(r.body["outcome"] == "matched");
  CHECK(r.body["transaction_id"] == 1);
  b.WaitForMessage(kAlice.id, "the bank transfer arrived. Your balance is now 30.00 USD");
  REQUIRE(b.telegram.WaitForEdits(1, seconds(20)));
  auto edit = b.telegram.Edits().at(0);
  CHECK(edit.message_id == request.message_id);
  CHECK(Contains(edit.text, "Confirmed by the bank feed"));
  CHECK_FALSE(Contains(edit.text, "Admin"));
  CHECK(b.BalanceOf(kAlice.id) == 3000);
  CHECK(b.Query("SELECT COUNT(*) FROM deposit_transactions WHERE decided_via = 'bank-feed' AND "
                "decided_by IS NULL AND reference = 'bank:B-1'") == 1);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("a wrong signature, a stale timestamp and a replayed reference change nothing") {
  BankBot b;
  b.Start();
  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 30 ALICE");
  b.WaitForMessage(kAdmin.id, "New deposit request");
  const std::string before = b.Ledger();
  const json notice = Notice("30", "ALICE", "B-2");
  const std::string body = notice.dump();
  const int64_t now = std::time(nullptr);
  CHECK(b.Post(body, "").status == 401);
  CHECK(b.Post(body, "t=" + std::to_string(now) + ",v1=" + std::string(64, '0')).status == 401);
  CHECK(b.Post(body, SignBankNotification(std::string(40, 'w'), now, body)).status == 401);
  CHECK(b.Post(body, "garbage").status == 401);
  CHECK(b.Notify(notice, now - 3600).status == 401);  // an old notice replayed
  CHECK(b.Notify(notice, now + 3600).status == 401);
  // The signature covers the body: a signed body with a changed amount is refused.
  const std::string signature = SignBankNotification(kSecret, now, body);
  CHECK(b.Post(Notice("3000", "ALICE", "B-2").dump(), signature).status == 401);
  CHECK(b.Ledger() == before);
  CHECK(b.Query("SELECT COUNT(*) FROM bank_notifications") == 0);
  CHECK(b.BalanceOf(kAlice.id) == 0);

  auto first = b.Notify(notice);
  CHECK(first.status == 200);
  CHECK(first.body["outcome"] == "matched");
  const std::string after = b.Ledger();
  auto replay = b.Notify(notice);
  CHECK(replay.status == 200);
  CHECK(replay.body["outcome"] == "duplicate");
  // The same reference for another transfer: still nothing, and the admins hear of it.
  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 50 ALICE");
  b.WaitForMessage(kAlice.id, "Deposit #2 of 50.00 USD");
  auto reused = b.Notify(Notice("50", "ALICE", "B-2"));
  CHECK(reused.status == 200);
  CHECK(reused.body["outcome"] == "duplicate");
  b.WaitForMessage(kAdmin.id, "other details");
  CHECK(b.BalanceOf(kAlice.id) == 3000);
  CHECK(b.Query("SELECT COUNT(*) FROM deposit_transactions WHERE status = 'confirmed'") == 1);
  CHECK(b.Query("SELECT COUNT(*) FROM bank_notifications") == 1);
  CHECK(b.Stop().exit_code == 0);
  (void)after;
}

TEST_CASE("two matching candidates go to the admins and a pick confirms the chosen one") {
  BankBot b;
  b.Start();
  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 30 KIM MINJI");
  b.WaitForMessage(kAdmin.id, "#1");
  b.telegram.PushMessage(kBob, kBob.id, "/deposit 30 kim min-ji");
  b.WaitForMessage(kAdmin.id, "#2");
  auto r = b.Notify(Notice("30", "KIM MINJI", "B-3"));
  CHECK(r.status == 200);
  CHECK(r.body["outcome"] == "needs_admin");
  CHECK(r.body["state"] == "ambiguous");
  auto offer = b.WaitForMessage(kAdmin.id, "Bank transfer");
  CHECK(Contains(offer.text, "several pending deposits match"));
  REQUIRE(offer.reply_markup["inline_keyboard"].size() == 3);  // #1, #2, Ignore
  CHECK(RowData(offer, 1) == "bnk:p:1:2");
  // A non-admin's press is refused.
  b.telegram.PushCallback(kBob, offer.message_id, RowData(offer, 1));
  REQUIRE(b.telegram.WaitForCallbackAnswers(1, seconds(20)));
  CHECK(Contains(b.telegram.CallbackAnswers().at(0).text, "Only admins"));
  CHECK(b.BalanceOf(kBob.id) == 0);
  b.telegram.PushCallback(kAdmin, offer.message_id, RowData(offer, 1));
  b.WaitForMessage(kBob.id, "was confirmed: the bank transfer arrived");
  CHECK(b.BalanceOf(kBob.id) == 3000);
  CHECK(b.BalanceOf(kAlice.id) == 0);
  REQUIRE(b.telegram.WaitForCallbackAnswers(2, seconds(20)));
  CHECK(Contains(b.telegram.CallbackAnswers().at(1).text, "Deposit #2 of 30.00 USD confirmed"));
  // The offer and Bob's request are edited.
  bool offer_edited = false;
  for (size_t n = 1; n <= 2 && !offer_edited; ++n) {
    REQUIRE(b.telegram.WaitForEdits(n, seconds(20)));
    for (const auto& e : b.telegram.Edits()) {
      offer_edited =
          offer_edited || (e.message_id == offer.message_id &&
                           Contains(e.text, "Deposit #2 of 30.00 USD confirmed by Admin"));
    }
  }
  CHECK(offer_edited);
  // A second press (of the other candidate) changes nothing and says why.
  b.telegram.PushCallback(kAdmin, offer.message_id, RowData(offer, 0));
  REQUIRE(b.telegram.WaitForCallbackAnswers(3, seconds(20)));
  CHECK(Contains(b.telegram.CallbackAnswers().at(2).text, "already matched"));
  CHECK(b.BalanceOf(kAlice.id) == 0);
  CHECK(b.Query("SELECT decided_by FROM deposit_transactions WHERE id = 2") == kAdmin.id);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("a notification before the request is kept and matched when the request comes") {
  BankBot b;
  b.Start();
  auto r = b.Notify(Notice("30", "ALICE KIM", "B-4"));
  CHECK(r.status == 200);
  CHECK(r.body["outcome"] == "needs_admin");
  CHECK(r.body["state"] == "unmatched");
  auto offer = b.WaitForMessage(kAdmin.id, "Bank transfer");
  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 30 Alice Kim");
  b.WaitForMessage(kAlice.id, "was confirmed at once: the bank transfer had already arrived");
  CHECK(b.BalanceOf(kAlice.id) == 3000);
  b.WaitForMessage(kAdmin.id, "Confirmed by the bank feed");
  bool offer_edited = false;
  REQUIRE(b.telegram.WaitForEdits(1, seconds(20)));
  for (const auto& e : b.telegram.Edits()) {
    offer_edited = offer_edited || (e.message_id == offer.message_id &&
                                    Contains(e.text, "confirmed by the bank feed"));
  }
  CHECK(offer_edited);
  CHECK(b.Query("SELECT COUNT(*) FROM bank_notifications WHERE state = 'matched' AND "
                "transaction_id = 1") == 1);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("two serves receiving the same notice at the same moment confirm the deposit once") {
  BankBot b;
  b.Start();
  // A second instance on the same books and bot (it stands by for the long poll).
  auto second = std::make_unique<ChildProcess>(
      DepositbotBinary(), std::vector<std::string>{"serve", "--poll-timeout", "1"}, b.env, b.dir);
  std::string line = second->ReadUntil("depositbot serving");
  REQUIRE_MESSAGE(!line.empty(), second->Wait().err);
  std::smatch m;
  REQUIRE(std::regex_search(line, m, std::regex("http port ([0-9]+)")));
  const int second_port = std::stoi(m[1].str());

  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 30 ALICE KIM");
  b.WaitForMessage(kAdmin.id, "New deposit request");
  const std::string body = Notice("30", "ALICE KIM", "B-TWICE").dump();
  const std::string signature = SignBankNotification(kSecret, std::time(nullptr), body);
  std::atomic<int> ready{0};
  int status[2] = {0, 0};
  std::string answer[2];
  auto post = [&](int i, int port) {
    httplib::Client http("127.0.0.1", port);
    httplib::Headers headers{{std::string(kBankSignatureHeader), signature}};
    ++ready;
    while (ready < 2) std::this_thread::yield();
    if (auto r = http.Post("/deposits/notify", headers, body, "application/json")) {
      status[i] = r->status;
      answer[i] = r->body;
    }
  };
  std::thread one(post, 0, b.http_port), two(post, 1, second_port);
  one.join();
  two.join();
  CHECK(status[0] == 200);
  CHECK(status[1] == 200);
  CHECK(Contains(answer[0] + answer[1], "\"outcome\":\"matched\""));
  CHECK(Contains(answer[0] + answer[1], "\"outcome\":\"duplicate\""));
  b.WaitForMessage(kAlice.id, "the bank transfer arrived");
  CHECK(b.BalanceOf(kAlice.id) == 3000);
  CHECK(b.Query("SELECT COUNT(*) FROM bank_notifications") == 1);
  CHECK(b.Query("SELECT COUNT(*) FROM deposit_transactions WHERE status = 'confirmed'") == 1);
  second->Signal(SIGTERM);
  CHECK(second->Wait().exit_code == 0);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("without a secret the endpoint is off; a huge or ill-formed body is refused") {
  {
    ServeBot off;
    off.Start();
    httplib::Client http("127.0.0.1", off.http_port);
    auto r = http.Post("/deposits/notify", "{}", "application/json");
    REQUIRE(r);
    CHECK(r->status == 404);
    CHECK(off.Stop().exit_code == 0);
  }
  BankBot b;
  b.Start();
  const std::string huge = "{\"pad\":\"" + std::string(20000, 'x') + "\"}";
  CHECK(b.Post(huge, SignBankNotification(kSecret, std::time(nullptr), huge)).status == 413);
  auto negative = b.Notify(Notice("-30", "ALICE", "B-5"));
  CHECK(negative.status == 400);
  CHECK(Contains(negative.body["error"].get<std::string>(), "amount"));
  CHECK(b.Notify(Notice("1e5", "ALICE", "B-5")).status == 400);
  CHECK(b.Notify(json{{"amount", "5"}}).status == 400);
  CHECK(b.Query("SELECT COUNT(*) FROM bank_notifications") == 0);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("a secret shorter than 32 characters stops start-up") {
  BankBot b;
  b.env["BANK_NOTIFY_SECRET"] = "short";
  auto r = RunProcess(DepositbotBinary(), {"config"}, b.env, b.dir);
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "BANK_NOTIFY_SECRET"));
  CHECK_FALSE(Contains(r.err + r.out, "short\""));
}

TEST_CASE("notify-test sends a signed sample that a running serve accepts") {
  BankBot b;
  b.Start();
  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 12.50 ALICE KIM");
  b.WaitForMessage(kAdmin.id, "New deposit request");
  auto env = b.env;
  env["HTTP_LISTEN"] = "127.0.0.1:" + std::to_string(b.http_port);
  auto ok =
      RunProcess(DepositbotBinary(),
                 {"notify-test", "--amount", "12.50", "--name", "Alice Kim", "--reference", "NT-1"},
                 env, b.dir);
  CHECK(ok.exit_code == 0);
  CHECK(Contains(ok.out, "200"));
  CHECK(Contains(ok.out, "\"outcome\":\"matched\""));
  b.WaitForMessage(kAlice.id, "the bank transfer arrived");
  CHECK(b.BalanceOf(kAlice.id) == 1250);
  // Signed with another secret: 401, exit 1.
  env["BANK_NOTIFY_SECRET"] = std::string(40, 'z');
  auto wrong = RunProcess(DepositbotBinary(), {"notify-test", "--reference", "NT-2"}, env, b.dir);
  CHECK(wrong.exit_code == 1);
  CHECK(Contains(wrong.out, "401"));
  // Without a secret it refuses to send.
  env.erase("BANK_NOTIFY_SECRET");
  auto none = RunProcess(DepositbotBinary(), {"notify-test"}, env, b.dir);
  CHECK(none.exit_code == 2);
  CHECK(Contains(none.err, "BANK_NOTIFY_SECRET"));
  CHECK(b.Query("SELECT COUNT(*) FROM bank_notifications") == 1);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("serve --record writes bank notices and their picks as a session that replays") {
  BankBot b;
  std::string rec = b.dir + "/recordings";
  REQUIRE(std::system(("mkdir -p " + rec).c_str()) == 0);
  b.Start({"--record", rec});
  b.telegram.PushMessage(kAlice, kAlice.id, "/deposit 30 KIM MINJI");
  b.WaitForMessage(kAdmin.id, "#1");
  b.telegram.PushMessage(kBob, kBob.id, "/deposit 30 KIM MINJI");
  b.WaitForMessage(kAdmin.id, "#2");
  CHECK(b.Notify(Notice("30", "KIM MINJI", "REC-1")).body["outcome"] == "needs_admin");
  auto offer = b.WaitForMessage(kAdmin.id, "Bank transfer");
  b.telegram.PushCallback(kAdmin, offer.message_id, RowData(offer, 0));
  b.WaitForMessage(kAlice.id, "the bank transfer arrived");
  CHECK(b.Notify(Notice("20", "BOB LEE", "REC-2")).body["outcome"] == "needs_admin");
  b.telegram.PushMessage(kBob, kBob.id, "/deposit 20 Bob Lee");
  b.WaitForMessage(kBob.id, "confirmed at once");
  REQUIRE(b.Stop().exit_code == 0);
  auto replay = RunProcess(DepositbotBinary(), {"replay", rec}, {}, b.dir);
  CAPTURE(replay.out);
  CHECK(replay.exit_code == 0);
  CHECK(Contains(replay.out, "1 passed, 0 failed"));
  auto listing = RunProcess("/bin/sh", {"-c", "cat " + rec + "/*.json"}, {}, b.dir);
  CHECK(Contains(listing.out, "\"bank_notification\""));
  CHECK(Contains(listing.out, "\"pick_bank_match\""));
}
