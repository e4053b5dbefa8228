#include "db/deposit_repository.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <mutex>

#include "common/failpoint.h"
#include "common/log.h"
#include "common/money.h"
#include "db/database.h"
#include "db/sqlite_store_transaction.h"

namespace depositbot {
namespace {

constexpr int kMaxPendingPerUser = 5;
constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxReasonLength = 500;

constexpr const char* kSelectTransaction =
    "SELECT id, user_id, type, amount, direction, status, depositor_name, reason, reference, "
    "created_at, decided_at, decided_by, requested_by, decided_via FROM deposit_transactions ";

DepositTransaction RowToTransaction(const Statement& q) {
  DepositTransaction t;
  t.id = q.ColumnInt(0);
  t.user_id = q.ColumnInt(1);
  t.type = ParseTransactionType(q.ColumnText(2)).value_or(TransactionType::kAdjustment);
  t.amount = q.ColumnInt(3);
  t.direction = static_cast<int>(q.ColumnInt(4));
  t.status = ParseTransactionStatus(q.ColumnText(5)).value_or(TransactionStatus::kRejected);
  t.depositor_name = q.ColumnOptionalText(6);
  t.reason = q.ColumnOptionalText(7);
  t.reference = q.ColumnOptionalText(8);
  t.created_at = q.ColumnInt(9);
  t.decided_at = q.ColumnOptionalInt(10);
  t.decided_by = q.ColumnOptionalInt(11);
  t.requested_by = q.ColumnOptionalInt(12);
  t.decided_via = q.ColumnOptionalText(13);
  return t;
}

std::string Trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::string TxLabel(int64_t id) { return "transaction #" + std::to_string(id); }

// "a deposit", "an adjustment".
std::string WithArticle(TransactionType type) {
  std::string name(ToString(type));
  return (name.front() == 'a' ? "an " : "a ") + name;
}

}  // namespace

DepositRepository::DepositRepository(Database& db, const Clock& clock, RetryPolicy retry,
                                     Environment& env)
    : db_(db), clock_(clock), retry_(std::move(retry)), env_(env) {
  if (retry_.max_attempts < 1) retry_.max_attempts = 1;
}

RepositoryStats DepositRepository::stats() const {
  return {applied_.load(), conflicts_.load(), retries_.load(), conflict_failures_.load()};
}

Result<Account> DepositRepository::ReadAccount(int64_t user_id) {
  auto q = db_.Prepare("SELECT user_id, balance, version FROM user_deposits WHERE user_id = ?");
  if (!q) return q.error();
  q->Bind(1, user_id);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return Error::NotFound("no account for user " + std::to_string(user_id));
  return Account{q->ColumnInt(0), q->ColumnInt(1), q->ColumnInt(2)};
}

Result<DepositTransaction> DepositRepository::ReadTransaction(int64_t transaction_id) {
  auto q = db_.Prepare(std::string(kSelectTransaction) + "WHERE id = ?");
  if (!q) return q.error();
  q->Bind(1, transaction_id);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return Error::NotFound("there is no " + TxLabel(transaction_id));
  return RowToTransaction(*q);
}

Result<std::optional<int64_t>> DepositRepository::FindByReference(TransactionType type,
                                                                  const std::string& reference) {
  auto q = db_.Prepare("SELECT id FROM deposit_transactions WHERE type = ? AND reference = ?");
  if (!q) return q.error();
  q->Bind(1, ToString(type)).Bind(2, std::string_view(reference));
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return std::optional<int64_t>();
  return std::optional<int64_t>(q->ColumnInt(0));
}

Result<int64_t> DepositRepository::InsertRow(const DepositTransaction& r) {
  auto q = db_.Prepare(
      "INSERT INTO deposit_transactions(user_id, type, amount, direction, status, "
      "depositor_name, reason, reference, created_at, decided_at, decided_by, requested_by) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!q) return q.error();
  q->Bind(1, r.user_id)
      .Bind(2, ToString(r.type))
      .Bind(3, r.amount)
      .Bind(4, int64_t{r.direction})
      .Bind(5, ToString(r.status))
      .Bind(6, r.depositor_name)
      .Bind(7, r.reason)
      .Bind(8, r.reference)
      .Bind(9, r.created_at)
      .Bind(10, r.decided_at)
      .Bind(11, r.decided_by)
      .Bind(12, r.requested_by);
  if (auto st = q->Run(); !st) return st.error();
  return db_.LastInsertRowId();
}

Result<Account> DepositRepository::GetAccount(int64_t user_id) {
  auto lock = db_.Lock();
  return ReadAccount(user_id);
}

Result<DepositTransaction> DepositRepository::GetTransaction(int64_t transaction_id) {
  auto lock = db_.Lock();
  return ReadTransaction(transaction_id);
}

Result<std::vector<DepositTransaction>> DepositRepository::History(int64_t user_id, int limit) {
  auto lock = db_.Lock();
  if (auto a = ReadAccount(user_id); !a) return a.error();
  auto q =
      db_.Prepare(std::string(kSelectTransaction) + "WHERE user_id = ? ORDER BY id DESC LIMIT ?");
  if (!q) return q.error();
  q->Bind(1, user_id).Bind(2, int64_t{std::clamp(limit, 1, 100)});
  std::vector<DepositTransaction> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(RowToTransaction(*q));
  }
  return out;
}

Result<std::vector<DepositTransaction>> DepositRepository::Pending(int limit) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(std::string(kSelectTransaction) +
                       "WHERE type = 'deposit' AND status = 'pending' ORDER BY id ASC LIMIT ?");
  if (!q) return q.error();
  q->Bind(1, int64_t{std::clamp(limit, 1, 100)});
  std::vector<DepositTransaction> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(RowToTransaction(*q));
  }
  return out;
}

void DepositRepository::Backoff(int attempt) {
  auto base = retry_.base_backoff * (int64_t{1} << (attempt - 1));
  env_.Sleep(base + std::chrono::microseconds(env_.UniformBelow(base.count())));
}

Result<DepositTransaction> DepositRepository::ApplyVersioned(int64_t user_id, const Planner& plan,
                                                             const InTransaction& also) {
  for (int attempt = 1; attempt <= retry_.max_attempts; ++attempt) {
    {
      auto lock = db_.Lock();
      // Optimistic read: no lock held in the database between here and the UPDATE.
      auto account = ReadAccount(user_id);
      if (!account) return account.error();
      auto change = plan(*account);
      if (!change) return change.error();
      auto next = CheckedAdd(account->balance, change->delta);
      if (!next) return Error::Invalid("the balance would overflow");
      if (*next < 0) {
        return Error::InsufficientFunds("the balance " + std::to_string(account->balance) +
                                        " is less than " + std::to_string(-change->delta));
      }
      if (retry_.before_write) retry_.before_write(attempt);
      auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
      if (!tx) return tx.error();
      auto upd = db_.Prepare(
          "UPDATE user_deposits SET balance = ?, version = version + 1, updated_at = ? "
          "WHERE user_id = ? AND version = ?");
      if (!upd) return upd.error();
      upd->Bind(1, *next).Bind(2, clock_.NowSeconds()).Bind(3, user_id).Bind(4, account->version);
      if (auto st = upd->Run(); !st) return st.error();
      if (db_.Changes() == 1) {
        auto id = change->write();
        if (!id) return id.error();
        if (also) {
          SqliteStoreTransaction in_transaction(db_);
          if (auto st = also(in_transaction); !st) return st.error();
        }
        if (auto st = DEPOSITBOT_FAILPOINT("ledger.before_commit"); !st) return st.error();
        if (auto st = tx->Commit(); !st) return st.error();
        ++applied_;
        return ReadTransaction(*id);
      }
      // Someone else changed the balance since our read; `tx` rolls back here.
    }
    ++conflicts_;
    Log(LogLevel::kDebug, "ledger.version_conflict",
        {{"user_id", std::to_string(user_id)}, {"attempt", std::to_string(attempt)}});
    if (attempt < retry_.max_attempts) {
      ++retries_;
      Backoff(attempt);
    }
  }
  ++conflict_failures_;
  Log(LogLevel::kWarn, "ledger.conflict_gave_up", {{"user_id", std::to_string(user_id)}});
  return Error::Conflict(
      "the balance was changed by another operation at the same moment; "
      "nothing was applied, please try again");
}

Result<DepositTransaction> DepositRepository::RequestDeposit(int64_t user_id, int64_t amount,
                                                             std::string_view depositor_name) {
  if (amount <= 0) return Error::Invalid("the deposit amount must be greater than zero");
  std::string name = Trimmed(depositor_name);
  if (name.empty()) {
    return Error::Invalid("the depositor name is missing: give the name the transfer was sent as");
  }
  if (name.size() > kMaxNameLength) {
    return Error::Invalid("the depositor name is longer than " + std::to_string(kMaxNameLength) +
                          " characters");
  }
  auto lock = db_.Lock();
  if (auto a = ReadAccount(user_id); !a) return a.error();
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  // The count and the insert must not interleave with another request of the same user: take
  // the account row's lock (PostgreSQL; SQLite's write lock already excludes everyone) by a
  // write that changes nothing, so neither the balance nor the version moves.
  auto hold = db_.Prepare("UPDATE user_deposits SET updated_at = updated_at WHERE user_id = ?");
  if (!hold) return hold.error();
  hold->Bind(1, user_id);
  if (auto st = hold->Run(); !st) return st.error();
  auto count = db_.Prepare(
      "SELECT COUNT(*) FROM deposit_transactions WHERE user_id = ? AND type = 'deposit' AND "
      "status = 'pending'");
  if (!count) return count.error();
  count->Bind(1, user_id);
  if (auto row = count->Step(); !row) return row.error();
  if (count->ColumnInt(0) >= kMaxPendingPerUser) {
    return Error::FailedPrecondition(
        "there are already " + std::to_string(kMaxPendingPerUser) +
        " pending deposits; wait until an admin confirms them or cancel one first");
  }
  DepositTransaction row;
  row.user_id = user_id;
  row.type = TransactionType::kDeposit;
  row.amount = amount;
  row.direction = 1;
  row.status = TransactionStatus::kPending;
  row.depositor_name = name;
  row.created_at = clock_.NowSeconds();
  auto id = InsertRow(row);
  if (!id) return id.error();
  if (auto st = tx->Commit(); !st) return st.error();
  return ReadTransaction(*id);
}

Result<DepositTransaction> DepositRepository::Confirm(int64_t transaction_id,
                                                      int64_t admin_telegram_id) {
  return ConfirmDeposit(transaction_id, admin_telegram_id, std::nullopt, {});
}

Result<DepositTransaction> DepositRepository::ConfirmDeposit(
    int64_t transaction_id, std::optional<int64_t> admin_telegram_id,
    std::optional<std::string> bank_reference, InTransaction also) {
  auto t = GetTransaction(transaction_id);
  if (!t) return t.error();
  if (t->type != TransactionType::kDeposit) {
    return Error::FailedPrecondition(TxLabel(transaction_id) + " is " + WithArticle(t->type) +
                                     ", only deposits are confirmed");
  }
  if (t->status != TransactionStatus::kPending) {
    return Error::FailedPrecondition(TxLabel(transaction_id) + " is already " +
                                     std::string(ToString(t->status)) + "; nothing was changed");
  }
  const int64_t amount = t->amount;
  // The bank feed's confirmation is named in decided_via and keeps 'bank:<ref>' as the row's
  // reference: the unique (type, reference) index lets one bank reference confirm one deposit.
  std::optional<std::string> via, reference;
  if (bank_reference) {
    via = "bank-feed";
    reference = "bank:" + *bank_reference;
  }
  return ApplyVersioned(
      t->user_id,
      [&](const Account&) -> Result<Change> {
        return Change{
            amount, [&]() -> Result<int64_t> {
              auto q = db_.Prepare(
                  "UPDATE deposit_transactions SET status = 'confirmed', decided_at = ?, "
                  "decided_by = ?, decided_via = ?, reference = COALESCE(?, reference) "
                  "WHERE id = ? AND status = 'pending' AND type = 'deposit'");
              if (!q) return q.error();
              q->Bind(1, clock_.NowSeconds())
                  .Bind(2, admin_telegram_id)
                  .Bind(3, via)
                  .Bind(4, reference)
                  .Bind(5, transaction_id);
              if (auto st = q->Run(); !st) {
                if (bank_reference && st.code() == ErrorCode::kInvalid) {
                  return Error::FailedPrecondition(
                      "bank reference " + *bank_reference +
                      " already confirmed another deposit; nothing was changed");
                }
                return st.error();
              }
              if (db_.Changes() != 1) {
                return Error::FailedPrecondition(
                    TxLabel(transaction_id) +
                    " was decided by someone else at the same moment; nothing was changed");
              }
              return transaction_id;
            }};
      },
      also);
}

Result<DepositTransaction> DepositRepository::Decide(int64_t transaction_id, TransactionStatus to,
                                                     int64_t decided_by,
                                                     std::optional<std::string> reason,
                                                     std::optional<int64_t> owner_user_id,
                                                     TransactionType type) {
  auto lock = db_.Lock();
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  auto t = ReadTransaction(transaction_id);
  if (!t) return t.error();
  if (owner_user_id && t->user_id != *owner_user_id) {
    return Error::Forbidden(TxLabel(transaction_id) + " is not yours; nothing was changed");
  }
  if (t->type != type) {
    return Error::FailedPrecondition(TxLabel(transaction_id) + " is " + WithArticle(t->type) +
                                     ", only pending " + std::string(ToString(type)) + "s can be " +
                                     std::string(ToString(to)) + " here");
  }
  if (t->status != TransactionStatus::kPending) {
    return Error::FailedPrecondition(TxLabel(transaction_id) + " is already " +
                                     std::string(ToString(t->status)) + "; nothing was changed");
  }
  auto q = db_.Prepare(
      "UPDATE deposit_transactions SET status = ?, decided_at = ?, decided_by = ?, "
      "reason = COALESCE(?, reason) WHERE id = ? AND status = 'pending' AND type = ?");
  if (!q) return q.error();
  q->Bind(1, ToString(to))
      .Bind(2, clock_.NowSeconds())
      .Bind(3, decided_by)
      .Bind(4, reason)
      .Bind(5, transaction_id)
      .Bind(6, ToString(type));
  if (auto st = q->Run(); !st) return st.error();
  if (db_.Changes() != 1) {
    // Decided by another connection after our read (PostgreSQL's READ COMMITTED lets the two
    // overlap; SQLite's write lock does not).
    return Error::FailedPrecondition(TxLabel(transaction_id) +
                                     " was decided by someone else at the same moment; nothing "
                                     "was changed");
  }
  if (auto st = tx->Commit(); !st) return st.error();
  return ReadTransaction(transaction_id);
}

Result<DepositTransaction> DepositRepository::Reject(int64_t transaction_id,
                                                     int64_t admin_telegram_id,
                                                     std::string_view reason) {
  std::string r = Trimmed(reason);
  if (r.size() > kMaxReasonLength) return Error::Invalid("the reason is too long");
  return Decide(transaction_id, TransactionStatus::kRejected, admin_telegram_id,
                r.empty() ? std::nullopt : std::optional<std::string>(r), std::nullopt,
                TransactionType::kDeposit);
}

Result<DepositTransaction> DepositRepository::Cancel(int64_t transaction_id,
                                                     int64_t owner_user_id) {
  int64_t owner_telegram = 0;
  {
    auto lock = db_.Lock();
    auto q = db_.Prepare("SELECT telegram_id FROM users WHERE id = ?");
    if (!q) return q.error();
    q->Bind(1, owner_user_id);
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) return Error::NotFound("no user " + std::to_string(owner_user_id));
    owner_telegram = q->ColumnInt(0);
  }
  return Decide(transaction_id, TransactionStatus::kCancelled, owner_telegram, std::nullopt,
                owner_user_id, TransactionType::kDeposit);
}

Result<DepositTransaction> DepositRepository::Purchase(int64_t user_id, int64_t amount,
                                                       std::string_view reference,
                                                       std::string_view description,
                                                       InTransaction also) {
  if (amount <= 0) return Error::Invalid("the purchase amount must be greater than zero");
  if (reference.empty()) return Error::Invalid("a purchase needs a reference");
  std::string ref(reference), desc(description);
  return ApplyVersioned(
      user_id,
      [&](const Account& a) -> Result<Change> {
        // A repeated charge is reported as such before the balance is looked
        // at: "insufficient funds" would tell a retrying caller it never happened.
        auto prior = FindByReference(TransactionType::kPurchase, ref);
        if (!prior) return prior.error();
        if (*prior) {
          return Error::FailedPrecondition(ref + " was already charged as " + TxLabel(**prior));
        }
        if (a.balance < amount) {
          return Error::InsufficientFunds("the balance " + std::to_string(a.balance) +
                                          " does not cover " + std::to_string(amount));
        }
        return Change{
            -amount, [&]() -> Result<int64_t> {
              // Again inside the transaction: the read above was optimistic.
              auto dup = FindByReference(TransactionType::kPurchase, ref);
              if (!dup) return dup.error();
              if (*dup) {
                return Error::FailedPrecondition(ref + " was already charged as " + TxLabel(**dup));
              }
              DepositTransaction t;
              t.user_id = user_id;
              t.type = TransactionType::kPurchase;
              t.amount = amount;
              t.direction = -1;
              t.status = TransactionStatus::kConfirmed;
              t.reason = desc.empty() ? std::nullopt : std::optional<std::string>(desc);
              t.reference = ref;
              t.created_at = clock_.NowSeconds();
              t.decided_at = t.created_at;
              return InsertRow(t);
            }};
      },
      also);
}

Result<DepositTransaction> DepositRepository::Refund(int64_t purchase_transaction_id,
                                                     std::string_view reason, InTransaction also) {
  auto p = GetTransaction(purchase_transaction_id);
  if (!p) return p.error();
  if (p->type != TransactionType::kPurchase || p->status != TransactionStatus::kConfirmed) {
    return Error::FailedPrecondition(TxLabel(purchase_transaction_id) +
                                     " is not a confirmed purchase; nothing to refund");
  }
  std::string ref = "purchase:" + std::to_string(purchase_transaction_id);
  std::string why = Trimmed(reason);
  DepositTransaction purchase = *p;
  return ApplyVersioned(
      purchase.user_id,
      [&](const Account&) -> Result<Change> {
        return Change{purchase.amount, [&]() -> Result<int64_t> {
                        auto dup = FindByReference(TransactionType::kRefund, ref);
                        if (!dup) return dup.error();
                        if (*dup) {
                          return Error::FailedPrecondition(
                              TxLabel(purchase.id) + " was already refunded as " + TxLabel(**dup) +
                              "; nothing was changed");
                        }
                        DepositTransaction t;
                        t.user_id = purchase.user_id;
                        t.type = TransactionType::kRefund;
                        t.amount = purchase.amount;
                        t.direction = 1;
                        t.status = TransactionStatus::kConfirmed;
                        t.reason = why.empty() ? std::nullopt : std::optional<std::string>(why);
                        t.reference = ref;
                        t.created_at = clock_.NowSeconds();
                        t.decided_at = t.created_at;
                        return InsertRow(t);
                      }};
      },
      also);
}

Result<DepositTransaction> DepositRepository::Adjust(int64_t user_id, int64_t signed_amount,
                                                     std::string_view reason,
                                                     int64_t admin_telegram_id) {
  if (signed_amount == 0) return Error::Invalid("an adjustment must not be zero");
  if (signed_amount == INT64_MIN) return Error::Invalid("the adjustment is out of range");
  std::string why = Trimmed(reason);
  if (why.empty()) return Error::Invalid("an adjustment needs a reason");
  if (why.size() > kMaxReasonLength) return Error::Invalid("the reason is too long");
  return ApplyVersioned(
      user_id,
      [&](const Account& a) -> Result<Change> {
        if (signed_amount < 0 && a.balance < -signed_amount) {
          return Error::InsufficientFunds("the balance " + std::to_string(a.balance) +
                                          " is less than the debit " +
                                          std::to_string(-signed_amount));
        }
        return Change{signed_amount, [&]() -> Result<int64_t> {
                        DepositTransaction t;
                        t.user_id = user_id;
                        t.type = TransactionType::kAdjustment;
                        t.amount = signed_amount > 0 ? signed_amount : -signed_amount;
                        t.direction = signed_amount > 0 ? 1 : -1;
                        t.status = TransactionStatus::kConfirmed;
                        t.reason = why;
                        t.created_at = clock_.NowSeconds();
                        t.decided_at = t.created_at;
                        t.decided_by = admin_telegram_id;
                        return InsertRow(t);
                      }};
      },
      {});
}

Result<DepositTransaction> DepositRepository::RequestAdjustment(int64_t user_id,
                                                                int64_t signed_amount,
                                                                std::string_view reason,
                                                                int64_t requested_by) {
  if (signed_amount == 0) return Error::Invalid("an adjustment must not be zero");
  if (signed_amount == INT64_MIN) return Error::Invalid("the adjustment is out of range");
  std::string why = Trimmed(reason);
  if (why.empty()) return Error::Invalid("an adjustment needs a reason");
  if (why.size() > kMaxReasonLength) return Error::Invalid("the reason is too long");
  auto lock = db_.Lock();
  if (auto a = ReadAccount(user_id); !a) return a.error();
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  DepositTransaction row;
  row.user_id = user_id;
  row.type = TransactionType::kAdjustment;
  row.amount = signed_amount > 0 ? signed_amount : -signed_amount;
  row.direction = signed_amount > 0 ? 1 : -1;
  row.status = TransactionStatus::kPending;
  row.reason = why;
  row.created_at = clock_.NowSeconds();
  row.requested_by = requested_by;
  auto id = InsertRow(row);
  if (!id) return id.error();
  if (auto st = tx->Commit(); !st) return st.error();
  return ReadTransaction(*id);
}

Result<DepositTransaction> DepositRepository::ConfirmAdjustment(int64_t transaction_id,
                                                                int64_t admin_telegram_id,
                                                                int64_t valid_seconds) {
  auto t = GetTransaction(transaction_id);
  if (!t) return t.error();
  if (t->type != TransactionType::kAdjustment) {
    return Error::FailedPrecondition(TxLabel(transaction_id) + " is " + WithArticle(t->type) +
                                     ", not an adjustment; nothing was changed");
  }
  if (t->status != TransactionStatus::kPending) {
    return Error::FailedPrecondition(TxLabel(transaction_id) + " is already " +
                                     std::string(ToString(t->status)) + "; nothing was changed");
  }
  const int64_t deadline = t->created_at + std::max<int64_t>(valid_seconds, 0);
  if (clock_.NowSeconds() > deadline) {
    return Error::FailedPrecondition("adjustment #" + std::to_string(transaction_id) +
                                     " expired at " + FormatUtc(deadline) +
                                     "; nothing was changed, ask for it again with /adjust");
  }
  const int64_t delta = t->SignedAmount();
  return ApplyVersioned(
      t->user_id,
      [&](const Account&) -> Result<Change> {
        return Change{
            delta, [&]() -> Result<int64_t> {
              // The status, the type and the deadline again, inside the transaction: another
              // admin may have pressed at the same moment, and the clock moved since the read.
              auto q = db_.Prepare(
                  "UPDATE deposit_transactions SET status = 'confirmed', decided_at = ?, "
                  "decided_by = ? WHERE id = ? AND status = 'pending' AND type = 'adjustment' "
                  "AND created_at >= ?");
              if (!q) return q.error();
              const int64_t now = clock_.NowSeconds();
              q->Bind(1, now)
                  .Bind(2, admin_telegram_id)
                  .Bind(3, transaction_id)
                  .Bind(4, now - std::max<int64_t>(valid_seconds, 0));
              if (auto st = q->Run(); !st) return st.error();
              if (db_.Changes() != 1) {
                return Error::FailedPrecondition(
                    "adjustment #" + std::to_string(transaction_id) +
                    " was decided by someone else or expired at the same moment; nothing was "
                    "changed");
              }
              return transaction_id;
            }};
      },
      {});
}

Result<DepositTransaction> DepositRepository::CancelAdjustment(int64_t transaction_id,
                                                               int64_t admin_telegram_id) {
  return Decide(transaction_id, TransactionStatus::kCancelled, admin_telegram_id, std::nullopt,
                std::nullopt, TransactionType::kAdjustment);
}

Result<std::vector<DepositTransaction>> DepositRepository::PendingOfAmount(int64_t amount,
                                                                           int limit) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(std::string(kSelectTransaction) +
                       "WHERE status = 'pending' AND type = 'deposit' AND amount = ? "
                       "ORDER BY id ASC LIMIT ?");
  if (!q) return q.error();
  q->Bind(1, amount).Bind(2, int64_t{std::clamp(limit, 1, 100)});
  std::vector<DepositTransaction> out;
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(RowToTransaction(*q));
  }
  return out;
}

Result<DepositTransaction> DepositRepository::ConfirmFromBank(
    int64_t transaction_id, std::string_view bank_reference,
    std::optional<int64_t> admin_telegram_id, InTransaction also) {
  if (bank_reference.empty()) return Error::Invalid("a bank confirmation needs the bank reference");
  return ConfirmDeposit(transaction_id, admin_telegram_id, std::string(bank_reference),
                        std::move(also));
}

}  // namespace depositbot
