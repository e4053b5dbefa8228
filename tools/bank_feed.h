#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/money.h"
#include "common/result.h"
#include "db/bank_notification_store.h"
#include "db/ledger_types.h"
#include "tools/decision_handler.h"
#include "tools/tool_context.h"
#include "tools/ui_event.h"

namespace depositbot {

class DepositStore;
class UserStore;

// A depositor name as matching compares it: full-width ASCII (U+FF01..U+FF5E, U+3000) folded to
// ASCII, ASCII and Latin-1/Latin Extended-A letters lower-cased, every whitespace and common
// punctuation (. , - _ ' " ( ) / & · and their full-width forms) removed. Anything else, Hangul
// included, is compared as written. "KIM MIN-JI", "kim minji" and "ＫＩＭ　ＭＩＮＪＩ" are one key.
std::string NormalizeDepositorName(std::string_view name);

// One "transfer received" notice as the bank sent it, checked (ParseBankNotice).
struct BankNotice {
  int64_t amount = 0;  // minor units of `currency`
  Currency currency;
  std::string depositor_name;
  std::string reference;
  std::optional<int64_t> received_at;  // unix seconds; unset: when the bot got it
  std::string body;                    // as received, kept with the record
};

// Parses a notification body (docs/bank-notifications.md): a JSON object with exactly the keys
// "amount" (a decimal string in the currency's minor units: "30000", "12.50"), "currency" (an
// ISO code), "depositor_name", "reference" (1..100 of A-Z a-z 0-9 . _ : / -) and optionally
// "received_at" (unix seconds). Anything else (an unknown key, a wrong type, an amount that is
// not plain digits, zero, finer than the currency's minor unit or above `max_amount_major`
// major units) is kInvalid with a sentence naming the field.
Result<BankNotice> ParseBankNotice(std::string_view body, int64_t max_amount_major = 1'000'000);

// What a notification came to, for the answer to the bank and for the transport.
struct BankFeedResult {
  enum class Outcome { kMatched, kNeedsAdmin, kDuplicate };
  Outcome outcome = Outcome::kNeedsAdmin;
  int64_t notification_id = 0;
  std::string state;                      // the notification's state now
  std::optional<int64_t> transaction_id;  // the deposit it confirmed
  std::string reason;                     // kNeedsAdmin, or a duplicate with other details
  std::vector<UiEvent> ui;                // what the admins and the user are to be told

  // {"outcome": "matched"|"needs_admin"|"duplicate", "notification_id", "state",
  //  ["transaction_id"], ["reason"]}: the 200 answer to the bank.
  nlohmann::json ToJson() const;
};

// Matches bank notifications to pending deposits (issue 15). A notice matches a deposit that is
// pending, of the same amount, in the bot's currency, with an equal NormalizeDepositorName key.
// Exactly one match is confirmed through DepositStore::ConfirmFromBank (the notification marked
// matched in the same transaction); none or several go to the admins, who pick one or ignore it
// (Pick, Ignore, reached through DecisionHandler). A reference seen before changes nothing. A
// notice no deposit matched yet stays 'unmatched' and is matched when its deposit is requested
// (MatchRequested) or by the jobs' Sweep; an 'ambiguous' one only by an admin, an 'ignored'
// one never. Matching runs under BankNotificationStore::LockMatching, so a notice and a request
// arriving at once in two processes cannot miss each other. Thread-safe; the stores and the
// clock must outlive it.
class BankFeed {
 public:
  struct Options {
    Currency currency{"USD", 2};
  };
  BankFeed(DepositStore& deposits, BankNotificationStore& notices, UserStore& users,
           const Clock& clock, Options options);

  // Records `notice` (the signature was checked by the transport) and matches it.
  Result<BankFeedResult> Receive(const BankNotice& notice);
  // After `deposit` was requested: confirms it when exactly one unmatched notice has its amount
  // and name and it is the only pending deposit that notice matches. The UiEvent (a
  // BankNoticeDecidedUi, tell_user false) then tells the admins; nullopt when nothing matched.
  Result<std::optional<std::pair<DepositTransaction, UiEvent>>> MatchRequested(
      const DepositTransaction& deposit);
  // For the instance holding the jobs: matches again the newest unmatched notices (a safety
  // net; the request path matches them first). Returns what the admins and users are to be told.
  Result<std::vector<UiEvent>> Sweep();

  // An admin's decisions on a notice that needs one (the buttons of a BankNoticeUi). A
  // non-admin, a notice already decided, a deposit no longer pending or of another amount is
  // refused, changes nothing and says why.
  DecisionOutcome Pick(const ToolContext& who, int64_t notification_id,
                       int64_t transaction_id) const;
  DecisionOutcome Ignore(const ToolContext& who, int64_t notification_id) const;

 private:
  // Matches an open notice under the matching lock (held by the caller). `fresh`: just recorded,
  // so the admins are told also when nothing matches. Several matches mark it ambiguous (and
  // tell the admins) only when `may_mark_ambiguous`.
  Result<BankFeedResult> MatchLocked(const BankNotification& notice, bool fresh,
                                     bool may_mark_ambiguous);
  DepositDecidedUi DecidedUi(const DepositTransaction& t, const std::string& reference,
                             int64_t admin_telegram_id, const std::string& admin_name) const;
  BankNoticeUi NoticeUi(const BankNotification& n, std::string reason,
                        const std::vector<DepositTransaction>& candidates) const;
  std::string Format(int64_t amount, const std::string& currency_code) const;

  DepositStore& deposits_;
  BankNotificationStore& notices_;
  UserStore& users_;
  const Clock& clock_;
  Options options_;
};

}  // namespace depositbot
