#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/money.h"
#include "common/result.h"
#include "db/order_store.h"
#include "registrar/domain_name.h"
#include "registrar/registrar.h"

namespace depositbot {

class AlertStore;
class DepositStore;
class Registrar;

struct PricingOptions {
  Currency currency{"USD", 2};
  Decimal usd_exchange_rate{1, 0};
  Decimal markup_percent{0, 0};
  int64_t quote_ttl_seconds = 600;
};

// How purchases are executed and recovered (DESIGN.md money rule 5).
struct PurchaseOptions {
  // How long an execution owns an order without renewing; renewed every third of it while
  // the registrar call runs. A recovery elsewhere waits this long after a silent crash on
  // another host (a crash on this host is seen at once: the owner's process is gone).
  int64_t lease_seconds = 60;
  // A registrar that does not know a name it was just asked to create may only be slow to
  // say so: "not found" is an unknown outcome until this long after the create was sent.
  int64_t not_found_grace_seconds = 900;
  // Where alerts for the admins are queued (registrar answers that disagree with the order,
  // a name registered after its refund). Null: they are only logged.
  AlertStore* alerts = nullptr;
};

// One name's availability and price in the deposit currency.
struct DomainOffer {
  std::string domain;  // normalized (canonical ASCII), or as given when it does not parse
  bool valid = true;
  bool available = false;
  bool premium = false;
  bool unknown = false;  // the registry did not answer for it
  int64_t price = 0;     // minor units for one year; 0 unless available
  std::string note;      // why not valid / unknown / not sold although free
  // How the name is shown to people: "한글도메인.com (xn--bj0bj3i97fq8o5lq.com)" for an
  // internationalised one (ShownDomainName), else the same as `domain`.
  std::string shown;
};

// What a confirmed purchase came to.
struct PurchaseOutcome {
  DomainOrder order;
  std::string message;  // a sentence for the user
};

struct RecoveryReport {
  int checked = 0;
  int registered = 0;
  int refunded = 0;
  int still_unknown = 0;
  int leased = 0;  // left alone: another execution holds a live lease on them
};

// Buying domains from the deposit (DESIGN.md money rule 5):
// quote -> the user confirms outside the model -> debit and quoted->charged in
// one transaction -> registrar create -> registered, or on a definite failure
// refund and ->refunded together, or on an unknown outcome ->unknown for
// Recover(), which asks the registrar and completes or refunds. Never charged
// twice (one purchase row per order), never refunded twice (one refund row per
// purchase), one live order per domain. The execution that charged an order
// holds its lease (OrderStore) until the outcome is recorded; Recover()
// takes only orders whose lease expired or whose owner's process is gone, so a
// recovery in any process never races a purchase in flight. A registrar answer
// is checked against the order (domain, amount charged) before it is believed.
// Thread-safe; several processes may run it on one database.
class PurchaseService {
 public:
  PurchaseService(DepositStore& deposits, OrderStore& orders, Registrar& registrar,
                  const Clock& clock, PricingOptions pricing, DomainNameRules rules = {},
                  PurchaseOptions options = {});

  // Availability and one-year prices; invalid names, and names under an extension the registrar
  // does not offer, come back with valid=false and the reason. A name in its early-access phase
  // (an EAP fee) is offered as not available, `note` saying why. kUnavailable when the
  // registrar's list of extensions cannot be had (never reported as "not offered").
  // Names are read as people type them (DomainNameRules::Parse: Unicode, full-width, any case);
  // `domain` is the canonical ASCII form.
  Result<std::vector<DomainOffer>> Check(const std::vector<std::string>& names);
  // A quote the user must confirm before quote_ttl_seconds pass. Refused (kFailedPrecondition)
  // for a taken name and for one in its early-access phase, which the API does not sell;
  // kInvalid for a name the rules refuse or under an extension not offered. The order stores
  // the canonical ASCII name: confirmation, recovery and reconciliation use it as stored,
  // never re-reading it under a newer Public Suffix List.
  Result<DomainOrder> Quote(int64_t user_id, std::string_view name, int years);
  // The user's confirmation (a button or y/N, never the model).
  Result<PurchaseOutcome> Confirm(int64_t user_id, int64_t order_id);
  // The user declines a quote.
  Result<DomainOrder> Cancel(int64_t user_id, int64_t order_id);
  // Resolves unknown orders, and charged ones untouched for min_age_seconds
  // (a crash between the debit and the registrar's answer), skipping every order
  // another execution holds a live lease on.
  Result<RecoveryReport> Recover(int64_t min_age_seconds);

  Result<int64_t> PriceInCurrency(int64_t usd_micros) const;
  bool IsDemo() const;
  const PricingOptions& pricing() const { return pricing_; }

 private:
  Result<std::vector<TldOffer>> OfferedTlds();
  Result<PurchaseOutcome> Refund(const DomainOrder& order, std::string_view owner,
                                 const std::string& why);
  // Why the registrar's create answer cannot be believed for `order`; empty when it fits.
  std::string CreateAnswerMismatch(const DomainOrder& order, const CreateResult& created) const;
  Result<PurchaseOutcome> Registered(const DomainOrder& order, std::string_view owner,
                                     const CreateResult& created);
  // One order of Recover(), under `owner`'s lease.
  void RecoverOne(const DomainOrder& order, std::string_view owner, RecoveryReport& report);
  void Alert(const std::string& key, const std::string& text);

  DepositStore& deposits_;
  OrderStore& orders_;
  Registrar& registrar_;
  const Clock& clock_;
  PricingOptions pricing_;
  DomainNameRules rules_;
  PurchaseOptions options_;
};

// What the user is told after confirming a quote outside the model (the
// terminal's y, the Telegram button, a replayed press): the outcome or why
// nothing was bought, plus the demo notice when nothing is really registered.
std::string ConfirmReply(const Result<PurchaseOutcome>& outcome, bool demo);
// What the user is told after declining quote `order_id`.
std::string CancelReply(int64_t order_id, const Result<DomainOrder>& cancelled);

}  // namespace depositbot
