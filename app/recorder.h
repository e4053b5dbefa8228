#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/chat_model.h"
#include "app/config.h"
#include "chat/turn_observer.h"
#include "registrar/registrar.h"

namespace depositbot {

struct TurnResult;

// Writes a live session (`chat --record FILE`, `serve --record DIR`) as a
// conversation fixture (docs/fixtures.md) that `depositbot replay` runs to the
// same result: the users and balances at the start, every turn with the real
// model replies it consumed, every registrar answer, each reply pinned (with
// timestamps matched loosely), and the balances at the end. The model's
// requests, API keys and tokens are never written. The file is rewritten
// after each turn, so a crash keeps what happened until then. Thread-safe:
// turns of different chats may be recorded concurrently.
class SessionRecorder final : public TurnObserver {
 public:
  SessionRecorder(std::string path, const Config& config, int64_t start_unix);

  // Wrappers that record what the real model and registrar answered. They
  // must be used only while the recorder lives.
  std::unique_ptr<ChatModel> WrapModel(ChatModel& inner);
  std::unique_ptr<Registrar> WrapRegistrar(Registrar& inner);

  // A user present at the start, with their balance then (minor units) and their Telegram
  // @username (empty: none).
  void AddUser(int64_t telegram_id, const std::string& name, bool admin, int64_t balance,
               const std::string& username = "");
  // The current thread starts a turn: model replies from now on belong to it.
  // Adds a user first seen during the session (with a zero balance: a user
  // unknown at the start has no money yet).
  void SeenUser(int64_t telegram_id, const std::string& name, bool is_admin) override;
  void BeginTurn() override;
  void EndMessageTurn(int64_t from, const std::string& text, const TurnResult& turn) override;
  void EndDecision(int64_t from, const Decision& decision, const DecisionOutcome& outcome) override;
  // Bank feed: a verified notification's body and the outcome it came to ("matched",
  // "needs_admin" or "duplicate"), as a `bank_notification` step.
  void EndBankNotification(const std::string& body, const std::string& outcome);
  // The balances the fixture must end with; then writes the file.
  Status Save(const std::map<int64_t, int64_t>& end_balances);

  const std::string& path() const { return path_; }

 private:
  friend class RecordingChatModel;
  friend class RecordingRegistrar;
  void OnModelReply(nlohmann::json reply);
  void OnDomain(const std::string& domain, nlohmann::json answer);
  void OnCreate(const std::string& domain, nlohmann::json outcome);
  void OnInfo(const std::string& domain, const std::string& answer);
  void OnPrice(const std::string& tld, int64_t per_year_usd_micros, int64_t icann_usd_micros);
  Status WriteLocked();

  std::string path_;
  mutable std::mutex mu_;
  nlohmann::json fixture_;
  std::map<std::thread::id, nlohmann::json> pending_model_;  // per thread: this turn's replies
  std::set<int64_t> users_;
};

class Database;

// Adds every user in the database (at most 1000) with their current balance;
// `extra` users not in the database yet are added with a zero balance.
Status RecordStartingUsers(SessionRecorder& recorder, Database& db,
                           const std::set<int64_t>& admin_ids,
                           const std::map<int64_t, std::string>& extra = {});
// Balances by Telegram id for every user in the database.
Result<std::map<int64_t, int64_t>> BalancesByTelegramId(Database& db);

// Micro-dollars as an exact decimal string: 10280000 -> "10.28".
std::string UsdMicrosToDecimal(int64_t micros);
// `text` as a regular expression that matches it exactly, except that UTC
// timestamps (2026-01-01T00:00:00Z) match any timestamp.
std::string LiteralPatternLooseTimes(const std::string& text);

}  // namespace depositbot
