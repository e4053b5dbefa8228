#include "tools/purchase_service.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/failpoint.h"
#include "common/lease_owner.h"
#include "common/log.h"
#include "common/text.h"
#include "db/alert_store.h"
#include "db/deposit_store.h"
#include "registrar/demo_registrar.h"

namespace depositbot {
namespace {

// Renews an order's lease every third of its length while the registrar call
// runs, from its own thread; Stop() (or the destructor) ends it before the
// outcome is recorded. A renewal that finds the lease taken stops renewing (the
// outcome's own conditional update then fails and says so); one that fails for
// another reason (a busy database) is tried again at the next period.
class LeaseKeeper {
 public:
  LeaseKeeper(OrderStore& orders, const Clock& clock, int64_t order_id, std::string owner,
              int64_t lease_seconds)
      : orders_(orders),
        clock_(clock),
        order_id_(order_id),
        owner_(std::move(owner)),
        lease_seconds_(lease_seconds),
        thread_([this] { Run(); }) {}
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;
  ~LeaseKeeper() { Stop(); }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    const auto period = std::chrono::milliseconds(std::max<int64_t>(lease_seconds_ * 1000 / 3, 50));
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
      lock.unlock();
      auto renewed = orders_.RenewLease(order_id_, owner_, clock_.NowSeconds() + lease_seconds_);
      lock.lock();
      if (!renewed && renewed.code() == ErrorCode::kFailedPrecondition) {
        Log(LogLevel::kError, "purchase.lease_lost",
            {{"order_id", std::to_string(order_id_)}, {"error", renewed.error().message}});
        return;
      }
      if (!renewed) {  // e.g. the database was busy: try again at the next period
        Log(LogLevel::kWarn, "purchase.lease_renewal_failed",
            {{"order_id", std::to_string(order_id_)}, {"error", renewed.error().message}});
      }
    }
  }

  OrderStore& orders_;
  const Clock& clock_;
  const int64_t order_id_;
  const std::string owner_;
  const int64_t lease_seconds_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after every member it reads
};

// "2,500.00 USD", "10.28 USD", "9.585 USD": registrar amounts with the cents always shown.
std::string Usd(int64_t micros) {
  std::string text = FormatMinor(micros, 6);
  while (text.size() > 3 && text.back() == '0' && text[text.size() - 3] != '.') text.pop_back();
  return text + " USD";
}

std::string Years(int years) { return std::to_string(years) + " year" + (years == 1 ? "" : "s"); }

// Why an early-access name is not sold: Namecheap adds an EAP fee on top of the price during a
// TLD's early-access phase and does not register such names through the API (reference
// namecheap-api.md §3.3, §6.3), so no price we could quote is one the registrar would take.
std::string EarlyAccessRefusal(const std::string& domain) {
  return domain +
         " is in its early-access phase (the registry adds a fee on top of the "
         "price); it is not sold here until that phase ends";
}

}  // namespace

PurchaseService::PurchaseService(DepositStore& deposits, OrderStore& orders, Registrar& registrar,
                                 const Clock& clock, PricingOptions pricing, DomainNameRules rules,
                                 PurchaseOptions options)
    : deposits_(deposits),
      orders_(orders),
      registrar_(registrar),
      clock_(clock),
      pricing_(std::move(pricing)),
      rules_(std::move(rules)),
      options_(options) {}

void PurchaseService::Alert(const std::string& key, const std::string& text) {
  Log(LogLevel::kError, "purchase.admin_alert", {{"key", key}, {"text", text}});
  if (!options_.alerts) return;
  if (auto queued = options_.alerts->Enqueue(key, text); !queued) {
    Log(LogLevel::kError, "purchase.admin_alert_not_queued",
        {{"key", key}, {"error", queued.error().message}});
  }
}

bool PurchaseService::IsDemo() const { return registrar_.IsDemo(); }

Result<int64_t> PurchaseService::PriceInCurrency(int64_t usd_micros) const {
  return ConvertUsdMicros(usd_micros, pricing_.usd_exchange_rate, pricing_.markup_percent,
                          pricing_.currency);
}

Result<std::vector<TldOffer>> PurchaseService::OfferedTlds() {
  auto offered = registrar_.OfferedTlds();
  if (!offered) {
    // Not knowing the list is not the same as an extension not being sold.
    return Error::Unavailable("I could not check which extensions the registrar offers (" +
                              offered.error().message + "); please try again in a moment");
  }
  return std::move(*offered);
}

Result<std::vector<DomainOffer>> PurchaseService::Check(const std::vector<std::string>& names) {
  std::vector<DomainOffer> out(names.size());
  std::vector<std::string> valid;
  std::vector<std::string> suffixes;
  std::vector<size_t> where;
  std::optional<std::vector<TldOffer>> offered;
  for (size_t i = 0; i < names.size(); ++i) {
    auto parsed = rules_.Parse(names[i]);
    if (parsed && !offered) {
      auto list = OfferedTlds();
      if (!list) return list.error();
      offered = std::move(*list);
    }
    Status st = parsed ? CheckOffered(*parsed, *offered) : Status(parsed.error());
    if (!st) {
      out[i].domain = parsed ? parsed->ascii : names[i];
      out[i].shown = parsed ? parsed->Shown() : names[i];
      out[i].valid = false;
      out[i].note = st.error().message;
      continue;
    }
    out[i].domain = parsed->ascii;
    out[i].shown = parsed->Shown();
    valid.push_back(parsed->ascii);
    suffixes.push_back(parsed->suffix);
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
      o.note = EarlyAccessRefusal(o.shown);
      continue;
    }
    int64_t usd = 0;
    if (a.premium) {
      usd = a.premium_price_usd_micros + a.icann_fee_usd_micros;
    } else {
      auto quote = registrar_.Price(suffixes[k], 1);
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
  auto parsed = rules_.Parse(name);
  if (!parsed) return parsed.error();
  auto offered = OfferedTlds();
  if (!offered) return offered.error();
  if (Status st = CheckOffered(*parsed, *offered); !st) return st.error();
  const std::string shown = parsed->Shown();
  if (const TldOffer* offer = FindOffer(*offered, parsed->suffix);
      offer && (years < offer->min_years || years > offer->max_years)) {
    return Error::Invalid("." + ShownDomainName(parsed->suffix) + " names can be registered for " +
                          std::to_string(offer->min_years) + " to " +
                          std::to_string(offer->max_years) + " years, not " +
                          std::to_string(years));
  }
  // From here on only the canonical ASCII form is used: it is what is checked, priced, stored
  // and later sent to the registrar.
  const std::string* domain = &parsed->ascii;
  auto answers = registrar_.Check({*domain});
  if (!answers) return answers.error().ToError();
  if (answers->empty()) return Error::Unavailable("the registrar gave no answer for " + shown);
  const DomainAvailability& a = answers->front();
  if (CanonicalDomainSpelling(a.domain) != *domain) {
    return Error::Unavailable("the registrar answered about " + ShownDomainName(a.domain) +
                              " when asked about " + shown + "; please try again later");
  }
  if (a.unknown) {
    return Error::Unavailable("the registry did not say whether " + shown +
                              " is free; please try again later");
  }
  if (!a.available) return Error::FailedPrecondition(shown + " is already taken");
  if (a.eap_fee_usd_micros > 0) return Error::FailedPrecondition(EarlyAccessRefusal(shown));
  int64_t usd = 0;
  if (a.premium) {
    if (years != 1) return Error::Invalid("premium names can only be bought for one year here");
    usd = a.premium_price_usd_micros + a.icann_fee_usd_micros;
  } else {
    auto quote = registrar_.Price(parsed->suffix, years);
    if (!quote) return quote.error().ToError();
    usd = quote->total_usd_micros;
  }
  auto price = PriceInCurrency(usd);
  if (!price) return price.error();
  if (*price <= 0 || usd <= 0)
    return Error::Unavailable("the registrar gave no price for " + shown);
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

Result<PurchaseOutcome> PurchaseService::Refund(const DomainOrder& order, std::string_view owner,
                                                const std::string& why) {
  if (!order.purchase_transaction_id) {
    return Error::Internal("order #" + std::to_string(order.id) + " has no purchase row");
  }
  // The refund and ->refunded commit together, and only while `owner` holds the lease.
  auto refund = deposits_.Refund(*order.purchase_transaction_id, why, [&](StoreTransaction& tx) {
    return orders_.MarkRefundedIn(tx, order.id, owner, why);
  });
  if (!refund) return refund.error();
  auto after = orders_.Get(order.id);
  if (!after) return after.error();
  Log(LogLevel::kInfo, "purchase.refunded",
      {{"order_id", std::to_string(order.id)}, {"domain", order.domain}, {"why", why}});
  return PurchaseOutcome{*after, "The registrar did not register " + ShownDomainName(order.domain) +
                                     " (" + why + "). " +
                                     FormatAmount(order.price, pricing_.currency) +
                                     " went back to your balance."};
}

Result<PurchaseOutcome> PurchaseService::Confirm(int64_t user_id, int64_t order_id) {
  auto order = orders_.Get(order_id);
  if (!order) return order.error();
  if (order->user_id != user_id) {
    return Error::Forbidden("order #" + std::to_string(order_id) + " is not yours");
  }
  if (order->state != DomainOrder::State::kQuoted) {
    return Error::FailedPrecondition(
        "order #" + std::to_string(order_id) + " for " + ShownDomainName(order->domain) +
        " is already " + std::string(ToString(order->state)) + "; nothing was charged again");
  }
  if (clock_.NowSeconds() > order->quote_expires_at) {
    (void)orders_.MarkExpired(order_id);
    return Error::FailedPrecondition("the quote for " + ShownDomainName(order->domain) +
                                     " has expired; ask for a new one");
  }
  std::string description = order->domain + " for " + Years(order->years);
  // This execution owns the order from the debit on (the lease commits with it).
  const std::string owner = NewLeaseOwner();
  auto debit = deposits_.Purchase(
      user_id, order->price, OrderReference(order_id), description, [&](StoreTransaction& tx) {
        return orders_.MarkChargedIn(tx, order_id, owner,
                                     clock_.NowSeconds() + options_.lease_seconds);
      });
  if (!debit) {
    if (debit.code() == ErrorCode::kInsufficientFunds) {
      auto acct = deposits_.GetAccount(user_id);
      return Error::InsufficientFunds(
          ShownDomainName(order->domain) + " costs " +
          FormatAmount(order->price, pricing_.currency) + " but your balance is " +
          (acct ? FormatAmount(acct->balance, pricing_.currency) : std::string("lower")) +
          "; top up with a deposit first");
    }
    return debit.error();
  }
  LeaseKeeper keeper(orders_, clock_, order_id, owner, options_.lease_seconds);
  Log(LogLevel::kInfo, "purchase.charged",
      {{"order_id", std::to_string(order_id)},
       {"domain", order->domain},
       {"transaction_id", std::to_string(debit->id)},
       {"price", std::to_string(order->price)}});
  auto charged = orders_.Get(order_id);
  if (!charged) return charged.error();
  const std::string checking = " I am checking with it: you will either get the domain or your " +
                               FormatAmount(order->price, pricing_.currency) +
                               " back — never both, never charged twice.";
  // A failure here leaves the order charged with no registrar call: Recover() refunds it
  // once the lease has expired or this process is gone.
  if (auto st = DEPOSITBOT_FAILPOINT("purchase.after_debit"); !st) return st.error();
  if (auto sent =
          orders_.MarkCreateSent(order_id, owner, clock_.NowSeconds() + options_.lease_seconds);
      !sent) {
    // This execution stalled past its lease and a recovery took the order over: it
    // decides the outcome; creating now could register a name it is refunding.
    Log(LogLevel::kError, "purchase.lease_lost_before_create",
        {{"order_id", std::to_string(order_id)}, {"error", sent.error().message}});
    return PurchaseOutcome{*charged, "Your order for " + ShownDomainName(order->domain) +
                                         " was interrupted before the registrar was asked." +
                                         checking};
  }

  CreateRequest req{order->domain, order->years, order->premium_usd_micros};
  auto created = registrar_.Create(req);
  keeper.Stop();
  if (created) {
    // A failure here leaves a registered name on a charged order: Recover() completes it.
    if (auto st = DEPOSITBOT_FAILPOINT("purchase.after_create"); !st) return st.error();
    return Registered(*charged, owner, *created);
  }
  const RegistrarFailure& f = created.error();
  if (f.OutcomeUnknown()) {
    Log(LogLevel::kWarn, "purchase.outcome_unknown",
        {{"order_id", std::to_string(order_id)}, {"domain", order->domain}, {"error", f.message}});
    auto unknown = orders_.MarkUnknown(order_id, owner, f.message);
    return PurchaseOutcome{
        unknown ? *unknown : *charged,
        "The registrar did not confirm " + ShownDomainName(order->domain) + " in time." + checking};
  }
  auto refunded = Refund(*charged, owner, f.message);
  if (!refunded) {
    // The refund itself failed (e.g. a version conflict three times): leave the
    // order for the recovery job, which will refund it.
    Log(LogLevel::kError, "purchase.refund_deferred",
        {{"order_id", std::to_string(order_id)}, {"error", refunded.error().message}});
    auto unknown = orders_.MarkUnknown(order_id, owner, "refund pending: " + f.message);
    return PurchaseOutcome{unknown ? *unknown : *charged,
                           "The registrar refused " + ShownDomainName(order->domain) + " (" +
                               f.message +
                               "). Your refund is queued and will reach your balance shortly."};
  }
  return refunded;
}

std::string PurchaseService::CreateAnswerMismatch(const DomainOrder& order,
                                                  const CreateResult& created) const {
  // Canonical spellings on both sides: "한글도메인.com" and "XN--BJ0BJ3I97FQ8O5LQ.COM" are the
  // order's name, "c00lname.com" or a name that differs once mapped is not.
  std::string answered = CanonicalDomainSpelling(created.domain);
  if (answered != order.domain) {
    return "it answered for " +
           (answered.empty() ? std::string("no domain") : ShownDomainName(answered)) + ", not " +
           ShownDomainName(order.domain);
  }
  if (created.charged_usd_micros < 0 || created.charged_usd_micros > order.registrar_usd_micros) {
    return "it charged " + Usd(created.charged_usd_micros) + " on a quote of " +
           Usd(order.registrar_usd_micros);
  }
  return "";
}

Result<PurchaseOutcome> PurchaseService::Registered(const DomainOrder& order,
                                                    std::string_view owner,
                                                    const CreateResult& created) {
  const std::string id = std::to_string(order.id);
  const std::string checking = " I am checking with it: you will either get the domain or your " +
                               FormatAmount(order.price, pricing_.currency) +
                               " back — never both, never charged twice.";
  if (std::string mismatch = CreateAnswerMismatch(order, created); !mismatch.empty()) {
    // Believe neither the success nor a failure: recovery asks the registrar about
    // the name itself (GetInfo) and completes or refunds from that.
    auto unknown = orders_.MarkUnknown(order.id, owner, "registrar answer disagrees: " + mismatch);
    Alert("order:" + id + ":create_answer_mismatch",
          "Order #" + id + " (" + ShownDomainName(order.domain) + ", user " +
              std::to_string(order.user_id) + "): the registrar reported the create as done, but " +
              mismatch + ". The order is now unknown and recovery will ask the registrar about " +
              ShownDomainName(order.domain) +
              ". Check the registrar account for a name or charge we did not ask for.");
    return PurchaseOutcome{unknown ? *unknown : order, "The registrar's answer for " +
                                                           ShownDomainName(order.domain) +
                                                           " did not match your order." + checking};
  }
  auto done = orders_.MarkRegistered(order.id, owner, created.order_id, created.domain_id);
  if (done) {
    Log(LogLevel::kInfo, "purchase.registered", {{"order_id", id}, {"domain", order.domain}});
    return PurchaseOutcome{*done, ShownDomainName(order.domain) + " is registered to you for " +
                                      Years(order.years) + "; " +
                                      FormatAmount(order.price, pricing_.currency) +
                                      " was taken from your balance."};
  }
  // The lease was taken over while the registrar answered (this process stalled
  // past it). Whatever happened since, the registration must not be dropped.
  auto now_order = orders_.Get(order.id);
  if (now_order && now_order->state == DomainOrder::State::kRefunded) {
    auto recorded = orders_.RecordLateRegistration(
        order.id, created.order_id, created.domain_id,
        "registered by the registrar after the refund (registrar order " + created.order_id + ")");
    Alert("order:" + id + ":registered_after_refund",
          "Order #" + id + " (" + ShownDomainName(order.domain) + ", user " +
              std::to_string(order.user_id) +
              "): the registrar registered the name after the order had been refunded. The user "
              "holds the name and has their " +
              FormatAmount(order.price, pricing_.currency) +
              " back. Decide with them: charge again by adjustment, or cancel the name.");
    return PurchaseOutcome{recorded ? *recorded : *now_order,
                           "The registrar registered " + ShownDomainName(order.domain) +
                               " after your order had already been refunded. The admins have "
                               "been told and will contact you; nothing more was charged."};
  }
  // Still charged or unknown under another execution's lease: its recovery asks the
  // registrar, finds the name registered and completes the order.
  Log(LogLevel::kError, "purchase.registered_under_lost_lease",
      {{"order_id", id}, {"domain", order.domain}, {"error", done.error().message}});
  return PurchaseOutcome{now_order ? *now_order : order,
                         "The registrar reports " + ShownDomainName(order.domain) +
                             " registered; I am confirming it and will not charge you again."};
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
  const int64_t now = clock_.NowSeconds();
  // Saturates: min_age_seconds comes from a flag.
  const int64_t cutoff = min_age_seconds > now ? 0 : now - min_age_seconds;
  std::vector<DomainOrder> todo;
  for (auto state : {DomainOrder::State::kUnknown, DomainOrder::State::kCharged}) {
    auto list = orders_.InState(state, cutoff);
    if (!list) return list.error();
    todo.insert(todo.end(), list->begin(), list->end());
  }
  for (const auto& order : todo) {
    std::optional<std::string> gone;
    if (order.LeaseLive(clock_.NowSeconds())) {
      if (!LeaseOwnerIsGone(*order.lease_owner)) {
        ++report.leased;
        continue;
      }
      gone = order.lease_owner;  // crashed on this host: its lease is void
    }
    const std::string owner = NewLeaseOwner();
    auto taken =
        orders_.TakeLease(order.id, owner, clock_.NowSeconds() + options_.lease_seconds, gone);
    if (!taken) return taken.error();
    if (!*taken) {
      ++report.leased;  // another execution took it between the read and now
      continue;
    }
    ++report.checked;
    LeaseKeeper keeper(orders_, clock_, order.id, owner, options_.lease_seconds);
    auto fresh = orders_.Get(order.id);  // as it is now that this execution owns it
    if (!fresh) return fresh.error();
    RecoverOne(*fresh, owner, report);
    keeper.Stop();
    (void)orders_.ReleaseLease(order.id, owner);  // a no-op once the order was decided
  }
  return report;
}

void PurchaseService::RecoverOne(const DomainOrder& order, std::string_view owner,
                                 RecoveryReport& report) {
  const std::string id = std::to_string(order.id);
  auto refund = [&](const std::string& why) {
    if (auto refunded = Refund(order, owner, why); refunded) {
      ++report.refunded;
    } else {
      ++report.still_unknown;
      Log(LogLevel::kError, "recovery.refund_failed",
          {{"order_id", id}, {"error", refunded.error().message}});
    }
  };
  if (!order.create_sent_at) {
    // The create was never sent (it is recorded durably before it is): nothing can
    // have been registered, so there is nothing to ask.
    refund("the purchase was interrupted before the registrar was asked");
    return;
  }
  auto info = registrar_.GetInfo(order.domain);
  if (info && info->is_ours) {
    if (orders_.MarkRegistered(order.id, owner, "", info->domain_id)) {
      ++report.registered;
      Log(LogLevel::kInfo, "recovery.registered", {{"order_id", id}, {"domain", order.domain}});
    } else {
      ++report.still_unknown;
    }
    return;
  }
  const bool not_found = !info && info.error().kind == RegistrarFailure::Kind::kNotFound;
  if (not_found || (info && !info->is_ours)) {
    // A registrar may not list a name it has just created: "not found" is only an
    // answer once the grace period after the create has passed.
    const int64_t since_create = clock_.NowSeconds() - *order.create_sent_at;
    if (not_found && since_create < options_.not_found_grace_seconds) {
      ++report.still_unknown;
      Log(LogLevel::kWarn, "recovery.not_found_within_grace",
          {{"order_id", id},
           {"domain", order.domain},
           {"seconds_since_create", std::to_string(since_create)}});
      return;
    }
    refund("the registrar has no record of the registration");
    return;
  }
  ++report.still_unknown;
  Log(LogLevel::kWarn, "recovery.still_unknown",
      {{"order_id", id}, {"domain", order.domain}, {"error", info.error().message}});
}

}  // namespace depositbot
