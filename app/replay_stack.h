#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "agent/scripted_chat_model.h"
#include "app/fixture.h"
#include "common/clock.h"
#include "common/environment.h"
#include "common/result.h"
#include "registrar/fixture_registrar.h"
#include "tools/tool_context.h"

namespace depositbot {

class Agent;
class Database;
class DecisionHandler;
class DepositRepository;
class PurchaseService;
class Services;
class UserRepository;

// The whole stack of one replay: the services `serve` and `chat` run (Services::Create), with
// a test environment (a fixed clock at the fixture's start, seeded draws), the fixture's
// registrar and a scripted model put in place of the network, over a fresh in-memory database.
// The pointers point into `services`.
struct ReplayStack {
  explicit ReplayStack(const Fixture& f);
  ~ReplayStack();

  // Wires the services and writes the fixture's starting state through the repositories, so
  // the books start reconciled. An error names the user and row that could not be written.
  Status Build(const Fixture& f);
  // "Alice (1001)" for reports.
  std::string Who(int64_t telegram_id) const;

  // Seeded: generated tool-call ids repeat from run to run. Its clock starts at the fixture's
  // start and moves only when a turn advances it.
  TestEnvironment environment;
  FixedClock& clock;
  FixtureRegistrar registrar;
  ScriptedChatModel scripted;
  std::unique_ptr<Services> services;
  Database* db = nullptr;
  UserRepository* users = nullptr;
  DepositRepository* deposits = nullptr;
  PurchaseService* purchases = nullptr;
  Agent* agent = nullptr;
  const DecisionHandler* decisions = nullptr;
  std::map<int64_t, ToolContext> contexts;  // by Telegram id
  std::map<int64_t, int64_t> telegram_of;   // users.id -> Telegram id

 private:
  Status Seed(const Fixture& f);
};

}  // namespace depositbot
