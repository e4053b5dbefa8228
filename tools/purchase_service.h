#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/money.h"
#include "common/result.h"
#include "db/order_repository.h"
#include "registrar/domain_name.h"

namespace depositbot {

class DepositRepository;
class Registrar;

struct PricingOptions {
  Currency currency{"USD", 2};
  Decimal usd_exchange_rate{1, 0};
  Decimal markup_percent{0, 0};
  int64_t quote_ttl_seconds = 600;
};

// One name's availability and price in the deposit currency.
struct DomainOffer {
  std::string domain;  // normalized, or as given when invalid
  bool valid = true;
  bool available = false;
  bool premium = false;
  bool unknown = false;  // the registry did not answer for it
  int64_t price = 0;     // minor units for one year; 0 unless available
  std::string note;      // why not valid / unknown / not sold although free
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
};

// Buying domains from the deposit (DESIGN.md money rule 5):
// quote -> the user confirms outside the model -> debit and quoted->charged in
// one transaction -> registrar create -> registered, or on a definite failure
// refund and ->refunded together, or on an unknown outcome ->unknown for
// Recover(), which asks the registrar and completes or refunds. Never charged
// twice (one purchase row per order), never refunded twice (one refund row per
// purchase), one live order per domain. Thread-safe.
class PurchaseService {
 public:
  PurchaseService(DepositRepository& deposits, OrderRepository& orders, Registrar& registrar,
                  const Clock& clock, PricingOptions pricing, DomainNameRules rules = {});

  // Availability and one-year prices; invalid names come back with valid=false. A name in its
  // early-access phase (an EAP fee) is offered as not available, `note` saying why.
  Result<std::vector<DomainOffer>> Check(const std::vector<std::string>& names);
  // A quote the user must confirm before quote_ttl_seconds pass. Refused (kFailedPrecondition)
  // for a taken name and for one in its early-access phase, which the API does not sell.
  Result<DomainOrder> Quote(int64_t user_id, std::string_view name, int years);
  // The user's confirmation (a button or y/N, never the model).
  Result<PurchaseOutcome> Confirm(int64_t user_id, int64_t order_id);
  // The user declines a quote.
  Result<DomainOrder> Cancel(int64_t user_id, int64_t order_id);
  // Resolves unknown orders, and charged ones untouched for min_age_seconds
  // (a crash between the debit and the registrar's answer).
  Result<RecoveryReport> Recover(int64_t min_age_seconds);

  Result<int64_t> PriceInCurrency(int64_t usd_micros) const;
  bool IsDemo() const;
  const PricingOptions& pricing() const { return pricing_; }

 private:
  Result<PurchaseOutcome> Refund(const DomainOrder& order, const std::string& why);

  DepositRepository& deposits_;
  OrderRepository& orders_;
  Registrar& registrar_;
  const Clock& clock_;
  PricingOptions pricing_;
  DomainNameRules rules_;
};

// What the user is told after confirming a quote outside the model (the
// terminal's y, the Telegram button, a replayed press): the outcome or why
// nothing was bought, plus the demo notice when nothing is really registered.
std::string ConfirmReply(const Result<PurchaseOutcome>& outcome, bool demo);
// What the user is told after declining quote `order_id`.
std::string CancelReply(int64_t order_id, const Result<DomainOrder>& cancelled);

}  // namespace depositbot
