#include "app/backup.h"

#include <cstdio>

#include "common/clock.h"
#include "common/money.h"
#include "db/database.h"
#include "db/database_backup.h"

namespace depositbot {
namespace {

void PrintContents(const BackupContents& c, const Currency& currency) {
  std::printf("  %-26s %lld bytes, schema %03d\n", "file", static_cast<long long>(c.bytes),
              c.schema_version);
  for (const auto& [table, rows] : c.rows) {
    std::printf("  %-26s %lld rows\n", table.c_str(), static_cast<long long>(rows));
  }
  std::printf("  %-26s %s\n", "balance sum", FormatAmount(c.balance_sum, currency).c_str());
  std::printf("  %-26s %s\n", "newest ledger row",
              c.latest_ledger_at == 0 ? "none" : FormatUtc(c.latest_ledger_at).c_str());
  std::printf("integrity check: ok\n");
  if (c.findings.empty()) {
    std::printf("reconciliation: clean\n");
    return;
  }
  std::printf(
      "reconciliation: %zu discrepancies, as in the database it was taken from (see "
      "`depositbot reconcile`):\n",
      c.findings.size());
  for (const auto& f : c.findings) std::printf("  - %s\n", f.Describe(currency).c_str());
}

int Refused(const Error& e) {
  std::fprintf(stderr, "depositbot: %s\n", e.message.c_str());
  return 2;
}

}  // namespace

int RunBackup(const Config& config, const std::string& file) {
  auto contents = BackupDatabase(config.db_path, file);
  if (!contents) return Refused(contents.error());
  std::printf("backed up %s to %s\n", Database::Redacted(config.db_path).c_str(), file.c_str());
  PrintContents(*contents, config.currency);
  return contents->findings.empty() ? 0 : 1;
}

int RunRestore(const Config& config, const std::string& file) {
  auto report = RestoreDatabase(file, config.db_path, SystemClock().NowSeconds());
  if (!report) return Refused(report.error());
  std::printf("restored %s from %s\n", Database::Redacted(config.db_path).c_str(), file.c_str());
  if (!report->previous_kept_as.empty()) {
    std::printf("the database it replaced is kept as %s\n", report->previous_kept_as.c_str());
  }
  PrintContents(report->restored, config.currency);
  std::printf(
      "Everything recorded after the newest ledger row above is not in it: deposits confirmed "
      "and purchases made since then must be checked against the bank and the registrar. "
      "`depositbot serve` applies any newer migrations when it starts.\n");
  return 0;
}

}  // namespace depositbot
