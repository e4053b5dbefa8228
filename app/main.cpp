// depositbot: one binary, subcommands per DESIGN.md §3.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/config.h"
#include "common/clock.h"
#include "common/log.h"
#include "db/database.h"
#include "db/migrator.h"
#include "db/reconciler.h"

namespace depositbot {
namespace {

int Fail(const std::string& line) {
  std::fprintf(stderr, "depositbot: %s\n", line.c_str());
  return 2;
}

// Opens the configured database and applies pending migrations.
Result<std::unique_ptr<Database>> OpenMigrated(const Config& config) {
  auto db = Database::Open(config.db_path);
  if (!db) return db.error();
  auto migrator = Migrator::ForEmbedded(**db);
  if (!migrator) return migrator.error();
  if (auto n = migrator->Apply(); !n) return n.error();
  return db;
}

int RunMigrate(const Config& config, bool status_only) {
  auto db = Database::Open(config.db_path);
  if (!db) return Fail(db.error().message);
  auto migrator = Migrator::ForEmbedded(**db);
  if (!migrator) return Fail(migrator.error().message);
  if (!status_only) {
    auto n = migrator->Apply();
    if (!n) return Fail(n.error().message);
    std::printf("applied %d migration%s to %s\n", *n, *n == 1 ? "" : "s", config.db_path.c_str());
  }
  auto states = migrator->States();
  if (!states) return Fail(states.error().message);
  for (const auto& s : *states) {
    std::printf("%-32s %s\n", s.migration.name.c_str(),
                s.applied ? ("applied " + FormatUtc(s.applied_at)).c_str() : "pending");
  }
  return 0;
}

int RunReconcile(const Config& config, bool json) {
  auto db = OpenMigrated(config);
  if (!db) return Fail(db.error().message);
  SystemClock clock;
  Reconciler reconciler(**db, clock);
  auto report = reconciler.Run();
  if (!report) return Fail(report.error().message);
  if (json) {
    std::cout << ReportToJson(*report, config.currency).dump(2) << "\n";
  } else {
    std::cout << FormatReport(*report, config.currency);
  }
  return report->clean() ? 0 : 1;
}

}  // namespace
}  // namespace depositbot

int main(int argc, char** argv) {
  using namespace depositbot;
  CLI::App app{"depositbot: a chat bot that holds prepaid deposits and sells domain names"};
  app.set_version_flag("--version", std::string("depositbot ") + DEPOSITBOT_VERSION);
  app.require_subcommand(1);
  std::string env_file = ".env";
  app.add_option("--env-file", env_file, "KEY=VALUE file read under the environment")
      ->capture_default_str();

  auto* migrate = app.add_subcommand("migrate", "apply pending migrations");
  bool migrate_status = false;
  migrate->add_flag("--status", migrate_status, "list migrations and whether they are applied");

  auto* reconcile = app.add_subcommand(
      "reconcile", "compare every balance with its ledger; exit 1 on a discrepancy");
  bool reconcile_json = false, reconcile_alert = false;
  reconcile->add_flag("--json", reconcile_json, "print the report as JSON");
  reconcile->add_flag("--alert", reconcile_alert, "also message the admins");

  CLI11_PARSE(app, argc, argv);

  auto env = ReadEnvironment(env_file);
  if (!env) return Fail(env.error().message);
  auto config = Config::FromEnvironment(*env);
  if (!config) return Fail(config.error().message);

  if (*migrate) return RunMigrate(*config, migrate_status);
  if (*reconcile) {
    if (reconcile_alert) {
      return Fail("reconcile --alert needs the Telegram transport, which this build lacks");
    }
    return RunReconcile(*config, reconcile_json);
  }
  return 0;
}
