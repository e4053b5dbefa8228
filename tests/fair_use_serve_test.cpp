// Fair use with `depositbot serve` as a real process, against the fake Telegram Bot API and the
// fake model server on loopback: the per-user rate limit and the daily model-token budget
// refuse with when to try again, a refused message reaches no model, commands still work over
// the budget, admins are limited by neither, and /metrics counts it all. Allowing again on the
// next UTC day needs a clock this process test cannot move: tests/fair_use_test.cpp pins it.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "tests/serve_bot.h"

using namespace depositbot;
using namespace depositbot::testing;
using std::chrono::seconds;

namespace {

const FakeTelegramUser kCarol{1003, "Carol", "", "carol", "en", false};

constexpr const char* kRateRefusal = "You are sending messages faster than I can answer.";
constexpr const char* kBudgetRefusal =
    "You have used today's model allowance; it resets at 00:00 UTC, in ";

// serve with a model that answers every message "Noted." at 60 tokens a call.
struct LimitedBot : ServeBot {
  FakeLlmServer llm{[] {
    FakeLlmServer::Options o;
    o.default_reply = FakeLlmReply::Text("Noted.").WithUsage(40, 20);
    return o;
  }()};

  explicit LimitedBot(const std::map<std::string, std::string>& limits) {
    UseModel(llm);
    env.insert(limits.begin(), limits.end());
  }

  int64_t TokensOf(int64_t telegram_id) {
    return Query(
        "SELECT COALESCE(SUM(m.tokens), 0) FROM model_usage m JOIN users u ON u.id = m.user_id "
        "WHERE u.telegram_id = " +
        std::to_string(telegram_id));
  }
};

}  // namespace

TEST_CASE(
    "serve refuses a burst past the rate and a spent budget with when to try again, "
    "answers commands over budget, and limits no admin") {
  // One message a minute after a burst of three; 50 tokens a day, and every model call costs 60.
  LimitedBot b({{"USER_MESSAGES_PER_MINUTE", "1"},
                {"USER_MESSAGE_BURST", "3"},
                {"USER_DAILY_MODEL_TOKENS", "50"}});
  b.Start();
  // Delivered together; one chat's messages are handled in order.
  b.telegram.PushMessage(kBob, kBob.id, "hello");              // the model: 60 tokens
  b.telegram.PushMessage(kBob, kBob.id, "and another thing");  // over budget
  b.telegram.PushMessage(kBob, kBob.id, "/balance");           // a command: no tokens
  b.telegram.PushMessage(kBob, kBob.id, "are you there?");     // past the burst
  for (int i = 0; i < 5; ++i) b.telegram.PushMessage(kAdmin, kAdmin.id, "admin question");

  auto bob = b.WaitForReplies(kBob.id, 4);
  auto admin = b.WaitForReplies(kAdmin.id, 5);
  REQUIRE(bob.size() == 4);
  CHECK(bob[0] == "Noted.");
  CHECK(bob[1].rfind(kBudgetRefusal, 0) == 0);
  CHECK(Contains(bob[1], "/balance and other commands still work."));
  CHECK(std::regex_search(bob[1], std::regex("in ([0-9]+ h )?[0-9]+ min\\.|in [0-9]+ h\\.")));
  CHECK(Contains(bob[2], "Your balance is 0.00 USD."));
  CHECK(bob[3].rfind(kRateRefusal, 0) == 0);
  std::smatch wait;
  REQUIRE(std::regex_search(bob[3], wait, std::regex("Please wait ([0-9]+) seconds? and send it")));
  CHECK(std::stoi(wait[1].str()) >= 1);
  CHECK(std::stoi(wait[1].str()) <= 60);
  for (const auto& text : admin) CHECK(text == "Noted.");

  // Bob's one model call and the admin's five: no refused message reached the model.
  CHECK(b.llm.RequestCount() == 6);
  std::string metrics = b.Metrics();
  CHECK(Contains(metrics, "depositbot_rate_limited_total 1\n"));
  CHECK(Contains(metrics, "depositbot_budget_refusals_total 1\n"));
  CHECK(Contains(metrics, "depositbot_model_tokens_total 360\n"));
  b.proc->Signal(SIGTERM);
  CHECK(b.proc->Wait().exit_code == 0);

  CHECK(b.TokensOf(kBob.id) == 60);
  CHECK(b.TokensOf(kAdmin.id) == 300);
  // Refused messages are not in the history.
  CHECK(b.Query("SELECT COUNT(*) FROM conversation_messages WHERE content IN "
                "('and another thing', 'are you there?')") == 0);
  CHECK(b.Query("SELECT COUNT(*) FROM conversation_messages WHERE content = 'hello'") == 1);
}

TEST_CASE("serve answers a rate-limited user again once the bucket has refilled") {
  // One message a second, no burst beyond it. Each message is sent once the previous one was
  // answered: the first that follows an answer within the second is refused, and sending on
  // after refusals is answered by the model again, without a refused one reaching it.
  LimitedBot b({{"USER_MESSAGES_PER_MINUTE", "60"}, {"USER_MESSAGE_BURST", "1"}});
  b.Start();
  size_t sent = 0, answered = 0, refused = 0;
  bool answered_after_refusal = false;
  while (sent < 2000 && !answered_after_refusal) {
    b.telegram.PushMessage(kCarol, kCarol.id, "message " + std::to_string(sent));
    ++sent;
    auto replies = b.WaitForReplies(kCarol.id, sent);
    REQUIRE(replies.size() == sent);
    if (replies.back() == "Noted.") {
      ++answered;
      answered_after_refusal = refused > 0;
    } else {
      REQUIRE(replies.back().rfind(kRateRefusal, 0) == 0);
      CHECK(Contains(replies.back(), "Please wait 1 second and send it again."));
      ++refused;
    }
  }
  CHECK(refused >= 1);
  CHECK(answered_after_refusal);
  CHECK(b.llm.RequestCount() == answered);
  b.proc->Signal(SIGTERM);
  CHECK(b.proc->Wait().exit_code == 0);
}
