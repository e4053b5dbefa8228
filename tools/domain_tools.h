#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tools/tool.h"

namespace depositbot {

class DepositStore;
class OrderStore;
class PurchaseService;

struct CheckDomainArgs {
  std::vector<std::string> domains;
};
struct RegisterDomainArgs {
  std::string domain;
  std::optional<int64_t> years;
};

// check_domain(domains[]): availability, the one-year price in the deposit
// currency, and whether the user's balance covers it.
Tool MakeCheckDomainTool(PurchaseService& purchases, DepositStore& deposits);
// register_domain(domain, years): a quote only. The result asks the user to
// confirm and carries ui {"kind":"purchase_quote", order_id, ...}; the
// transport's Confirm button or y/N answer calls PurchaseService::Confirm.
// There is deliberately no tool that confirms.
Tool MakeRegisterDomainTool(PurchaseService& purchases, DepositStore& deposits);
// list_domains(): the user's orders and their states.
Tool MakeListDomainsTool(PurchaseService& purchases, OrderStore& orders);

class ToolRegistry;
class UserStore;
struct DepositToolOptions;

// Registers every tool the bot offers, in the order the model sees them: the
// one definition of the tool set for the bot, the terminal and replay.
void RegisterBotTools(ToolRegistry& registry, DepositStore& deposits, UserStore& users,
                      OrderStore& orders, PurchaseService& purchases,
                      const DepositToolOptions& deposit_options);

}  // namespace depositbot
