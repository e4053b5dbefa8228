#include "tools/manage_deposit.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/user_amount.h"
#include "db/deposit_store.h"
#include "db/user_store.h"
#include "tools/bank_feed.h"

namespace depositbot {
namespace {

using nlohmann::json;

json TransactionJson(const DepositTransaction& t, const Currency& c) {
  json j = {{"id", t.id},
            {"type", ToString(t.type)},
            {"status", ToString(t.status)},
            {"amount", t.amount},
            {"signed_amount", t.SignedAmount()},
            {"amount_formatted", FormatAmount(t.amount, c)},
            {"created_at", FormatUtc(t.created_at)}};
  if (t.depositor_name) j["depositor_name"] = *t.depositor_name;
  if (t.reason) j["reason"] = *t.reason;
  return j;
}

ToolResult Refuse(const ToolContext& ctx, const std::string& action, const Error& e) {
  Log(LogLevel::kInfo, "tool.refused",
      {{"tool", "manage_deposit"},
       {"action", action},
       {"telegram_id", std::to_string(ctx.telegram_id)},
       {"code", std::string(ErrorCodeName(e.code))},
       {"reason", e.message}});
  return ToolResult::FromError(e);
}

class ManageDeposit {
 public:
  ManageDeposit(DepositStore& deposits, UserStore& users, DepositToolOptions options)
      : deposits_(deposits), users_(users), options_(std::move(options)) {}

  ToolResult operator()(const ToolContext& ctx, const ManageDepositArgs& a) {
    const std::string& act = a.action;
    if (act == "pending" || act == "confirm" || act == "reject") {
      if (!ctx.is_admin) {
        return Refuse(ctx, act, Error::Forbidden("only admins may " + act + " deposits"));
      }
    }
    if (act == "balance") return Balance(ctx);
    if (act == "account_info") return AccountInfo(ctx);
    if (act == "request_deposit") return RequestDeposit(ctx, a);
    if (act == "history") return History(ctx, a);
    if (act == "cancel") return Cancel(ctx, a);
    if (act == "pending") return Pending(ctx, a);
    if (act == "confirm") return Confirm(ctx, a);
    if (act == "reject") return Reject(ctx, a);
    return Refuse(ctx, act, Error::Invalid("unknown action " + act));
  }

 private:
  Result<int64_t> NeedTransactionId(const ManageDepositArgs& a) {
    if (!a.transaction_id) {
      return Error::Invalid("transaction_id is required for " + a.action);
    }
    return *a.transaction_id;
  }

  ToolResult Balance(const ToolContext& ctx) {
    auto acct = deposits_.GetAccount(ctx.user_id);
    if (!acct) return Refuse(ctx, "balance", acct.error());
    json j = {{"action", "balance"},
              {"balance", acct->balance},
              {"balance_formatted", FormatAmount(acct->balance, options_.currency)},
              {"currency", options_.currency.code}};
    auto hist = deposits_.History(ctx.user_id, 100);
    if (hist) {
      int64_t count = 0, total = 0;
      for (const auto& t : *hist) {
        if (t.type == TransactionType::kDeposit && t.status == TransactionStatus::kPending) {
          ++count;
          total += t.amount;
        }
      }
      j["pending_deposits"] = count;
      if (count > 0) j["pending_total_formatted"] = FormatAmount(total, options_.currency);
    }
    return ToolResult::Success(j);
  }

  ToolResult AccountInfo(const ToolContext& ctx) {
    auto user = users_.FindById(ctx.user_id);
    if (!user) return Refuse(ctx, "account_info", user.error());
    auto acct = deposits_.GetAccount(ctx.user_id);
    if (!acct) return Refuse(ctx, "account_info", acct.error());
    return ToolResult::Success(
        {{"action", "account_info"},
         {"name", user->display_name},
         {"telegram_id", user->telegram_id},
         {"customer_since", FormatUtc(user->created_at)},
         {"is_admin", ctx.is_admin},
         {"balance", acct->balance},
         {"balance_formatted", FormatAmount(acct->balance, options_.currency)},
         {"currency", options_.currency.code}});
  }

  ToolResult RequestDeposit(const ToolContext& ctx, const ManageDepositArgs& a) {
    if (!a.amount) {
      return Refuse(ctx, "request_deposit",
                    Error::Invalid("the amount is missing: ask the user how much they sent"));
    }
    if (!a.depositor_name) {
      return Refuse(ctx, "request_deposit",
                    Error::Invalid("the depositor name is missing: ask the user which name the "
                                   "transfer was sent under"));
    }
    // The amount as the user wrote it, read by the one reader of user amounts: an ambiguous
    // one ("30.000" in KRW) is a question back with its readings, and nothing is recorded.
    const UserAmount amount = ReadUserAmount(*a.amount, options_.currency);
    if (amount.kind == UserAmount::Kind::kQuestion) {
      ToolResult r = Refuse(ctx, "request_deposit", Error::Invalid(amount.message));
      json readings = json::array();
      for (int64_t v : amount.readings) readings.push_back(FormatAmount(v, options_.currency));
      r.payload["question"] = true;
      r.payload["readings"] = readings;
      return r;
    }
    if (!amount) return Refuse(ctx, "request_deposit", Error::Invalid(amount.message));
    if (amount.minor > options_.max_deposit_minor) {
      return Refuse(ctx, "request_deposit",
                    Error::Invalid("a single deposit may be at most " +
                                   FormatAmount(options_.max_deposit_minor, options_.currency) +
                                   "; please contact an admin for larger amounts"));
    }
    auto t = deposits_.RequestDeposit(ctx.user_id, amount.minor, *a.depositor_name);
    if (!t) return Refuse(ctx, "request_deposit", t.error());
    Log(LogLevel::kInfo, "deposit.requested",
        {{"transaction_id", std::to_string(t->id)},
         {"telegram_id", std::to_string(ctx.telegram_id)},
         {"amount", std::to_string(t->amount)}});
    std::string amount_text = FormatAmount(t->amount, options_.currency);
    if (options_.bank_feed) {
      // The transfer may have been announced by the bank before the user told us.
      auto match = options_.bank_feed->MatchRequested(*t);
      if (!match) {
        Log(LogLevel::kWarn, "bank_feed.request_match_failed",
            {{"transaction_id", std::to_string(t->id)}, {"error", match.error().message}});
      } else if (*match) {
        const DepositTransaction& confirmed = (*match)->first;
        json j = {{"action", "request_deposit"},
                  {"transaction", TransactionJson(confirmed, options_.currency)},
                  {"confirmed_by_bank", true},
                  {"note", "confirmed at once: the bank transfer had already arrived"}};
        std::string effect =
            "I recorded your deposit #" + std::to_string(confirmed.id) + " of " + amount_text +
            " as " + confirmed.depositor_name.value_or("") +
            "; the bank transfer had already arrived, so it was confirmed at once.";
        if (auto acct = deposits_.GetAccount(ctx.user_id)) {
          j["balance_formatted"] = FormatAmount(acct->balance, options_.currency);
          effect += " Your balance is now " + FormatAmount(acct->balance, options_.currency) + ".";
        }
        return ToolResult::Success(std::move(j))
            .WithEffect(std::move(effect))
            .WithUi((*match)->second);
      }
    }
    return ToolResult::Success({{"action", "request_deposit"},
                                {"transaction", TransactionJson(*t, options_.currency)},
                                {"note", "pending until an admin confirms the transfer arrived"}})
        .WithEffect("I recorded your deposit #" + std::to_string(t->id) + " of " + amount_text +
                    " as " + t->depositor_name.value_or(*a.depositor_name) +
                    "; it waits for an admin to confirm the transfer arrived.")
        .WithUi(DepositRequestedUi{t->id, ctx.telegram_id, ctx.display_name,
                                   FormatAmount(t->amount, options_.currency),
                                   t->depositor_name.value_or("")});
  }

  ToolResult History(const ToolContext& ctx, const ManageDepositArgs& a) {
    int limit = static_cast<int>(a.limit.value_or(10));
    auto rows = deposits_.History(ctx.user_id, limit);
    if (!rows) return Refuse(ctx, "history", rows.error());
    json list = json::array();
    for (const auto& t : *rows) {
      // An adjustment an admin asked for but did not (yet) confirm never moved the user's money:
      // it is the admins' business, not part of the user's statement.
      if (t.type == TransactionType::kAdjustment && t.status != TransactionStatus::kConfirmed) {
        continue;
      }
      list.push_back(TransactionJson(t, options_.currency));
    }
    return ToolResult::Success({{"action", "history"}, {"transactions", list}});
  }

  ToolResult Cancel(const ToolContext& ctx, const ManageDepositArgs& a) {
    auto id = NeedTransactionId(a);
    if (!id) return Refuse(ctx, "cancel", id.error());
    auto t = deposits_.Cancel(*id, ctx.user_id);
    if (!t) return Refuse(ctx, "cancel", t.error());
    return ToolResult::Success(
               {{"action", "cancel"}, {"transaction", TransactionJson(*t, options_.currency)}})
        .WithEffect("I cancelled your pending deposit #" + std::to_string(t->id) + " of " +
                    FormatAmount(t->amount, options_.currency) + ".");
  }

  ToolResult Pending(const ToolContext& ctx, const ManageDepositArgs& a) {
    auto rows = deposits_.Pending(static_cast<int>(a.limit.value_or(20)));
    if (!rows) return Refuse(ctx, "pending", rows.error());
    json list = json::array();
    for (const auto& t : *rows) {
      json j = TransactionJson(t, options_.currency);
      if (auto u = users_.FindById(t.user_id)) {
        j["user_name"] = u->display_name;
        j["user_telegram_id"] = u->telegram_id;
      }
      list.push_back(j);
    }
    return ToolResult::Success({{"action", "pending"}, {"pending", list}});
  }

  ToolResult Decided(const ToolContext& ctx, const DepositTransaction& t) {
    const bool confirmed = t.status == TransactionStatus::kConfirmed;
    json j = {{"action", confirmed ? "confirm" : "reject"},
              {"transaction", TransactionJson(t, options_.currency)}};
    DepositDecidedUi ui;
    ui.transaction_id = t.id;
    ui.confirmed = confirmed;
    ui.amount_formatted = FormatAmount(t.amount, options_.currency);
    ui.admin_telegram_id = ctx.telegram_id;
    ui.admin_name = ctx.display_name;
    std::string effect = std::string(confirmed ? "I confirmed" : "I rejected") + " deposit #" +
                         std::to_string(t.id) + " of " + FormatAmount(t.amount, options_.currency);
    if (auto u = users_.FindById(t.user_id)) {
      j["user_name"] = u->display_name;
      ui.user_telegram_id = u->telegram_id;
      ui.user_name = u->display_name;
      effect += " from " + u->display_name;
    }
    if (auto acct = deposits_.GetAccount(t.user_id)) {
      j["user_balance_formatted"] = FormatAmount(acct->balance, options_.currency);
      ui.user_balance_formatted = FormatAmount(acct->balance, options_.currency);
      if (confirmed)
        effect += "; their balance is now " + FormatAmount(acct->balance, options_.currency);
    }
    ui.reason = t.reason;
    if (!confirmed && t.reason && !t.reason->empty()) effect += " (reason: " + *t.reason + ")";
    effect += ".";
    Log(LogLevel::kInfo, "deposit.decided",
        {{"transaction_id", std::to_string(t.id)},
         {"status", std::string(ToString(t.status))},
         {"admin", std::to_string(ctx.telegram_id)}});
    return ToolResult::Success(j).WithUi(ui).WithEffect(std::move(effect));
  }

  ToolResult Confirm(const ToolContext& ctx, const ManageDepositArgs& a) {
    auto id = NeedTransactionId(a);
    if (!id) return Refuse(ctx, "confirm", id.error());
    auto t = deposits_.Confirm(*id, ctx.telegram_id);
    if (!t) return Refuse(ctx, "confirm", t.error());
    return Decided(ctx, *t);
  }

  ToolResult Reject(const ToolContext& ctx, const ManageDepositArgs& a) {
    auto id = NeedTransactionId(a);
    if (!id) return Refuse(ctx, "reject", id.error());
    auto t = deposits_.Reject(*id, ctx.telegram_id, a.reason.value_or(""));
    if (!t) return Refuse(ctx, "reject", t.error());
    return Decided(ctx, *t);
  }

  DepositStore& deposits_;
  UserStore& users_;
  DepositToolOptions options_;
};

}  // namespace

const ArgSchema<ManageDepositArgs>& ManageDepositSchema() {
  static const ArgSchema<ManageDepositArgs> kSchema =
      ArgSchema<ManageDepositArgs>()
          .Enum("action", &ManageDepositArgs::action,
                {"balance", "account_info", "request_deposit", "history", "cancel"},
                {.admin_values = {"pending", "confirm", "reject"}, .description = "what to do"})
          .OptionalString("amount", &ManageDepositArgs::amount,
                          {.min_length = 1,
                           .max_length = 32,
                           .description = "request_deposit: the amount exactly as the user "
                                          "wrote it, separators and currency word included, "
                                          "e.g. \"30,000\", \"12.50\", \"1.000,50\" or "
                                          "\"30.000 won\"; never rewrite it. An ambiguous "
                                          "amount is answered with a question for the user"})
          .OptionalString("depositor_name", &ManageDepositArgs::depositor_name,
                          {.min_length = 1,
                           .max_length = 64,
                           .description = "request_deposit: the name the bank transfer was "
                                          "sent under"})
          .OptionalInt("transaction_id", &ManageDepositArgs::transaction_id,
                       {.min = 1, .description = "cancel/confirm/reject: the transaction number"})
          .OptionalInt("limit", &ManageDepositArgs::limit,
                       {.min = 1, .max = 50, .description = "history/pending: how many rows"})
          .OptionalString("reason", &ManageDepositArgs::reason,
                          {.max_length = 200,
                           .description = "reject: why the deposit is rejected",
                           .admin_only = true});
  return kSchema;
}

Tool MakeManageDepositTool(DepositStore& deposits, UserStore& users, DepositToolOptions options) {
  ManageDeposit impl(deposits, users, std::move(options));
  return MakeTool<ManageDepositArgs>(
      "manage_deposit",
      "The user's prepaid deposit: balance, account_info, request_deposit (record a bank "
      "transfer the user says they sent; it stays pending until an admin confirms), history, "
      "cancel (the user's own pending deposit). Admins also: pending, confirm, reject.",
      ManageDepositSchema(),
      [impl](const ToolContext& ctx, const ManageDepositArgs& a) mutable { return impl(ctx, a); });
}

}  // namespace depositbot
