// `depositbot serve` as a real process for end-to-end suites: a fresh folder and database, the
// fake Telegram Bot API on loopback, and helpers to wait for what the bot sent.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "db/database.h"
#include "tests/fakes/fake_llm_server.h"
#include "tests/fakes/fake_telegram_server.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/process_runner.h"
#include "tests/test_helpers.h"

namespace depositbot::testing {

// Users the suites share; kAdmin is in ADMIN_IDS.
const FakeTelegramUser kAlice{1001, "Alice", "", "alice", "en", false};
const FakeTelegramUser kBob{1002, "Bob", "", "bob", "en", false};
const FakeTelegramUser kAdmin{900, "Admin", "", "admin", "en", false};

// A Telegram user whose id is also their private chat's.
inline FakeTelegramUser UserFor(int64_t id) {
  return FakeTelegramUser{id, "User" + std::to_string(id), "", "", "en", false};
}

// The first message `telegram` was sent for `chat` containing `part`, waiting for it (a failure
// after 20 s without a new message).
inline FakeSentMessage WaitForMessageTo(FakeTelegramServer& telegram, int64_t chat,
                                        const std::string& part) {
  for (size_t n = 1; n < 1000; ++n) {
    if (!telegram.WaitForSentMessages(n, std::chrono::seconds(20))) break;
    for (const auto& m : telegram.SentMessages()) {
      if (m.chat_id == chat && Contains(m.text, part)) return m;
    }
  }
  FAIL("no message to chat " << chat << " containing \"" << part << "\"");
  return {};
}

// Starts serve with Start(); env may be changed before. Stop() sends SIGTERM and waits.
struct ServeBot {
  FakeTelegramServer telegram;
  // The books: a file in `dir`, or in a suite's `_pg` run a fresh PostgreSQL database (TestDb).
  // Left without tables and closed: serve (or `depositbot migrate`) migrates it.
  TestDb books{TestDb::kFile, /*migrate=*/false};
  std::string dir = books.dir();
  std::string db = books.path();
  std::map<std::string, std::string> env;
  std::unique_ptr<ChildProcess> proc;
  int http_port = 0;
  std::string poll_timeout = "1";  // seconds; Telegram's own is 25

  ServeBot() {
    books.Close();
    env = {{"TELEGRAM_BOT_TOKEN", telegram.token()},
           {"TELEGRAM_API_BASE", telegram.url()},
           {"ADMIN_IDS", std::to_string(kAdmin.id)},
           {"HTTP_LISTEN", "127.0.0.1:0"},
           {"DEPOSITBOT_DB", db},
           {"RECONCILE_INTERVAL_SECONDS", "0"}};
  }

  void Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"serve", "--poll-timeout", poll_timeout};
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<ChildProcess>(DepositbotBinary(), args, env, dir);
    std::string line = proc->ReadUntil("depositbot serving");
    REQUIRE_MESSAGE(!line.empty(), proc->Wait().err);
    std::smatch m;
    REQUIRE(std::regex_search(line, m, std::regex("http port ([0-9]+)")));
    http_port = std::stoi(m[1].str());
  }

  ProcessResult Stop() {
    proc->Signal(SIGTERM);
    return proc->Wait();
  }

  // The first message sent to `chat` containing `part`, waiting for it.
  FakeSentMessage WaitForMessage(int64_t chat, const std::string& part) {
    return WaitForMessageTo(telegram, chat, part);
  }

  int Count(int64_t chat, const std::string& part) {
    int n = 0;
    for (const auto& m : telegram.SentMessages()) n += m.chat_id == chat && Contains(m.text, part);
    return n;
  }

  // The model of this serve: the fake model server's URL with a key.
  void UseModel(const FakeLlmServer& llm) {
    env["LLM_BASE_URL"] = llm.url();
    env["LLM_API_KEY"] = "sk-test";
  }

  // The texts sent to `chat` so far, in the order the fake received them.
  std::vector<std::string> TextsTo(int64_t chat) const {
    std::vector<std::string> texts;
    for (const auto& m : telegram.SentMessages()) {
      if (m.chat_id == chat) texts.push_back(m.text);
    }
    return texts;
  }

  // The texts sent to `chat`, in order, once there are at least `n` of them.
  std::vector<std::string> WaitForReplies(int64_t chat, size_t n) {
    std::vector<std::string> texts;
    while (true) {
      const size_t all = telegram.SentMessages().size();
      texts = TextsTo(chat);
      if (texts.size() >= n) return texts;
      if (!telegram.WaitForSentMessages(all + 1, std::chrono::seconds(20))) break;
    }
    FAIL("chat " << chat << " got " << texts.size() << " messages, expected " << n);
    return texts;
  }

  std::string Metrics() {
    httplib::Client http("127.0.0.1", http_port);
    auto r = http.Get("/metrics");
    REQUIRE(r);
    return r->body;
  }

  // The value of the series `name` (no labels) on /metrics, if it is there.
  std::optional<int64_t> Metric(const std::string& name) {
    std::smatch m;
    const std::string body = Metrics();
    if (!std::regex_search(body, m, std::regex("\n" + name + " ([0-9]+)\n"))) {
      return std::nullopt;
    }
    return std::stoll(m[1].str());
  }

  // Metric(name) once it equals `want` (it is read again until then, up to 20 s), else its last
  // value: for a gauge that the serve process updates a moment after the event the test saw.
  std::optional<int64_t> WaitForMetric(const std::string& name, int64_t want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::optional<int64_t> v = Metric(name);
    while (v != want && std::chrono::steady_clock::now() < deadline) v = Metric(name);
    return v;
  }

  int64_t Query(const std::string& sql) {
    auto d = Database::Open(db);
    REQUIRE(d);
    return QueryInt(**d, sql);
  }
  int64_t BalanceOf(int64_t telegram_id) {
    return Query(
        "SELECT COALESCE((SELECT d.balance FROM user_deposits d JOIN users u ON "
        "u.id = d.user_id WHERE u.telegram_id = " +
        std::to_string(telegram_id) + "), -1)");
  }
};

inline std::string CallbackData(const FakeSentMessage& m, int button) {
  return m.reply_markup["inline_keyboard"][0][button]["callback_data"].get<std::string>();
}

}  // namespace depositbot::testing
