#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "db/ledger_types.h"
#include "db/store_transaction.h"

namespace depositbot {

// Runs inside the balance change's transaction (e.g. an order's state
// transition, see OrderStore::MarkChargedIn); an error rolls the whole change back.
using InTransaction = std::function<Status(StoreTransaction&)>;

// The only code path that changes a balance (DESIGN.md money rules 1-3).
// Every balance change is version-checked: it reads (balance, version), then
// in one transaction updates the balance only if the version is unchanged,
// together with its ledger row. A version mismatch rolls back and is retried
// with backoff, at most 3 attempts in all (the default); after the last one the
// call returns kConflict with nothing applied.
// Refusals (kInvalid, kNotFound, kForbidden, kFailedPrecondition,
// kInsufficientFunds) change nothing and say why.
// Implementations are thread-safe, also across processes sharing the store.
class DepositStore {
 public:
  virtual ~DepositStore() = default;

  virtual Result<Account> GetAccount(int64_t user_id) = 0;
  virtual Result<DepositTransaction> GetTransaction(int64_t transaction_id) = 0;
  // Newest first; limit is clamped to 1..100.
  virtual Result<std::vector<DepositTransaction>> History(int64_t user_id, int limit) = 0;
  // Pending deposits of all users (never pending adjustments), oldest first; limit clamped to
  // 1..100.
  virtual Result<std::vector<DepositTransaction>> Pending(int limit) = 0;

  // A user announces a bank transfer: a pending deposit, no balance change.
  virtual Result<DepositTransaction> RequestDeposit(int64_t user_id, int64_t amount,
                                                    std::string_view depositor_name) = 0;
  // Admin decisions on a pending deposit. Confirm credits the balance.
  virtual Result<DepositTransaction> Confirm(int64_t transaction_id, int64_t admin_telegram_id) = 0;
  virtual Result<DepositTransaction> Reject(int64_t transaction_id, int64_t admin_telegram_id,
                                            std::string_view reason) = 0;
  // The owner withdraws their own pending deposit.
  virtual Result<DepositTransaction> Cancel(int64_t transaction_id, int64_t owner_user_id) = 0;
  // Debits a purchase, once per `reference` (e.g. "order:17"); refused when the
  // balance is short. `also` runs in the same transaction.
  virtual Result<DepositTransaction> Purchase(int64_t user_id, int64_t amount,
                                              std::string_view reference,
                                              std::string_view description,
                                              InTransaction also = {}) = 0;
  // Credits back a confirmed purchase in full, at most once per purchase.
  virtual Result<DepositTransaction> Refund(int64_t purchase_transaction_id,
                                            std::string_view reason, InTransaction also = {}) = 0;
  // An admin's correction: positive credits, negative debits (never below 0).
  virtual Result<DepositTransaction> Adjust(int64_t user_id, int64_t signed_amount,
                                            std::string_view reason, int64_t admin_telegram_id) = 0;

  // An admin's correction in two steps (the chat's /adjust, then a button). RequestAdjustment
  // records a pending adjustment row (type 'adjustment', requested_by, reason; positive
  // credits, negative debits) and changes no balance. ConfirmAdjustment applies it, version-
  // checked like every change, with decided_by = the confirming admin; refused (nothing
  // changed) once `valid_seconds` have passed since it was requested, when it is not a pending
  // adjustment, or with kInsufficientFunds when a debit would take the balance below zero.
  // CancelAdjustment closes a pending adjustment as cancelled. Deposits' Confirm, Reject and
  // Cancel refuse adjustment rows, and these refuse deposit rows.
  virtual Result<DepositTransaction> RequestAdjustment(int64_t user_id, int64_t signed_amount,
                                                       std::string_view reason,
                                                       int64_t requested_by) = 0;
  virtual Result<DepositTransaction> ConfirmAdjustment(int64_t transaction_id,
                                                       int64_t admin_telegram_id,
                                                       int64_t valid_seconds) = 0;
  virtual Result<DepositTransaction> CancelAdjustment(int64_t transaction_id,
                                                      int64_t admin_telegram_id) = 0;
  // Bank feed (tools/bank_feed.h).
  // Pending deposits of exactly `amount`, all users, oldest first; limit clamped to 1..100.
  virtual Result<std::vector<DepositTransaction>> PendingOfAmount(int64_t amount, int limit) = 0;
  // Confirms a pending deposit on a signed bank notification: version-checked like Confirm,
  // recorded with decided_via 'bank-feed', reference 'bank:<bank_reference>' (unique: one bank
  // reference confirms one deposit) and decided_by the admin who picked it (unset for an
  // automatic match). `also` (the notification marked matched) runs in the same transaction;
  // its error rolls the confirm back. kFailedPrecondition when the deposit is not pending.
  virtual Result<DepositTransaction> ConfirmFromBank(int64_t transaction_id,
                                                     std::string_view bank_reference,
                                                     std::optional<int64_t> admin_telegram_id,
                                                     InTransaction also) = 0;
};

}  // namespace depositbot
