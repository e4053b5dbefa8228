#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/money.h"
#include "tools/tool.h"

namespace depositbot {

class BankFeed;
class DepositStore;
class UserStore;

// The arguments of manage_deposit, one struct for every action (the JSON
// Schema and the parser come from ManageDepositSchema()).
struct ManageDepositArgs {
  std::string action;
  std::optional<std::string> amount;  // text as the user wrote it: "30,000", "12.50"
  std::optional<std::string> depositor_name;
  std::optional<int64_t> transaction_id;
  std::optional<int64_t> limit;
  std::optional<std::string> reason;
};

const ArgSchema<ManageDepositArgs>& ManageDepositSchema();

struct DepositToolOptions {
  Currency currency{"USD", 2};
  // A single deposit request above this many minor units is refused as absurd.
  int64_t max_deposit_minor = 100'000'000'00;
  // When set, a new request is matched at once against bank notifications that came before it
  // (BankFeed::MatchRequested); not owned, must outlive the tool.
  BankFeed* bank_feed = nullptr;
};

// manage_deposit: balance, account_info, request_deposit, history, cancel for
// everyone; pending, confirm, reject for admins (ctx.is_admin, checked here
// again even though non-admins are never offered them). The acting user is
// ctx.user_id; no argument names a user. Results carry minor units plus a
// formatted string. A new request carries ui {"kind":"deposit_requested"} and
// an admin decision ui {"kind":"deposit_decided"} for the transport to notify.
Tool MakeManageDepositTool(DepositStore& deposits, UserStore& users, DepositToolOptions options);

}  // namespace depositbot
