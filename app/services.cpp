#include "app/services.h"

#include "agent/openai_chat_model.h"
#include "db/migrator.h"
#include "registrar/demo_registrar.h"
#include "registrar/namecheap_registrar.h"
#include "tools/domain_tools.h"
#include "tools/manage_deposit.h"

namespace depositbot {

Result<std::unique_ptr<Database>> OpenConfiguredDatabase(const Config& config) {
  Database::Options options;
  options.pool_size = static_cast<int>(config.db_pool_size);
  return Database::Open(config.db_path, options);
}

Result<std::unique_ptr<Database>> OpenMigratedDatabase(const Config& config) {
  auto db = OpenConfiguredDatabase(config);
  if (!db) return db.error();
  auto migrator = Migrator::ForEmbedded(**db);
  if (!migrator) return migrator.error();
  if (auto n = migrator->Apply(); !n) return n.error();
  return db;
}

Result<std::unique_ptr<Services>> Services::Create(const Config& config,
                                                   const ServiceHooks& hooks) {
  std::unique_ptr<Services> s(new Services(config));
  if (hooks.environment) s->environment_ = hooks.environment;
  Environment& env = *s->environment_;
  const Clock& clock = env.clock();
  auto db = OpenMigratedDatabase(config);
  if (!db) return db.error();
  s->db_ = std::move(*db);
  s->users_ = std::make_unique<UserRepository>(*s->db_, clock);
  s->deposits_ = std::make_unique<DepositRepository>(*s->db_, clock, RetryPolicy{}, env);
  s->conversations_ = std::make_unique<ConversationRepository>(*s->db_, clock);
  s->model_usage_ = std::make_unique<ModelUsageRepository>(*s->db_);
  FairUse::Options fair;
  fair.messages_per_minute = config.user_messages_per_minute;
  fair.message_burst = config.user_message_burst;
  fair.daily_model_tokens = config.user_daily_model_tokens;
  fair.admins_exempt = config.admins_exempt_from_limits;
  s->fair_use_ = std::make_unique<FairUse>(*s->model_usage_, clock, fair);

  DepositToolOptions deposit_options;
  deposit_options.currency = config.currency;
  // An absurd single deposit: a million major units of the currency.
  deposit_options.max_deposit_minor = 1'000'000;
  for (int i = 0; i < config.currency.exponent; ++i) deposit_options.max_deposit_minor *= 10;
  if (hooks.max_deposit_minor > 0) deposit_options.max_deposit_minor = hooks.max_deposit_minor;

  if (hooks.registrar) {
    s->registrar_ = hooks.registrar;
  } else if (config.namecheap_configured) {
    NamecheapConfig nc;
    nc.api_url = config.namecheap_api_url;
    nc.api_user = config.namecheap_api_user;
    nc.api_key = config.namecheap_api_key;
    nc.username = config.namecheap_username;
    nc.client_ip = config.namecheap_client_ip;
    nc.contact = config.namecheap_contact;
    auto r = NamecheapRegistrar::FromConfig(nc, env);
    if (!r) return r.error();
    s->own_registrar_ = std::move(*r);
    s->registrar_ = s->own_registrar_.get();
  } else {
    s->own_registrar_ = std::make_unique<DemoRegistrar>(clock);
    s->registrar_ = s->own_registrar_.get();
  }
  if (hooks.wrap_registrar) s->registrar_wrapper_ = hooks.wrap_registrar(*s->registrar_);
  s->orders_ = std::make_unique<OrderRepository>(*s->db_, clock);
  PricingOptions pricing;
  pricing.currency = config.currency;
  pricing.usd_exchange_rate = config.usd_exchange_rate;
  pricing.markup_percent = config.price_markup_percent;
  if (hooks.quote_ttl_seconds > 0) pricing.quote_ttl_seconds = hooks.quote_ttl_seconds;
  s->alerts_ = std::make_unique<AlertOutbox>(*s->db_, clock);
  PurchaseOptions purchase_options;
  purchase_options.alerts = s->alerts_.get();
  s->purchases_ =
      std::make_unique<PurchaseService>(*s->deposits_, *s->orders_, s->registrar(), clock, pricing,
                                        DomainNameRules{}, purchase_options);
  s->bank_notifications_ = std::make_unique<BankNotificationRepository>(*s->db_, clock);
  s->bank_feed_ = std::make_unique<BankFeed>(*s->deposits_, *s->bank_notifications_, *s->users_,
                                             clock, BankFeed::Options{config.currency});
  deposit_options.bank_feed = s->bank_feed_.get();
  RegisterBotTools(s->tools_, *s->deposits_, *s->users_, *s->orders_, *s->purchases_,
                   deposit_options);
  s->reports_ = std::make_unique<LedgerReportRepository>(*s->db_);
  AdminCommandOptions admin_options;
  admin_options.currency = config.currency;
  admin_options.max_adjustment_minor = deposit_options.max_deposit_minor;
  s->admin_commands_ = std::make_unique<AdminCommands>(*s->deposits_, *s->users_, *s->orders_,
                                                       *s->reports_, clock, admin_options);
  s->decisions_ = std::make_unique<DecisionHandler>(s->tools_, *s->purchases_,
                                                    s->admin_commands_.get(), s->bank_feed_.get());

  if (config.llm_configured && !hooks.model) {
    OpenAiChatModel::Config mc;
    mc.base_url = config.llm_base_url;
    mc.api_key = config.llm_api_key;
    mc.model = config.llm_model;
    mc.max_tokens = config.llm_max_tokens;
    // One gate for the process: every conversation's calls share the provider's limits.
    ModelGate::Options go;
    go.max_concurrent = config.llm_max_concurrent;
    go.max_requests_per_minute = config.llm_max_requests_per_minute;
    go.max_pause = mc.max_retry_wait;
    s->model_gate_ = std::make_unique<ModelGate>(go, env);
    mc.gate = s->model_gate_.get();
    auto m = OpenAiChatModel::Create(mc, env);
    if (!m) return Error::Invalid("LLM_BASE_URL: " + m.error().message);
    s->llm_ = std::move(*m);
  }
  Agent::Options ao;
  ao.currency_code = config.currency.code;
  if (hooks.max_model_calls > 0) ao.max_model_calls = hooks.max_model_calls;
  ao.fair_use = s->fair_use_.get();
  ao.admin_commands = s->admin_commands_.get();
  ChatModel* model = hooks.model ? hooks.model
                     : s->llm_   ? s->llm_.get()
                                 : static_cast<ChatModel*>(&s->rules_);
  if (hooks.wrap_model) {
    s->model_wrapper_ = hooks.wrap_model(*model);
    model = s->model_wrapper_.get();
  }
  s->agent_ = std::make_unique<Agent>(*model, s->rules_, s->tools_, *s->conversations_, ao, env);
  return s;
}

std::string Services::RegistrarDescription() const {
  if (registrar_->IsDemo()) return std::string(kDemoRegistrarNotice);
  return "Namecheap at " + config_.namecheap_api_url;
}

std::string Services::ModelCapacity() const {
  if (!model_gate_) return "model: offline, no provider limits";
  return "model: " + model_gate_->Describe();
}

std::string Services::ModelDescription() const {
  if (!llm_) return "offline model (rule-based: slash commands and simple phrases)";
  return "model " + config_.llm_model + " at " + config_.llm_base_url;
}

}  // namespace depositbot
