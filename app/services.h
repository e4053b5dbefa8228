#pragma once

#include <functional>
#include <memory>
#include <string>

#include "agent/agent.h"
#include "agent/fair_use.h"
#include "agent/model_gate.h"
#include "agent/rule_based_model.h"
#include "app/config.h"
#include "common/clock.h"
#include "common/environment.h"
#include "db/alert_outbox.h"
#include "db/bank_notification_repository.h"
#include "db/conversation_repository.h"
#include "db/database.h"
#include "db/deposit_repository.h"
#include "db/ledger_report_repository.h"
#include "db/model_usage_repository.h"
#include "db/order_repository.h"
#include "db/user_repository.h"
#include "registrar/registrar.h"
#include "tools/admin_commands.h"
#include "tools/bank_feed.h"
#include "tools/decision_handler.h"
#include "tools/purchase_service.h"
#include "tools/tool_registry.h"

namespace depositbot {

// What a caller may put in place of the parts the Config chooses: decorators (recording), and
// for replay and the fuzz targets a test environment (fixed clock, seeded draws), a scripted model,
// a fixture registrar and the settings a fixture fixes. Pointers are not owned and must outlive the
// Services.
struct ServiceHooks {
  std::function<std::unique_ptr<ChatModel>(ChatModel&)> wrap_model;
  std::function<std::unique_ptr<Registrar>(Registrar&)> wrap_registrar;
  // Time, waits and chance for every part (SystemEnvironment() when null); the clock is its.
  Environment* environment = nullptr;
  Registrar* registrar = nullptr;  // null: Namecheap when configured, else the demo registrar
  ChatModel* model = nullptr;      // null: the configured LLM, else the rule-based model
  int64_t max_deposit_minor = 0;   // 0: a million major units of the currency
  int64_t quote_ttl_seconds = 0;   // 0: PricingOptions' default
  int max_model_calls = 0;         // 0: Agent::Options' default
};

// Everything a running depositbot is made of, wired from the Config. Only
// app/ chooses concrete classes (STYLE.md convention 4).
class Services {
 public:
  // Opens and migrates the database, registers the tools, picks the model.
  static Result<std::unique_ptr<Services>> Create(const Config& config,
                                                  const ServiceHooks& hooks = {});

  // "offline model" or "model gpt-4o-mini at https://...".
  std::string ModelDescription() const;
  // "model: at most 1024 calls at once, no per-minute limit" (LLM_MAX_CONCURRENT and
  // LLM_MAX_REQUESTS_PER_MINUTE, for the start-up line and /healthz); "model: offline, no
  // provider limits" without an LLM.
  std::string ModelCapacity() const;
  // The process's one door to the model provider, for /metrics; null without an LLM.
  const ModelGate* model_gate() const { return model_gate_.get(); }
  // "demo registrar — nothing is really registered" or "Namecheap at https://...".
  std::string RegistrarDescription() const;
  bool IsAdmin(int64_t telegram_id) const { return config_.admin_ids.count(telegram_id) > 0; }

  const Config& config() const { return config_; }
  Database& db() { return *db_; }
  UserRepository& users() { return *users_; }
  DepositRepository& deposits() { return *deposits_; }
  ToolRegistry& tools() { return tools_; }
  OrderRepository& orders() { return *orders_; }
  AlertOutbox& alerts() { return *alerts_; }
  PurchaseService& purchases() { return *purchases_; }
  // Bank-transfer notifications matched to pending deposits (POST /deposits/notify, replay).
  BankFeed& bank_feed() { return *bank_feed_; }
  BankNotificationRepository& bank_notifications() { return *bank_notifications_; }
  // The one handler of buttons and y/N answers, for every transport and for replay.
  const DecisionHandler& decisions() const { return *decisions_; }
  // The admins' chat commands (/user, /adjust, /export, /stats), which the agent runs.
  const AdminCommands& admin_commands() const { return *admin_commands_; }
  Registrar& registrar() { return registrar_wrapper_ ? *registrar_wrapper_ : *registrar_; }
  Agent& agent() { return *agent_; }
  // The per-user rate limit and daily model budget the agent applies (its stats feed /metrics).
  FairUse& fair_use() { return *fair_use_; }
  const Clock& clock() const { return environment_->clock(); }
  Environment& environment() { return *environment_; }

 private:
  explicit Services(Config config) : config_(std::move(config)) {}

  Config config_;
  Environment* environment_ = &SystemEnvironment();
  std::unique_ptr<Database> db_;
  std::unique_ptr<UserRepository> users_;
  std::unique_ptr<DepositRepository> deposits_;
  std::unique_ptr<ConversationRepository> conversations_;
  std::unique_ptr<ModelUsageRepository> model_usage_;
  std::unique_ptr<FairUse> fair_use_;
  std::unique_ptr<OrderRepository> orders_;
  std::unique_ptr<AlertOutbox> alerts_;
  std::unique_ptr<Registrar> own_registrar_;
  Registrar* registrar_ = nullptr;
  std::unique_ptr<Registrar> registrar_wrapper_;
  std::unique_ptr<ChatModel> model_wrapper_;
  std::unique_ptr<PurchaseService> purchases_;
  std::unique_ptr<BankNotificationRepository> bank_notifications_;
  std::unique_ptr<BankFeed> bank_feed_;
  ToolRegistry tools_;
  std::unique_ptr<LedgerReportRepository> reports_;
  std::unique_ptr<AdminCommands> admin_commands_;
  std::unique_ptr<DecisionHandler> decisions_;
  RuleBasedModel rules_;
  std::unique_ptr<ModelGate> model_gate_;  // with llm_; declared first, so it outlives it
  std::unique_ptr<ChatModel> llm_;         // null when offline
  std::unique_ptr<Agent> agent_;
};

// Opens `path` and applies pending migrations. A database with tables but no
// schema_migrations record is refused with one line telling the operator to run
// `depositbot migrate` (which checks it against 001 and adopts it); start-up never adopts.
Result<std::unique_ptr<Database>> OpenMigratedDatabase(const Config& config);
// Opens DEPOSITBOT_DB as the Config says (the PostgreSQL pool's size), without migrating.
Result<std::unique_ptr<Database>> OpenConfiguredDatabase(const Config& config);

}  // namespace depositbot
