// depositbot: one binary, subcommands per DESIGN.md §3.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>

#include "app/backup.h"
#include "app/config.h"
#include "app/copy_db.h"
#include "app/notify_test.h"
#include "app/recorder.h"
#include "app/registrar_domains.h"
#include "app/replay.h"
#include "app/serve.h"
#include "app/services.h"
#include "chat/terminal_chat.h"
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

struct ChatFlags {
  int64_t as = 1;
  std::string name = "terminal user";
  std::string dry_run;
  std::string record;
  bool verbose = false;
  std::string log_file;
};

// Prints the request one message would send to the model, its size and a
// rough token estimate (4 characters a token), so the cost per turn is visible, and the fair-use
// limits that apply to this user (rate limit; today's tokens against the daily budget).
int PrintDryRun(Services& s, const TerminalChat::Identity& who, const std::string& text) {
  auto user = s.users().FindOrCreate(who.telegram_id, who.name);
  if (!user) return Fail(user.error().message);
  ToolContext ctx{user->id, user->telegram_id, user->display_name, who.is_admin};
  ChatRequest req = s.agent().BuildRequest(ctx, ctx.telegram_id, text);
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : req.messages) messages.push_back(m.ToJson());
  std::string prompt = req.messages.front().content;
  std::string tools = req.Tools().dump();
  std::string all = nlohmann::json{{"messages", messages}, {"tools", req.Tools()}}.dump();
  std::cout << nlohmann::json{{"messages", messages}, {"tools", req.Tools()}}.dump(2) << "\n";
  std::printf("model: %s\n", s.agent().ModelFor(text).Name().c_str());
  std::printf("system prompt: %zu chars (~%zu tokens)\n", prompt.size(), (prompt.size() + 3) / 4);
  std::printf("tool schemas:  %zu chars (~%zu tokens)\n", tools.size(), (tools.size() + 3) / 4);
  std::printf("whole request: %zu chars (~%zu tokens)\n", all.size(), (all.size() + 3) / 4);
  std::printf("%s", s.fair_use().Describe(ctx).c_str());
  return 0;
}

int RunChat(const Config& config, const ChatFlags& flags) {
  // The terminal shows the conversation only: log lines go to stderr with --verbose, to a file
  // with --log-file, and nowhere otherwise.
  std::shared_ptr<std::FILE> log_file;
  if (!flags.log_file.empty()) {
    log_file.reset(std::fopen(flags.log_file.c_str(), "a"), [](std::FILE* f) {
      if (f) std::fclose(f);
    });
    if (!log_file) return Fail("cannot open the log file " + flags.log_file);
    SetLogSink([log_file](std::string_view line) {
      std::fwrite(line.data(), 1, line.size(), log_file.get());
      std::fputc('\n', log_file.get());
      std::fflush(log_file.get());
    });
  } else if (!flags.verbose) {
    SetLogEnabled(false);
  }
  std::unique_ptr<SessionRecorder> recorder;
  ServiceHooks hooks;
  if (!flags.record.empty()) {
    recorder = std::make_unique<SessionRecorder>(flags.record, config, SystemClock().NowSeconds());
    hooks.wrap_model = [&recorder](ChatModel& m) { return recorder->WrapModel(m); };
    hooks.wrap_registrar = [&recorder](Registrar& r) { return recorder->WrapRegistrar(r); };
  }
  auto services = Services::Create(config, hooks);
  if (!services) return Fail(services.error().message);
  Services& s = **services;
  TerminalChat::Identity who{flags.as, flags.name, s.IsAdmin(flags.as)};
  if (recorder) {
    if (auto st =
            RecordStartingUsers(*recorder, s.db(), config.admin_ids, {{who.telegram_id, who.name}});
        !st) {
      return Fail(st.error().message);
    }
  }
  if (!flags.dry_run.empty()) return PrintDryRun(s, who, flags.dry_run);
  TerminalChat chat(s.agent(), s.users(), s.decisions(), who, recorder.get());
  std::string banner = "depositbot " DEPOSITBOT_VERSION " — " + s.ModelDescription() + "; " +
                       s.RegistrarDescription() + "; database " +
                       Database::Redacted(config.db_path) + "; currency " + config.currency.code;
  int rc = chat.Run(std::cin, std::cout, banner);
  if (recorder) {
    auto balances = BalancesByTelegramId(s.db());
    if (!balances) return Fail(balances.error().message);
    if (auto st = recorder->Save(*balances); !st) return Fail(st.error().message);
    std::fprintf(stderr, "recorded the session to %s\n", recorder->path().c_str());
  }
  return rc;
}

std::string VersionRange(const std::vector<int>& versions) {
  auto v = [](int n) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%03d", n);
    return std::string(buf);
  };
  if (versions.empty()) return "nothing";
  if (versions.size() == 1) return v(versions.front());
  return v(versions.front()) + ".." + v(versions.back());
}

std::string DescribeBooks(const BookCounts& books) {
  std::string out;
  for (const auto& [table, rows] : books.rows) {
    out += (out.empty() ? "" : ", ") + table + " " + std::to_string(rows);
    if (table == "user_deposits") out += " (balance sum " + std::to_string(books.balance_sum) + ")";
  }
  return out;
}

int RunMigrate(const Config& config, bool status_only) {
  auto db = OpenConfiguredDatabase(config);
  if (!db) return Fail(db.error().message);
  auto migrator = Migrator::ForEmbedded(**db);
  if (!migrator) return Fail(migrator.error().message);
  if (status_only) {
    // Says what `migrate` would do with a database that predates schema_migrations.
    auto unversioned = migrator->IsUnversioned();
    if (!unversioned) return Fail(unversioned.error().message);
    if (*unversioned) {
      if (auto st = migrator->CheckAdoptable(); !st) return Fail(st.error().message);
      auto books = migrator->CountBooks();
      if (!books) return Fail(books.error().message);
      std::printf(
          "unversioned database (tables but no schema_migrations); it matches 001, so "
          "`depositbot migrate` will adopt it at 001 and apply the rest: %s\n",
          DescribeBooks(*books).c_str());
    }
  } else {
    auto report = migrator->Migrate();
    if (!report) return Fail(report.error().message);
    if (report->adopted) {
      std::string change = DescribeChange(*report->adopted, *report->after);
      std::printf("adopted an existing database at 001: %s; applied %s; %s\n",
                  DescribeBooks(*report->adopted).c_str(), VersionRange(report->applied).c_str(),
                  change.empty() ? "row counts and balance sum unchanged"
                                 : ("no migration changed the books, but another process wrote "
                                    "meanwhile: " +
                                    change)
                                       .c_str());
    }
    size_t n = report->applied.size();
    std::printf("applied %zu migration%s to %s\n", n, n == 1 ? "" : "s", (*db)->path().c_str());
  }
  auto states = migrator->States();
  if (!states) return Fail(states.error().message);
  for (const auto& s : *states) {
    std::printf("%-32s %s\n", s.migration.name.c_str(),
                s.applied ? ("applied " + FormatUtc(s.applied_at)).c_str() : "pending");
  }
  return 0;
}

int RunRecover(const Config& config, int64_t min_age_seconds) {
  auto services = Services::Create(config);
  if (!services) return Fail(services.error().message);
  auto report = (*services)->purchases().Recover(min_age_seconds);
  if (!report) return Fail(report.error().message);
  std::printf(
      "recovery: %d orders checked, %d registered, %d refunded, %d still unknown, %d left to the "
      "process executing them\n",
      report->checked, report->registered, report->refunded, report->still_unknown, report->leased);
  return report->still_unknown == 0 ? 0 : 1;
}

int RunReconcile(const Config& config, bool json) {
  auto services = Services::Create(config);
  if (!services) return Fail(services.error().message);
  Services& s = **services;
  Reconciler reconciler(s.db(), s.clock(), RegistrarDomainsOf(s.registrar()));
  auto report = reconciler.Run();
  if (!report) return Fail(report.error().message);
  if (json) {
    std::cout << ReportToJson(*report, config.currency).dump(2) << "\n";
  } else {
    std::cout << FormatReport(*report, config.currency);
  }
  return report->clean() ? 0 : 1;
}

// `depositbot config`: the effective configuration, secrets redacted, and what it amounts to.
// Reads nothing but the environment: no database is opened, nothing is contacted.
int RunConfig(const Config& config, const std::string& env_file) {
  const char* env_state = env_file.empty()          ? "none"
                          : std::ifstream(env_file) ? "read"
                                                    : "not found";
  std::printf("# depositbot %s; env file %s (%s)\n", DEPOSITBOT_VERSION, env_file.c_str(),
              env_state);
  std::string rate;
  for (const Config::Line& line : config.Describe()) {
    std::printf("%-34s %s%s\n", line.variable.c_str(), line.value.c_str(),
                line.is_default ? "  (default)" : "");
    if (line.variable == "USD_EXCHANGE_RATE") rate = line.value;
  }
  std::string reconcile = config.reconcile_interval_seconds == 0
                              ? "periodic job off"
                              : "every " + std::to_string(config.reconcile_interval_seconds) + " s";
  std::printf("\n");
  std::printf("model:          %s\n", config.ModelSummary().c_str());
  std::printf("registrar:      %s\n", config.RegistrarSummary().c_str());
  std::printf("currency:       %s with %d decimal places; 1 USD = %s %s\n",
              config.currency.code.c_str(), config.currency.exponent, rate.c_str(),
              config.currency.code.c_str());
  std::printf("reconciliation: %s\n", reconcile.c_str());
  return 0;
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

  auto* chat = app.add_subcommand("chat", "talk to the bot in this terminal");
  ChatFlags chat_flags;
  chat->add_option("--as", chat_flags.as, "your Telegram user id")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
  chat->add_option("--name", chat_flags.name, "your display name")->capture_default_str();
  chat->add_option("--dry-run", chat_flags.dry_run,
                   "print the model request for this message and its size, then exit");
  chat->add_flag("--verbose", chat_flags.verbose, "log every event to stderr");
  chat->add_option("--log-file", chat_flags.log_file, "append every log line to this file");
  chat->add_option("--record", chat_flags.record,
                   "write the session as a conversation fixture to this file");

  auto* migrate = app.add_subcommand(
      "migrate", "apply pending migrations; adopts a database made before schema_migrations");
  bool migrate_status = false;
  migrate->add_flag("--status", migrate_status, "list migrations and whether they are applied");

  auto* reconcile = app.add_subcommand(
      "reconcile", "compare every balance with its ledger; exit 1 on a discrepancy");
  bool reconcile_json = false, reconcile_alert = false;
  reconcile->add_flag("--json", reconcile_json, "print the report as JSON");
  reconcile->add_flag("--alert", reconcile_alert, "also message the admins");

  auto* serve = app.add_subcommand("serve", "run the Telegram bot, its jobs and HTTP endpoint");
  ServeFlags serve_flags;
  serve->add_flag("--webhook", serve_flags.webhook,
                  "receive updates on HTTP_LISTEN at /telegram/webhook instead of long polling");
  serve->add_option("--webhook-url", serve_flags.webhook_url,
                    "public URL to register with setWebhook (webhook mode)");
  // Every number from outside has a range; a deadline computed from one must not overflow.
  serve
      ->add_option("--poll-timeout", serve_flags.poll_timeout_s,
                   "long-poll timeout, seconds (Telegram allows up to 50)")
      ->capture_default_str()
      ->check(CLI::Range(0, 50));
  serve->add_option("--record", serve_flags.record_dir,
                    "write the session as a conversation fixture into this folder");
  serve
      ->add_option("--shutdown-seconds", serve_flags.shutdown_seconds,
                   "how long in-flight work may take after SIGTERM")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));

  serve
      ->add_option("--takeover-seconds", serve_flags.takeover_seconds,
                   "with several instances on one database: how often a standby checks whether "
                   "it can take over the jobs or the long poll")
      ->capture_default_str()
      ->check(CLI::Range(1, 60));

  auto* recover = app.add_subcommand(
      "recover", "resolve purchases whose registrar outcome is unknown; exit 1 if any remain");
  // An order a running process executes is leased to it and never taken (DESIGN.md money
  // rule 5); --min-age also leaves young orders alone, which costs nothing.
  int64_t recover_min_age = 300;
  recover
      ->add_option("--min-age", recover_min_age,
                   "only orders untouched this many seconds; 0 for all (orders that a running "
                   "process holds a live lease on are always left to it)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{365} * 86400));

  auto* copy_db = app.add_subcommand(
      "copy-db",
      "copy every row of a stopped bot's database into another, empty one (SQLite <-> "
      "PostgreSQL), then check counts, balance sum and reconciliation; see docs/upgrading.md");
  std::string copy_from, copy_to;
  copy_db->add_option("--from", copy_from, "source: a SQLite file or a postgresql:// URI")
      ->required();
  copy_db->add_option("--to", copy_to, "target: an empty SQLite file or PostgreSQL database")
      ->required();

  auto* backup = app.add_subcommand(
      "backup",
      "copy the SQLite database consistently while the bot runs, check the copy (integrity, "
      "reconciliation) and print what it holds; exit 1 if its books have discrepancies");
  std::string backup_file;
  backup->add_option("file", backup_file, "the new backup file (never overwritten)")->required();

  auto* restore = app.add_subcommand(
      "restore",
      "replace the stopped bot's SQLite database with a checked backup, keeping the old one "
      "beside it; refused while any depositbot uses the database");
  std::string restore_file;
  restore->add_option("file", restore_file, "a file `depositbot backup` wrote")->required();

  app.add_subcommand("config",
                     "print the effective configuration, secrets redacted; exit 2 on a bad one");

  // Bank feed: a signed sample notification, for setting up a bank integration.
  auto* notify_test = app.add_subcommand(
      "notify-test",
      "POST a sample bank notification signed with BANK_NOTIFY_SECRET; exit 0 on 200");
  NotifyTestFlags notify_flags;
  notify_test->add_option("--amount", notify_flags.amount, "decimal amount, e.g. 30000 or 12.50");
  notify_test->add_option("--name", notify_flags.name, "depositor name")->capture_default_str();
  notify_test->add_option("--reference", notify_flags.reference,
                          "the bank's reference (default TEST-<unix seconds>)");
  notify_test->add_option("--currency", notify_flags.currency, "ISO code (default CURRENCY)");
  notify_test->add_option("--url", notify_flags.url,
                          "where to POST (default http://HTTP_LISTEN/deposits/notify)");

  auto* replay = app.add_subcommand(
      "replay", "replay conversation fixtures offline; exit 0 only if every expectation holds");
  std::vector<std::string> replay_paths;
  ReplayCommandOptions replay_options;
  replay->add_option("paths", replay_paths, "fixture files or folders (searched for *.json)")
      ->required();
  replay->add_option("--filter", replay_options.filter,
                     "only fixtures whose name or path contains this");
  replay->add_flag("--verbose", replay_options.replay.verbose,
                   "describe every turn and log every event to stderr");

  CLI11_PARSE(app, argc, argv);

  // Replay needs no configuration, database or network: it runs before the environment is read.
  if (*replay) {
    SetLogEnabled(replay_options.replay.verbose);
    return RunReplayCommand(replay_paths, replay_options, std::cout);
  }

  auto env = ReadEnvironment(env_file);
  if (!env) return Fail(env.error().message);
  auto config = Config::FromEnvironment(*env);
  if (!config) return Fail(config.error().message);

  if (app.got_subcommand("config")) return RunConfig(*config, env_file);
  if (*chat) return RunChat(*config, chat_flags);
  if (*recover) return RunRecover(*config, recover_min_age);
  if (*serve) return RunServe(*config, serve_flags);
  if (*migrate) return RunMigrate(*config, migrate_status);
  if (*copy_db) return RunCopyDb(*config, copy_from, copy_to);
  if (*backup) return RunBackup(*config, backup_file);
  if (*restore) return RunRestore(*config, restore_file);
  if (*notify_test) return RunNotifyTest(*config, notify_flags);
  if (*reconcile) {
    if (reconcile_alert) return RunReconcileAlert(*config, reconcile_json);
    return RunReconcile(*config, reconcile_json);
  }
  return 0;
}
