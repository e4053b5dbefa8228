#include "tools/domain_tools.h"

#include "common/clock.h"
#include "db/deposit_store.h"
#include "db/order_store.h"
#include "registrar/demo_registrar.h"
#include "tools/manage_deposit.h"
#include "tools/purchase_service.h"
#include "tools/tool_registry.h"

namespace depositbot {
namespace {

using nlohmann::json;

// Adds the demo notice to a result when nothing is really registered.
json& MarkDemo(json& j, const PurchaseService& p) {
  if (p.IsDemo()) j["demo_notice"] = std::string(kDemoRegistrarNotice);
  return j;
}

std::string Fmt(const PurchaseService& p, int64_t minor) {
  return FormatAmount(minor, p.pricing().currency);
}

// "domain" is the name as people read it ("한글도메인.com (xn--bj0bj3i97fq8o5lq.com)" for an
// internationalised one, which register_domain also accepts back); "domain_ascii" the
// canonical form, only when it differs.
void PutDomain(json& j, const std::string& ascii, const std::string& shown) {
  j["domain"] = shown.empty() ? ascii : shown;
  if (!shown.empty() && shown != ascii) j["domain_ascii"] = ascii;
}

json OrderJson(const DomainOrder& o, const PurchaseService& p) {
  json j = {{"order_id", o.id},
            {"domain", ShownDomainName(o.domain)},
            {"years", o.years},
            {"state", ToString(o.state)},
            {"price", o.price},
            {"price_formatted", Fmt(p, o.price)},
            {"created_at", FormatUtc(o.created_at)}};
  if (ShownDomainName(o.domain) != o.domain) j["domain_ascii"] = o.domain;
  if (o.failure) j["note"] = *o.failure;
  return j;
}

}  // namespace

Tool MakeCheckDomainTool(PurchaseService& purchases, DepositStore& deposits) {
  static const auto schema = ArgSchema<CheckDomainArgs>().StringArray(
      "domains", &CheckDomainArgs::domains,
      {.min_items = 1,
       .max_items = 10,
       .min_item_length = 1,
       .max_item_length = 253,
       .description = "domain names to look up as the user wrote them, e.g. "
                      "[\"example.com\", \"한글도메인.com\"]"});
  return MakeTool<CheckDomainArgs>(
      "check_domain",
      "Whether domain names are free to register, and the one-year price in the deposit "
      "currency compared with the user's balance.",
      schema, [&purchases, &deposits](const ToolContext& ctx, const CheckDomainArgs& a) {
        auto offers = purchases.Check(a.domains);
        if (!offers) return ToolResult::FromError(offers.error());
        auto acct = deposits.GetAccount(ctx.user_id);
        int64_t balance = acct ? acct->balance : 0;
        json list = json::array();
        for (const auto& o : *offers) {
          json j = json::object();
          PutDomain(j, o.domain, o.shown);
          if (!o.valid) {
            j["valid"] = false;
            j["problem"] = o.note;
          } else if (o.unknown) {
            j["available"] = nullptr;
            j["problem"] = o.note.empty() ? "the registry did not answer" : o.note;
          } else {
            j["available"] = o.available;
            if (!o.available && !o.note.empty()) j["problem"] = o.note;
            if (o.available) {
              j["premium"] = o.premium;
              j["price"] = o.price;
              j["price_formatted"] = Fmt(purchases, o.price);
              j["balance_covers"] = balance >= o.price;
            }
          }
          list.push_back(j);
        }
        json out = {{"results", list},
                    {"balance", balance},
                    {"balance_formatted", Fmt(purchases, balance)}};
        return ToolResult::Success(MarkDemo(out, purchases));
      });
}

Tool MakeRegisterDomainTool(PurchaseService& purchases, DepositStore& deposits) {
  static const auto schema =
      ArgSchema<RegisterDomainArgs>()
          .String("domain", &RegisterDomainArgs::domain,
                  {.min_length = 1, .max_length = 253, .description = "the domain to buy"})
          .OptionalInt("years", &RegisterDomainArgs::years,
                       {.min = 1, .max = 10, .description = "registration period, default 1"});
  return MakeTool<RegisterDomainArgs>(
      "register_domain",
      "Prepares a purchase quote for a domain, paid from the deposit. Nothing is bought by this "
      "call: the user must press Confirm (or answer y) themselves before the quote expires.",
      schema, [&purchases, &deposits](const ToolContext& ctx, const RegisterDomainArgs& a) {
        auto order = purchases.Quote(ctx.user_id, a.domain, static_cast<int>(a.years.value_or(1)));
        if (!order) return ToolResult::FromError(order.error());
        auto acct = deposits.GetAccount(ctx.user_id);
        int64_t balance = acct ? acct->balance : 0;
        int64_t minutes = (purchases.pricing().quote_ttl_seconds + 59) / 60;
        json out = OrderJson(*order, purchases);
        out["expires_in_minutes"] = minutes;
        out["balance_formatted"] = Fmt(purchases, balance);
        out["balance_covers"] = balance >= order->price;
        out["needs_user_confirmation"] = true;
        out["instruction"] =
            "Tell the user the price and that they must confirm the purchase themselves; it is "
            "not bought yet.";
        MarkDemo(out, purchases);
        const std::string shown = ShownDomainName(order->domain);
        PurchaseQuoteUi ui{order->id, shown, order->years, Fmt(purchases, order->price),
                           order->quote_expires_at};
        std::string effect = "I prepared quote #" + std::to_string(order->id) + ": " + shown +
                             " for " + std::to_string(order->years) +
                             (order->years == 1 ? " year" : " years") + " at " +
                             Fmt(purchases, order->price) +
                             ". Nothing is bought yet: only you can confirm it, within " +
                             std::to_string(minutes) + (minutes == 1 ? " minute." : " minutes.");
        return ToolResult::Success(out).WithUi(ui).WithEffect(std::move(effect));
      });
}

Tool MakeListDomainsTool(PurchaseService& purchases, OrderStore& orders) {
  static const auto schema = ArgSchema<NoArgs>();
  return MakeTool<NoArgs>("list_domains",
                          "The user's domain orders (quotes, purchases, refunds) and their states.",
                          schema, [&purchases, &orders](const ToolContext& ctx, const NoArgs&) {
                            auto list = orders.ForUser(ctx.user_id, 20);
                            if (!list) return ToolResult::FromError(list.error());
                            json items = json::array();
                            for (const auto& o : *list) items.push_back(OrderJson(o, purchases));
                            json out = {{"orders", items}};
                            return ToolResult::Success(MarkDemo(out, purchases));
                          });
}

void RegisterBotTools(ToolRegistry& registry, DepositStore& deposits, UserStore& users,
                      OrderStore& orders, PurchaseService& purchases,
                      const DepositToolOptions& deposit_options) {
  registry.Register(MakeManageDepositTool(deposits, users, deposit_options));
  registry.Register(MakeCheckDomainTool(purchases, deposits));
  registry.Register(MakeRegisterDomainTool(purchases, deposits));
  registry.Register(MakeListDomainsTool(purchases, orders));
}

}  // namespace depositbot
