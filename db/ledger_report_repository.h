#pragma once

#include "db/ledger_report_store.h"

namespace depositbot {

class Database;

// The LedgerReportStore on the shared SQL of both backends. `db` must outlive it.
class LedgerReportRepository final : public LedgerReportStore {
 public:
  explicit LedgerReportRepository(Database& db) : db_(db) {}

  Result<LedgerStats> Stats(int64_t day_start, int64_t day_end, int64_t adjustments_since) override;
  Status ForEachLedgerRow(int64_t from, int64_t to,
                          const std::function<bool(const LedgerExportRow&)>& row) override;

 private:
  Database& db_;
};

}  // namespace depositbot
