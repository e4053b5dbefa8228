#include "app/copy_db.h"

#include <cstdio>

#include "common/money.h"
#include "db/database_copy.h"

namespace depositbot {

int RunCopyDb(const Config& config, const std::string& from, const std::string& to) {
  auto report = CopyDatabase(from, to);
  if (!report) {
    std::fprintf(stderr, "depositbot: %s\n", report.error().message.c_str());
    return 2;
  }
  std::printf("copied %s to %s", report->from.c_str(), report->to.c_str());
  if (report->target_migrations_applied > 0) {
    std::printf(" (after applying %d migrations to it)", report->target_migrations_applied);
  }
  std::printf("\n");
  int64_t total = 0;
  for (const auto& [table, rows] : report->rows) {
    std::printf("  %-26s %lld rows\n", table.c_str(), static_cast<long long>(rows));
    total += rows;
  }
  for (const auto& t : report->left_out) {
    std::printf("  %-26s not copied: no depositbot migration creates it\n", t.c_str());
  }
  std::printf("rows: %lld in %zu tables, the same on both, row for row\n",
              static_cast<long long>(total), report->rows.size());
  std::printf("balance sum: %s on both\n",
              FormatAmount(report->balance_sum, config.currency).c_str());
  if (report->findings.empty()) {
    std::printf("reconciliation clean on both\n");
  } else {
    size_t n = report->findings.size();
    std::printf(
        "reconciliation: the source has %zu %s and the copy exactly the same (copied as they "
        "were, not fixed; see `depositbot reconcile`):\n",
        n, n == 1 ? "discrepancy" : "discrepancies");
    for (const auto& f : report->findings) {
      std::printf("  - %s\n", f.Describe(config.currency).c_str());
    }
  }
  return 0;
}

}  // namespace depositbot
