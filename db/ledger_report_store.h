#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/result.h"
#include "db/ledger_types.h"

namespace depositbot {

// The figures of the admins' /stats, all read in one consistent snapshot. Amounts in minor
// units; "today" is the [day_start, day_end) the caller gives (decided_at in it).
struct LedgerStats {
  int64_t users = 0;
  int64_t balance_sum = 0;  // SUM(user_deposits.balance)
  int64_t ledger_sum = 0;   // SUM(confirmed amount * direction): what the balances must add to
  int64_t pending_deposits = 0;
  int64_t pending_deposit_total = 0;
  // Asked for at or after the `adjustments_since` given and not yet decided: no money moved.
  int64_t pending_adjustments = 0;
  int64_t deposits_today = 0;  // deposits confirmed today
  int64_t deposits_today_total = 0;
  int64_t purchases_today = 0;  // purchases charged today
  int64_t purchases_today_total = 0;
};

// One ledger row with its user, for the accountant's export.
struct LedgerExportRow {
  DepositTransaction transaction;
  int64_t user_telegram_id = 0;
  std::string user_name;
};

// Read-only reports over the whole ledger, for admins. Thread-safe, also across processes.
class LedgerReportStore {
 public:
  virtual ~LedgerReportStore() = default;

  virtual Result<LedgerStats> Stats(int64_t day_start, int64_t day_end,
                                    int64_t adjustments_since) = 0;
  // Every ledger row created in [from, to) (unix seconds), by id, handed to `row` one at a time
  // from one statement (a consistent read); `row` returns false to stop early. `row` runs with
  // the store's connection held: it must not call a store.
  virtual Status ForEachLedgerRow(int64_t from, int64_t to,
                                  const std::function<bool(const LedgerExportRow&)>& row) = 0;
};

}  // namespace depositbot
