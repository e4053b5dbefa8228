#include "tools/purchase_service.h"

#include "common/failpoint.h"
#include "common/log.h"
#include "db/database.h"
#include "db/deposit_repository.h"
#include "registrar/demo_registrar.h"
#include "registrar/registrar.h"

namespace depositbot {
namespace {

// Why an early-access name is not sold: Namecheap adds an EAP fee on top of the price during a
// TLD's early-access phase and does not register such names through the API (reference
// namecheap-api.md §3.3, §6.3), so no price we could quote is one the registrar would take.
std::string EarlyAccessRefusal(const std::string& domain) {
  return domain +
         " is in its early-access phase (the registry adds a fee on top of the "
         "price); it is not sold here until that phase ends";
}

}  // namespace

PurchaseService::PurchaseService(DepositRepository& deposits, OrderRepository& orders,
                                 Registrar& registrar, const Clock& clock, PricingOptions pricing,
                                 DomainNameRules rules)
    : deposits_(deposits),
      orders_(orders),
      registrar_(registrar),
      clock_(clock),
      pricing_(std::move(pricing)),
      rules_(std::move(rules)) {}

bool PurchaseService::IsDemo() const { return registrar_.IsDemo(); }

Result<int64_t> PurchaseService::PriceInCurrency(int64_t usd_micros) const {
  return ConvertUsdMicros(usd_micros, pricing_.usd_exchange_rate, pricing_.markup_percent,
                          pricing_.currency);
}

Result<std::vector<DomainOffer>> PurchaseService::Check(const std::vector<std::string>& names) {
  std::vector<DomainOffer> out(names.size());
  std::vector<std::string> valid;
  std::vector<size_t> where;
  for (size_t i = 0; i < names.size(); ++i) {
    auto n = NormalizeDomainName(names[i], rules_);
    if (!n) {
      out[i] = DomainOffer{names[i], false, false, false, false, 0, n.error().message};
      continue;
    }
    out[i].domain = *n;
    valid.push_back(*n);
    where.push_back(i);
  }
  if (valid.empty()) return out;
  auto answers = registrar_.Check(valid);
  if (!answers) return answers.error().ToError();
  for (size_t k = 0; k < answers->size() && k < where.size(); ++k) {
    const DomainAvailability& a = (*answers)[k];
    DomainOffer& o = out[where[k]];
    o.available = a.available;
    o.premium = a.premium;
    o.unknown = a.unknown;
    o.note = a.note;
    if (!a.available) continue;
    if (a.eap_fee_usd_micros > 0) {
      o.available = false;
      o.note = EarlyAccessRefusal(o.domain);
      continue;
    }
    int64_t usd = 0;
    if (a.premium) {
      usd = a.premium_price_usd_micros + a.icann_fee_usd_micros;
    } else {
      auto quote = registrar_.Price(LastLabel(o.domain), 1);
      if (!quote) {
        o.unknown = true;
        o.note = "no price: " + quote.error().message;
        continue;
      }
      usd = quote->total_usd_micros;
    }
    auto price = PriceInCurrency(usd);
    if (!price) return price.error();
    o.price = *price;
  }
  return out;
}

Result<DomainOrder> PurchaseService::Quote(int64_t user_id, std::string_view name, int years) {
  if (years < 1 || years > 10) return Error::Invalid("years must be between 1 and 10");
  auto domain = NormalizeDomainName(name, rules_);
  if (!domain) return domain.error();
  auto answers = registrar_.Check({*domain});
  if (!answers) return answers.error().ToError();
  if (answers->empty()) return Error::Unavailable("the registrar gave no answer for " + *domain);
  const DomainAvailability& a = answers->front();
  if (a.unknown) {
    return Error::Unavailable("the registry did not say whether " + *domain +
                              " is free; please try again later");
  }
  if (!a.available) return Error::FailedPrecondition(*domain + " is already taken");
  if (a.eap_fee_usd_micros > 0) return Error::FailedPrecondition(EarlyAccessRefusal(*domain));
  int64_t usd = 0;
  if (a.premium) {
    if (years != 1) return Error::Invalid("premium names can only be bought for one year here");
    usd = a.premium_price_usd_micros + a.icann_fee_usd_micros;
  } else {
    auto quote = registrar_.Price(LastLabel(*domain), years);
    if (!quote) return quote.error().ToError();
    usd = quote->total_usd_micros;
  }
  auto price = PriceInCurrency(usd);
  if (!price) return price.error();
  if (*price <= 0 || usd <= 0) return Error::Unavailable("the registrar gave no price for " + *domain);
  return orders_.CreateQuote(user_id, *domain, years, *price, usd,
                             a.premium ? a.premium_price_usd_micros : 0,
                             clock_.NowSeconds() + pricing_.quote_ttl_seconds);
}

Result<DomainOrder> PurchaseService::Cancel(int64_t user_id, int64_t order_id) {
  auto order = orders_.Get(order_id);
  if (!order) return order.error();
  if (order->user_id != user_id) {
    return Error::Forbidden("order #" + std::to_string(order_id) + " is not yours");
  }
  return orders_.MarkCancelled(order_id);
}

Result<PurchaseOutcome> PurchaseService::Refund(const DomainOrder& order, const std::string& why) {
  if (!order.purchase_transaction_id) {
    return Error::Internal("order #" + std::to_string(order.id) + " has no purchase row");
  }
  auto refund = deposits_.Refund(*order.purchase_transaction_id, why, [&](Database& db) {
    return orders_.MarkRefundedIn(db, order.id, why);
  });
  if (!refund) return refund.error();
  auto after = orders_.Get(order.id);
  if (!after) return after.error();
  Log(LogLevel::kInfo, "purchase.refunded",
      {{"order_id", std::to_string(order.id)}, {"domain", order.domain}, {"why", why}});
  return PurchaseOutcome{*after, "The registrar did not register " + order.domain + " (" + why +
                                     "). " + FormatAmount(order.price, pricing_.currency) +
                                     " went back to your balance."};
}

Result<PurchaseOutcome> PurchaseService::Confirm(int64_t user_id, int64_t order_id) {
  auto order = orders_.Get(order_id);
  if (!order) return order.error();
  if (order->user_id != user_id) {
    return Error::Forbidden("order #" + std::to_string(order_id) + " is not yours");
  }
  if (order->state != DomainOrder::State::kQuoted) {
    return Error::FailedPrecondition("order #" + std::to_string(order_id) + " for " +
                                     order->domain + " is already " +
                                     std::string(ToString(order->state)) +
                                     "; nothing was charged again");
  }
  if (clock_.NowSeconds() > order->quote_expires_at) {
    (void)orders_.MarkExpired(order_id);
    return Error::FailedPrecondition("the quote for " + order->domain +
                                     " has expired; ask for a new one");
  }
  std::string description =
      order->domain + " for " + std::to_string(order->years) + " year" +
      (order->years == 1 ? "" : "s");
  auto debit = deposits_.Purchase(user_id, order->price, OrderReference(order_id), description,
                                  [&](Database& db) { return orders_.MarkChargedIn(db, order_id); });
  if (!debit) {
    if (debit.code() == ErrorCode::kInsufficientFunds) {
      auto acct = deposits_.GetAccount(user_id);
      return Error::InsufficientFunds(
          order->domain + " costs " + FormatAmount(order->price, pricing_.currency) +
          " but your balance is " +
          (acct ? FormatAmount(acct->balance, pricing_.currency) : std::string("lower")) +
          "; top up with a deposit first");
    }
    return debit.error();
  }
  Log(LogLevel::kInfo, "purchase.charged",
      {{"order_id", std::to_string(order_id)},
       {"domain", order->domain},
       {"transaction_id", std::to_string(debit->id)},
       {"price", std::to_string(order->price)}});
  auto charged = orders_.Get(order_id);
  if (!charged) return charged.error();
  // A failure here leaves the order charged with no registrar call: Recover() refunds it.
  if (auto st = DEPOSITBOT_FAILPOINT("purchase.after_debit"); !st) return st.error();

  CreateRequest req{order->domain, order->years, order->premium_usd_micros};
  auto created = registrar_.Create(req);
  if (created) {
    // A failure here leaves a registered name on a charged order: Recover() completes it.
    if (auto st = DEPOSITBOT_FAILPOINT("purchase.after_create"); !st) return st.error();
    auto done = orders_.MarkRegistered(order_id, created->order_id, created->domain_id);
    if (!done) return done.error();  // charged stays; recovery completes it
    Log(LogLevel::kInfo, "purchase.registered",
        {{"order_id", std::to_string(order_id)}, {"domain", order->domain}});
    return PurchaseOutcome{*done, order->domain + " is registered to you for " +
                                      std::to_string(order->years) + " year" +
                                      (order->years == 1 ? "" : "s") + "; " +
                                      FormatAmount(order->price, pricing_.currency) +
                                      " was taken from your balance."};
  }
  const RegistrarFailure& f = created.error();
  if (f.OutcomeUnknown()) {
    Log(LogLevel::kWarn, "purchase.outcome_unknown",
        {{"order_id", std::to_string(order_id)}, {"domain", order->domain}, {"error", f.message}});
    auto unknown = orders_.MarkUnknown(order_id, f.message);
    return PurchaseOutcome{unknown ? *unknown : *charged,
                           "The registrar did not confirm " + order->domain +
                               " in time. I am checking with it: you will either get the "
                               "domain or your " +
                               FormatAmount(order->price, pricing_.currency) +
                               " back — never both, never charged twice."};
  }
  auto refunded = Refund(*charged, f.message);
  if (!refunded) {
    // The refund itself failed (e.g. a version conflict three times): leave the
    // order for the recovery job, which will refund it.
    Log(LogLevel::kError, "purchase.refund_deferred",
        {{"order_id", std::to_string(order_id)}, {"error", refunded.error().message}});
    auto unknown = orders_.MarkUnknown(order_id, "refund pending: " + f.message);
    return PurchaseOutcome{unknown ? *unknown : *charged,
                           "The registrar refused " + order->domain + " (" + f.message +
                               "). Your refund is queued and will reach your balance shortly."};
  }
  return refunded;
}

std::string ConfirmReply(const Result<PurchaseOutcome>& outcome, bool demo) {
  std::string text = outcome ? outcome->message : "Not bought: " + outcome.error().message;
  if (demo) text += "\n(" + std::string(kDemoRegistrarNotice) + ")";
  return text;
}

std::string CancelReply(int64_t order_id, const Result<DomainOrder>& cancelled) {
  return cancelled ? "Not bought; quote #" + std::to_string(order_id) + " cancelled."
                   : "Not bought: " + cancelled.error().message;
}

Result<RecoveryReport> PurchaseService::Recover(int64_t min_age_seconds) {
  RecoveryReport report;
  int64_t cutoff = clock_.NowSeconds() - min_age_seconds;
  std::vector<DomainOrder> todo;
  for (auto state : {DomainOrder::State::kUnknown, DomainOrder::State::kCharged}) {
    auto list = orders_.InState(state, cutoff);
    if (!list) return list.error();
    todo.insert(todo.end(), list->begin(), list->end());
  }
  for (const auto& order : todo) {
    ++report.checked;
    auto info = registrar_.GetInfo(order.domain);
    if (info && info->is_ours) {
      if (orders_.MarkRegistered(order.id, "", info->domain_id)) {
        ++report.registered;
        Log(LogLevel::kInfo, "recovery.registered",
            {{"order_id", std::to_string(order.id)}, {"domain", order.domain}});
      }
      continue;
    }
    bool definitely_absent =
        (!info && info.error().kind == RegistrarFailure::Kind::kNotFound) ||
        (info && !info->is_ours);
    if (!definitely_absent) {
      ++report.still_unknown;
      Log(LogLevel::kWarn, "recovery.still_unknown",
          {{"order_id", std::to_string(order.id)},
           {"domain", order.domain},
           {"error", info ? std::string("not ours") : info.error().message}});
      continue;
    }
    auto refunded = Refund(order, "the registrar has no record of the registration");
    if (refunded) {
      ++report.refunded;
    } else {
      ++report.still_unknown;
      Log(LogLevel::kError, "recovery.refund_failed",
          {{"order_id", std::to_string(order.id)}, {"error", refunded.error().message}});
    }
  }
  return report;
}

}  // namespace depositbot
