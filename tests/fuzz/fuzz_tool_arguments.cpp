// libFuzzer target: tool call arguments as the model writes them, through the one door they
// take in production: ToolRegistry::Invoke with the real manage_deposit, check_domain,
// register_domain and list_domains tools as Services::Create wires them for `serve`, over an
// in-memory database and the demo registrar. Input: byte 0 picks the tool (bits 0-2; 4-7 is a name
// no tool has), whether the caller is an admin (bit 3), who calls (bit 4: alice or bob) and whether
// a quote the call produced is then confirmed outside the model as the transport would (bit 5); the
// rest is the `function.arguments` text. Invoke must never throw; after every call every balance
// equals its ledger sum and none is negative.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "app/config.h"
#include "app/services.h"
#include "common/environment.h"
#include "db/database.h"
#include "db/deposit_repository.h"
#include "db/user_repository.h"
#include "tools/decision_handler.h"
#include "tools/tool_registry.h"

#ifndef DEPOSITBOT_FUZZ_ENTRY
#define DEPOSITBOT_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

using namespace depositbot;

namespace {

struct World {
  TestEnvironment environment{1767225600000};
  std::unique_ptr<Services> services;
  Database* db = nullptr;
  ToolContext alice, bob;

  World() {
    Config config;  // the defaults: the demo registrar and the offline model
    config.db_path = ":memory:";
    ServiceHooks hooks;
    hooks.environment = &environment;
    auto created = Services::Create(config, hooks);
    if (!created) std::abort();
    services = std::move(*created);
    db = &services->db();
    auto a = services->users().FindOrCreate(1001, "Alice");
    auto b = services->users().FindOrCreate(1002, "Bob");
    if (!a || !b) std::abort();
    alice = ToolContext{a->id, 1001, "Alice", false};
    bob = ToolContext{b->id, 1002, "Bob", false};
    auto d = services->deposits().RequestDeposit(a->id, 5'000'00, "ALICE");
    if (!d || !services->deposits().Confirm(d->id, 9001)) std::abort();
  }

  void CheckBooks() {
    auto lock = db->Lock();
    auto q = db->Prepare(
        "SELECT COUNT(*) FROM user_deposits d WHERE d.balance < 0 OR d.balance != "
        "(SELECT COALESCE(SUM(CASE type WHEN 'purchase' THEN -amount "
        "WHEN 'adjustment' THEN amount * direction ELSE amount END), 0) "
        "FROM deposit_transactions t WHERE t.user_id = d.user_id AND t.status = 'confirmed')");
    if (!q) std::abort();
    auto row = q->Step();
    if (!row || !*row || q->ColumnInt(0) != 0) std::abort();
  }
};

}  // namespace

extern "C" int DEPOSITBOT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  static std::unique_ptr<World> world;
  static int calls = 0;
  if (!world || ++calls % 5000 == 0) world = std::make_unique<World>();  // bounded growth
  if (size == 0) return 0;
  static const char* const kNames[] = {"manage_deposit",  "check_domain",     "register_domain",
                                       "list_domains",    "confirm_purchase", "",
                                       "manage_deposit ", "MANAGE_DEPOSIT"};
  const uint8_t how = data[0];
  ToolContext ctx = (how & 0x10) ? world->bob : world->alice;
  ctx.is_admin = (how & 0x08) != 0;
  std::string_view name = kNames[how & 0x07];
  std::string_view arguments(reinterpret_cast<const char*>(data + 1), size - 1);

  ToolResult result = world->services->tools().Invoke(ctx, name, arguments);
  std::string content = result.ToModelContent();
  if (content.empty() || content.front() != '{') std::abort();
  if (result.ok != (result.error_code().empty())) std::abort();
  const auto* quote = result.ui ? std::get_if<PurchaseQuoteUi>(&*result.ui) : nullptr;
  if ((how & 0x20) && quote) {
    (void)world->services->decisions().Decide(
        ctx, Decision{Decision::Kind::kConfirmPurchase, quote->order_id, ""});
  }
  world->CheckBooks();
  return 0;
}
