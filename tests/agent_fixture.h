#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "agent/rule_based_model.h"
#include "agent/scripted_chat_model.h"
#include "db/conversation_repository.h"
#include "db/deposit_repository.h"
#include "db/user_repository.h"
#include "tests/fakes/ledger_builder.h"
#include "tools/manage_deposit.h"
#include "tools/tool_registry.h"

namespace depositbot::testing {

// A migrated in-memory database, the manage_deposit tool, an agent whose
// model is `model` (a ScriptedChatModel unless a test passes another), and
// two users: alice (customer) and an admin.
struct AgentFixture {
  TestDb t;
  UserRepository users{t.db(), t.clock()};
  DepositRepository deposits{t.db(), t.clock()};
  ConversationRepository conversations{t.db(), t.clock()};
  ToolRegistry tools;
  RuleBasedModel rules;
  ScriptedChatModel scripted;
  std::unique_ptr<Agent> agent;
  ToolContext alice, bob, admin;

  explicit AgentFixture(ChatModel* model = nullptr, Agent::Options options = {}) {
    DepositToolOptions o;
    o.currency = Currency{"USD", 2};
    o.max_deposit_minor = 100'000'000;  // 1,000,000.00 USD
    tools.Register(MakeManageDepositTool(deposits, users, o));
    agent =
        std::make_unique<Agent>(model ? *model : scripted, rules, tools, conversations, options);
    alice = Context(1001, "Alice", false);
    bob = Context(1002, "Bob", false);
    admin = Context(9001, "Admin", true);
  }

  ToolContext Context(int64_t telegram_id, const std::string& name, bool is_admin) {
    auto u = users.FindOrCreate(telegram_id, name);
    return ToolContext{u->id, telegram_id, name, is_admin};
  }

  // Queues scripted replies in the ScriptedChatModel JSON script format.
  void Script(const nlohmann::json& replies) {
    auto parsed = ScriptedChatModel::ParseScript(replies);
    if (!parsed) throw std::runtime_error(parsed.error().message);
    for (auto& r : *parsed) scripted.Enqueue(std::move(r));
  }

  int64_t Balance(const ToolContext& who) { return deposits.GetAccount(who.user_id)->balance; }

  TurnResult Say(const ToolContext& who, const std::string& text) {
    return agent->Handle(who, who.telegram_id, text);
  }
};

}  // namespace depositbot::testing
