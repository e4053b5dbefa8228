// serve's capacity as a real process: every conversation in flight at once, the cap that
// answers "busy" without losing anything, and per-chat order under load. Behaviour only: no
// assertion here depends on how fast anything runs.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/fakes/fake_llm_server.h"
#include "tests/serve_bot.h"

using namespace depositbot;
using namespace depositbot::testing;
using std::chrono::seconds;

namespace {

constexpr int64_t kFirstChat = 20001;
const char kBusy[] = "I am busy with many conversations right now";

struct ModelBot : ServeBot {
  FakeLlmServer llm{EchoModel()};
  ModelBot() { UseModel(llm); }
};

}  // namespace

TEST_CASE("with the defaults, 300 chats whose model calls all block are all in flight together") {
  ModelBot b;
  b.Start();
  b.llm.Hold();
  for (int c = 0; c < 300; ++c) {
    b.telegram.PushMessage(UserFor(kFirstChat + c), kFirstChat + c, "hello " + std::to_string(c));
  }
  // Every conversation reaches the model before any answer comes back: none waits for another.
  REQUIRE(b.llm.WaitForHeld(300, seconds(120)));
  CHECK(b.Metric("depositbot_in_flight") == 300);
  // They wait without a thread each: suspended turns, and at most 64 threads for the rest.
  // (The turn is counted as waiting just after its request went out: read until it is.)
  CHECK(b.WaitForMetric("depositbot_waiting_on_model", 300) == 300);
  const auto threads = b.Metric("depositbot_handler_threads");
  REQUIRE(threads);
  CHECK(*threads <= 64);
  b.llm.Release();
  REQUIRE(b.telegram.WaitForSentMessages(300, seconds(120)));
  for (int c = 0; c < 300; ++c) {
    auto texts = b.TextsTo(kFirstChat + c);
    REQUIRE(texts.size() == 1);
    CHECK(texts[0] == "echo: hello " + std::to_string(c));
  }
  CHECK_FALSE(b.Metric("depositbot_busy_total"));  // never counted: nobody was turned away
  CHECK(b.Stop().exit_code == 0);
  CHECK(b.Query("SELECT COUNT(*) FROM telegram_updates WHERE state = 'done'") == 300);
}

TEST_CASE("past MAX_IN_FLIGHT a message is answered busy, changes nothing and loses nothing") {
  ModelBot b;
  b.env["MAX_IN_FLIGHT"] = "4";
  b.Start();
  b.llm.Hold();
  for (int c = 0; c < 4; ++c) {
    b.telegram.PushMessage(UserFor(kFirstChat + c), kFirstChat + c, "first " + std::to_string(c));
  }
  REQUIRE(b.llm.WaitForHeld(4, seconds(60)));
  // The cap is reached: three more chats are told at once instead of waiting without bound.
  for (int c = 4; c < 7; ++c) {
    b.telegram.PushMessage(UserFor(kFirstChat + c), kFirstChat + c, "turned away");
  }
  REQUIRE(b.telegram.WaitForSentMessages(3, seconds(60)));
  for (int c = 4; c < 7; ++c) {
    auto texts = b.TextsTo(kFirstChat + c);
    REQUIRE(texts.size() == 1);
    CHECK(Contains(texts[0], kBusy));
    CHECK(Contains(texts[0], "Nothing was done"));
  }
  CHECK(b.Metric("depositbot_busy_total") == 3);
  CHECK(b.llm.RequestCount() == 4);  // the refused messages never reached the model

  b.llm.Release();
  REQUIRE(b.telegram.WaitForSentMessages(7, seconds(60)));
  for (int c = 0; c < 4; ++c) {
    auto texts = b.TextsTo(kFirstChat + c);
    REQUIRE(texts.size() == 1);
    CHECK(texts[0] == "echo: first " + std::to_string(c));
  }
  // With room again (a reply goes out a moment before its update leaves the in-flight count),
  // a chat that was turned away is served.
  for (int i = 0; i < 100 && b.Metric("depositbot_in_flight") != 0; ++i) {
    REQUIRE_FALSE(b.telegram.WaitForSentMessages(8, std::chrono::milliseconds(100)));
  }
  REQUIRE(b.Metric("depositbot_in_flight") == 0);
  b.telegram.PushMessage(UserFor(kFirstChat + 4), kFirstChat + 4, "again");
  b.WaitForMessage(kFirstChat + 4, "echo: again");
  CHECK(b.Stop().exit_code == 0);
  // Every update is recorded as done (the refused ones too): a restart neither runs a refused
  // message late nor tells anyone they were interrupted.
  CHECK(b.Query("SELECT COUNT(*) FROM telegram_updates WHERE state <> 'done'") == 0);
  CHECK(b.Query("SELECT COUNT(*) FROM telegram_updates") == 8);
  const size_t sent = b.telegram.SentMessages().size();
  b.Start();
  b.telegram.PushMessage(kAlice, kAlice.id, "/balance");
  b.WaitForMessage(kAlice.id, "Your balance is");
  CHECK(b.telegram.SentMessages().size() == sent + 1);
  CHECK(b.llm.RequestCount() == 5);
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("a button pressed while the bot is at capacity is answered busy and decides nothing") {
  ModelBot b;
  b.env["MAX_IN_FLIGHT"] = "1";
  b.Start();
  b.llm.Hold();
  b.telegram.PushMessage(kAlice, kAlice.id, "hello");
  REQUIRE(b.llm.WaitForHeld(1, seconds(60)));
  b.telegram.PushCallback(kAdmin, 1, "dep:c:1");
  REQUIRE(b.telegram.WaitForCallbackAnswers(1, seconds(60)));
  auto answers = b.telegram.CallbackAnswers();
  REQUIRE(answers.size() == 1);
  CHECK(Contains(answers[0].text, kBusy));
  CHECK(answers[0].show_alert);
  b.llm.Release();
  b.WaitForMessage(kAlice.id, "echo: hello");
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("under load every chat's replies come in the order of its messages") {
  ModelBot b;
  b.Start();
  constexpr int kChats = 60, kPerChat = 5;
  for (int k = 0; k < kPerChat; ++k) {
    for (int c = 0; c < kChats; ++c) {
      b.telegram.PushMessage(UserFor(kFirstChat + c), kFirstChat + c, "m" + std::to_string(k));
    }
  }
  if (!b.telegram.WaitForSentMessages(kChats * kPerChat, seconds(180))) {
    auto r = b.Stop();
    FAIL("only " << b.telegram.SentMessages().size() << " replies; serve's log:\n" << r.err);
  }
  for (int c = 0; c < kChats; ++c) {
    std::vector<std::string> expected;
    for (int k = 0; k < kPerChat; ++k) expected.push_back("echo: m" + std::to_string(k));
    CHECK(b.TextsTo(kFirstChat + c) == expected);
  }
  CHECK(b.Stop().exit_code == 0);
}

TEST_CASE("an explicit MAX_IN_FLIGHT the open-files limit cannot carry stops start-up") {
  ServeBot b;
  b.env["MAX_IN_FLIGHT"] = "1000";
  // 256 open files carry (256 - 128 reserved) / 2 = 64 updates in flight, not 1000.
  auto r = RunProcess("/bin/sh", {"-c", "ulimit -n 256 && exec \"$0\" serve", DepositbotBinary()},
                      b.env, b.dir);
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "MAX_IN_FLIGHT: 1000 needs about 2128 open files"));
  CHECK(Contains(r.err, "at most 64"));
  CHECK(b.telegram.CallCount("getUpdates") == 0);  // refused before taking any update
}

TEST_CASE("the default in-flight cap is lowered to what the open-files limit carries, and said") {
  ServeBot b;
  ChildProcess serve(
      "/bin/sh", {"-c", "ulimit -n 256 && exec \"$0\" serve --poll-timeout 1", DepositbotBinary()},
      b.env, b.dir);
  const std::string line = serve.ReadUntil("depositbot serving");
  REQUIRE_MESSAGE(!line.empty(), serve.Wait().err);
  CHECK(Contains(line, "capacity: at most 64 updates in flight"));
  serve.Signal(SIGTERM);
  auto r = serve.Wait();
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.err, "event=serve.in_flight_lowered max_in_flight=64"));
}

TEST_CASE("a chat flooding a full bot gets one busy answer at a time and does not hold up others") {
  ModelBot b;
  b.env["MAX_IN_FLIGHT"] = "1";
  b.Start();
  b.llm.Hold();
  b.telegram.PushMessage(kAlice, kAlice.id, "hello");
  REQUIRE(b.llm.WaitForHeld(1, seconds(60)));
  // Busy answers to one chat are paced at about one a second: thirty queued one per message
  // would hold every other chat's answer for half a minute. Queued ones are coalesced instead.
  for (int i = 0; i < 30; ++i) b.telegram.PushMessage(kBob, kBob.id, "flood " + std::to_string(i));
  const FakeTelegramUser carol{1003, "Carol", "", "carol", "en", false};
  b.telegram.PushMessage(carol, carol.id, "one question");
  auto carol_texts = b.WaitForReplies(carol.id, 1);
  CHECK(Contains(carol_texts[0], kBusy));
  const auto bob_texts = b.TextsTo(kBob.id);
  CHECK(bob_texts.size() >= 1);
  CHECK(bob_texts.size() < 10);
  for (const auto& t : bob_texts) CHECK(Contains(t, kBusy));
  CHECK(b.Metric("depositbot_busy_total") == 31);  // every refused message is still counted
  b.llm.Release();
  b.WaitForMessage(kAlice.id, "echo: hello");
  CHECK(b.llm.RequestCount() == 1);
  CHECK(b.Stop().exit_code == 0);
}
