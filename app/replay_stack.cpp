#include "app/replay_stack.h"

#include "app/config.h"
#include "app/services.h"
#include "db/database.h"
#include "db/deposit_repository.h"
#include "db/user_repository.h"

namespace depositbot {

ReplayStack::ReplayStack(const Fixture& f)
    : environment(f.settings.start_unix_seconds * 1000),
      clock(environment.fixed_clock()),
      registrar(f.registrar) {}

ReplayStack::~ReplayStack() = default;

Status ReplayStack::Build(const Fixture& f) {
  Config config;  // the defaults: no network is configured
  config.db_path = ":memory:";
  config.currency = f.settings.currency;
  config.usd_exchange_rate = f.settings.usd_exchange_rate;
  config.price_markup_percent = f.settings.markup_percent;
  // Off unless the fixture sets them (FixtureSettings); tokens are recorded either way.
  config.user_messages_per_minute = f.settings.user_messages_per_minute;
  config.user_message_burst = f.settings.user_message_burst;
  config.user_daily_model_tokens = f.settings.user_daily_model_tokens;
  config.admins_exempt_from_limits = f.settings.admins_exempt_from_limits;
  ServiceHooks hooks;
  hooks.environment = &environment;
  hooks.registrar = &registrar;
  hooks.model = f.settings.offline_model ? nullptr : &scripted;  // null: the rule-based model
  hooks.max_deposit_minor = f.settings.max_deposit_minor;
  hooks.quote_ttl_seconds = f.settings.quote_ttl_seconds;
  hooks.max_model_calls = f.settings.max_model_calls;
  auto created = Services::Create(config, hooks);
  if (!created) return created.error();
  services = std::move(*created);
  db = &services->db();
  users = &services->users();
  deposits = &services->deposits();
  purchases = &services->purchases();
  agent = &services->agent();
  decisions = &services->decisions();
  return Seed(f);
}

Status ReplayStack::Seed(const Fixture& f) {
  int64_t admin_id = 0;
  for (const auto& u : f.users) {
    if (u.admin) {
      admin_id = u.telegram_id;
      break;
    }
  }
  for (const auto& fu : f.users) {
    auto u = users->FindOrCreate(fu.telegram_id, fu.name);
    if (!u) return u.error();
    if (!fu.username.empty()) {
      if (auto st = users->RecordUsername(u->id, fu.username); !st) {
        return Error{st.error().code, "user " + std::to_string(fu.telegram_id) +
                                          ": username: " + st.error().message};
      }
    }
    contexts[fu.telegram_id] = ToolContext{u->id, fu.telegram_id, fu.name, fu.admin};
    telegram_of[u->id] = fu.telegram_id;
    for (const auto& row : fu.ledger) {
      std::string who = "user " + std::to_string(fu.telegram_id) + ": ";
      if (row.kind == FixtureLedgerRow::Kind::kAdjustment) {
        auto t = deposits->Adjust(u->id, row.amount, row.reason, admin_id);
        if (!t) return Error{t.code(), who + "adjustment: " + t.error().message};
        continue;
      }
      auto t = deposits->RequestDeposit(u->id, row.amount, row.depositor_name);
      if (!t) return Error{t.code(), who + "deposit: " + t.error().message};
      Result<DepositTransaction> decided = *t;
      if (row.status == "confirmed") decided = deposits->Confirm(t->id, admin_id);
      if (row.status == "rejected") decided = deposits->Reject(t->id, admin_id, row.reason);
      if (row.status == "cancelled") decided = deposits->Cancel(t->id, u->id);
      if (!decided) return Error{decided.code(), who + row.status + ": " + decided.error().message};
    }
    if (fu.tampered_balance) {
      auto st = db->Prepare("UPDATE user_deposits SET balance = ? WHERE user_id = ?");
      if (!st) return st.error();
      st->Bind(1, *fu.tampered_balance).Bind(2, u->id);
      if (auto r = st->Run(); !r) return r.error();
    }
  }
  return Status::Ok();
}

std::string ReplayStack::Who(int64_t telegram_id) const {
  auto it = contexts.find(telegram_id);
  std::string name = it == contexts.end() ? "?" : it->second.display_name;
  return name + " (" + std::to_string(telegram_id) + ")";
}

}  // namespace depositbot
