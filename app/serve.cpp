#include "app/serve.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/recorder.h"
#include "app/registrar_domains.h"
#include "app/services.h"
#include "chat/admin_alert_sender.h"
#include "chat/http_endpoint.h"
#include "chat/telegram_bot.h"
#include "chat/telegram_client.h"
#include "chat/telegram_pacer.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "db/alert_outbox.h"
#include "db/database.h"
#include "db/leader_lock.h"
#include "db/notification_repository.h"
#include "db/reconciler.h"
#include "db/update_inbox.h"

namespace depositbot {
namespace {

int Fail(const std::string& line) {
  std::fprintf(stderr, "depositbot: %s\n", line.c_str());
  return 2;
}

// Forgets updates handled (done or abandoned) more than INBOX_RETENTION_DAYS ago; updates still
// received or started are never touched (UpdateInbox::Prune). The inbox is what turns a
// repeated delivery into a no-op, so it must remember an update for as long as Telegram may
// deliver it again: Telegram keeps an unconfirmed update for at most 24 hours (getUpdates and
// webhook retries alike), so a retention of at least one day (the setting's minimum) stays
// at-most-once.
void PruneInbox(UpdateInbox& inbox, const Clock& clock, int64_t retention_days) {
  auto pruned = inbox.Prune(clock.NowSeconds() - retention_days * 86400);
  if (!pruned) {
    Log(LogLevel::kError, "inbox.prune_failed", {{"error", pruned.error().message}});
  } else if (*pruned > 0) {
    Log(LogLevel::kInfo, "inbox.pruned",
        {{"updates", std::to_string(*pruned)}, {"retention_days", std::to_string(retention_days)}});
  }
}

// For bench/serve_bench only: DEPOSITBOT_TELEGRAM_PACING=off lifts the send pacing so the
// figures show the bot's own capacity. Telegram enforces its limits itself; a bot that ignores
// them gets 429s.
bool TelegramPacingOn() {
  const char* pacing = std::getenv("DEPOSITBOT_TELEGRAM_PACING");
  return pacing == nullptr || std::string_view(pacing) != "off";
}

std::string PacingDescription() {
  if (!TelegramPacingOn()) return "Telegram pacing off (DEPOSITBOT_TELEGRAM_PACING=off)";
  TelegramPacer::Limits l;
  return "Telegram pacing " + std::to_string(l.global_limit) + " messages per " +
         std::to_string(l.global_window.count()) + " ms overall, 1 per " +
         std::to_string(l.per_chat_interval.count()) + " ms per chat";
}

// Each update in flight may hold a model or registrar connection and a Telegram send at once;
// the rest is the database, the long poll, the HTTP endpoint and the jobs.
constexpr rlim_t kFilesPerInFlight = 2;
constexpr rlim_t kFilesReserved = 128;

// Raises the open-files limit to what max_in_flight needs (up to the hard limit). An explicit
// MAX_IN_FLIGHT the hard limit cannot carry is refused now, rather than failing connections
// mid-turn (after a debit, a registrar call that cannot connect costs a refund round); the
// default is lowered to fit, and the start-up line says so.
Result<int64_t> FitOpenFiles(const Config& config) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return config.max_in_flight;
  const rlim_t need =
      static_cast<rlim_t>(config.max_in_flight) * kFilesPerInFlight + kFilesReserved;
  if (lim.rlim_cur < need && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = std::min(need, lim.rlim_max);
    (void)setrlimit(RLIMIT_NOFILE, &lim);
    (void)getrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur >= need) return config.max_in_flight;
  const int64_t fits =
      lim.rlim_cur > kFilesReserved + kFilesPerInFlight
          ? static_cast<int64_t>((lim.rlim_cur - kFilesReserved) / kFilesPerInFlight)
          : 1;
  if (config.given.count("MAX_IN_FLIGHT")) {
    return Error::Invalid(
        "MAX_IN_FLIGHT: " + std::to_string(config.max_in_flight) + " needs about " +
        std::to_string(need) + " open files, but the limit is " + std::to_string(lim.rlim_cur) +
        " (ulimit -Hn); raise it or set MAX_IN_FLIGHT to at most " + std::to_string(fits));
  }
  Log(LogLevel::kWarn, "serve.in_flight_lowered",
      {{"max_in_flight", std::to_string(fits)}, {"open_files", std::to_string(lim.rlim_cur)}});
  return fits;
}

Result<std::unique_ptr<TelegramClient>> MakeTelegram(const Config& config, int poll_timeout_s,
                                                     Metrics* metrics) {
  if (config.telegram_bot_token.empty()) {
    return Error::Invalid(
        "TELEGRAM_BOT_TOKEN: expected the bot's token from @BotFather, got nothing");
  }
  TelegramClient::Config tc;
  tc.api_base = config.telegram_api_base;
  tc.token = config.telegram_bot_token;
  tc.long_poll_timeout_s = poll_timeout_s;
  tc.pace_sends = TelegramPacingOn();
  TelegramClient::ObserveFunction observe;
  if (metrics) {
    observe = [metrics](std::string_view method, int status, int error_code) {
      if (status != 200) {
        metrics->Add("depositbot_telegram_send_errors_total",
                     "method=\"" + std::string(method) + "\",code=\"" +
                         std::to_string(error_code ? error_code : status) + "\"");
      }
    };
  }
  auto client = TelegramClient::Create(tc, SystemEnvironment(), observe);
  if (!client) return Error::Invalid("TELEGRAM_API_BASE: " + client.error().message);
  auto me = (*client)->GetMe();
  if (!me) {
    if (me.error().kind == TelegramError::Kind::kUnauthorized) {
      return Error::Invalid("TELEGRAM_BOT_TOKEN: Telegram rejected the token (" +
                            me.error().description + ")");
    }
    return Error::Unavailable("cannot reach the Telegram Bot API: " + me.error().message);
  }
  Log(LogLevel::kInfo, "telegram.connected", {{"bot", me->username}});
  return client;
}

// Runs one reconciliation and queues what the admins were not told yet in the outbox (recorded
// as alerted in the same transaction); AdminAlertSender delivers it, per admin.
Result<ReconciliationReport> ReconcileAndAlert(Reconciler& reconciler, AlertOutbox& outbox,
                                               const Config& config, Metrics* metrics) {
  auto report = reconciler.Run();
  if (!report) return report.error();
  if (metrics) {
    metrics->Set("depositbot_reconciliation_findings",
                 static_cast<int64_t>(report->findings.size()));
    metrics->Add("depositbot_reconciliation_runs_total");
  }
  auto queued = reconciler.QueueAlerts(*report, config.currency, outbox);
  if (!queued) return queued.error();
  return report;
}

AlertOutbox::Options OutboxOptions(const Config& config) {
  AlertOutbox::Options o;
  o.first_retry_seconds = config.alert_retry_seconds;
  return o;
}

// Logs a delivery pass that failed on the database (a failed send is not an error here).
void DeliverAlerts(AdminAlertSender& sender, const std::atomic<bool>* stop) {
  if (auto r = sender.DeliverDue(stop); !r) {
    Log(LogLevel::kError, "admin_alert.delivery_failed", {{"error", r.error().message}});
  }
}

// The model gate's figures (agent/model_gate.h), refreshed on each /metrics scrape.
void AddModelGateMetrics(Metrics& metrics, const ModelGate& gate) {
  metrics.Describe("depositbot_model_in_flight", "gauge", "Model calls in flight now");
  metrics.Describe("depositbot_model_waiting", "gauge",
                   "Model calls waiting for a permit, a pause or the per-minute rate now");
  metrics.Describe("depositbot_model_throttled_total", "counter",
                   "Times the model server asked us to slow down (429 or Retry-After)");
  metrics.Describe("depositbot_model_rate_limited_waits_total", "counter",
                   "Model calls that could not start at once");
  metrics.Describe("depositbot_model_waited_milliseconds_total", "counter",
                   "Time model calls spent waiting to start");
  metrics.Describe("depositbot_model_gave_up_total", "counter",
                   "Model calls refused because they would have waited too long");
  metrics.AddCollector([&gate](Metrics& m) {
    ModelGate::Stats st = gate.stats();
    m.Set("depositbot_model_in_flight", st.in_flight);
    m.Set("depositbot_model_waiting", st.waiting);
    m.Set("depositbot_model_throttled_total", st.throttled_total);
    m.Set("depositbot_model_rate_limited_waits_total", st.waits_total);
    m.Set("depositbot_model_waited_milliseconds_total", st.waited_millis_total);
    m.Set("depositbot_model_gave_up_total", st.gave_up_total);
  });
}

// POST /deposits/notify once its signature verified: records and matches the notice, tells the
// admins and the user, and answers the bank (400 for a body that does not fit, 503 when the
// database failed: the bank sends it again, and a notice already recorded is then a duplicate
// that the jobs' sweep matches).
HttpEndpoint::Answer AnswerBankNotice(BankFeed& feed, TelegramBot& bot, Metrics& metrics,
                                      SessionRecorder* recorder, const std::string& body) {
  using nlohmann::json;
  auto notice = ParseBankNotice(body);
  if (!notice) {
    metrics.Add("depositbot_bank_notify_rejected_total", "reason=\"invalid\"");
    Log(LogLevel::kWarn, "bank_feed.invalid", {{"reason", notice.error().message}});
    return {400, json{{"error", notice.error().message}}.dump()};
  }
  auto r = feed.Receive(*notice);
  if (!r) {
    Log(LogLevel::kError, "bank_feed.failed", {{"error", r.error().message}});
    return {503, json{{"error", "not processed; send it again later"}}.dump()};
  }
  json answer = r->ToJson();
  metrics.Add("depositbot_bank_notices_total",
              "outcome=\"" + answer["outcome"].get<std::string>() + "\"");
  if (recorder) recorder->EndBankNotification(body, answer["outcome"].get<std::string>());
  for (const UiEvent& ui : r->ui) bot.Announce(ui);
  return {200, answer.dump()};
}

// The instance holding the jobs matches notices a race or a failure left unmatched.
void SweepBankNotices(BankFeed& feed, TelegramBot& bot) {
  auto swept = feed.Sweep();
  if (!swept) {
    Log(LogLevel::kError, "bank_feed.sweep_failed", {{"error", swept.error().message}});
    return;
  }
  for (const UiEvent& ui : *swept) bot.Announce(ui);
}

}  // namespace

int RunReconcileAlert(const Config& config, bool json) {
  auto services = Services::Create(config);
  if (!services) return Fail(services.error().message);
  Reconciler reconciler((*services)->db(), (*services)->clock(),
                        RegistrarDomainsOf((*services)->registrar()));
  AlertOutbox outbox((*services)->db(), (*services)->clock(), OutboxOptions(config));
  // Queued first: when Telegram cannot be reached now, a running serve delivers it later.
  auto report = ReconcileAndAlert(reconciler, outbox, config, nullptr);
  if (!report) return Fail(report.error().message);
  auto client = MakeTelegram(config, 0, nullptr);
  if (!client) return Fail(client.error().message);
  // One pass: this run's alert, and whatever else is due (a running serve retries the rest).
  AdminAlertSender sender(**client, outbox, {config.admin_ids}, nullptr);
  DeliverAlerts(sender, nullptr);
  if (json) {
    std::cout << ReportToJson(*report, config.currency).dump(2) << "\n";
  } else {
    std::cout << FormatReport(*report, config.currency);
  }
  return report->clean() ? 0 : 1;
}

int RunServe(const Config& config, const ServeFlags& flags) {
  if (flags.webhook && config.telegram_webhook_secret.empty()) {
    return Fail("TELEGRAM_WEBHOOK_SECRET: expected a secret for --webhook, got nothing");
  }
  // Signals are taken by one thread with sigwait; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<SessionRecorder> recorder;
  ServiceHooks hooks;
  if (!flags.record_dir.empty()) {
    int64_t now = SystemClock().NowSeconds();
    std::string stamp = FormatUtc(now);
    std::replace(stamp.begin(), stamp.end(), ':', '-');
    recorder = std::make_unique<SessionRecorder>(flags.record_dir + "/session-" + stamp + ".json",
                                                 config, now);
    hooks.wrap_model = [&recorder](ChatModel& m) { return recorder->WrapModel(m); };
    hooks.wrap_registrar = [&recorder](Registrar& r) { return recorder->WrapRegistrar(r); };
  }
  auto max_in_flight = FitOpenFiles(config);
  if (!max_in_flight) return Fail(max_in_flight.error().message);
  auto services = Services::Create(config, hooks);
  if (!services) return Fail(services.error().message);
  Services& s = **services;
  if (recorder) {
    if (auto st = RecordStartingUsers(*recorder, s.db(), config.admin_ids); !st) {
      return Fail(st.error().message);
    }
  }
  Metrics metrics;
  metrics.Describe("depositbot_ledger_version_conflicts", "gauge",
                   "Version conflicts seen by the balance repository since start");
  metrics.AddCollector([&s](Metrics& m) {
    RepositoryStats st = s.deposits().stats();
    m.Set("depositbot_ledger_applied", st.applied);
    m.Set("depositbot_ledger_version_conflicts", st.conflicts);
    m.Set("depositbot_ledger_retries", st.retries);
    m.Set("depositbot_ledger_conflict_failures", st.conflict_failures);
  });
  if (const ModelGate* gate = s.model_gate()) AddModelGateMetrics(metrics, *gate);
  metrics.Describe("depositbot_rate_limited_total", "counter",
                   "Messages refused by the per-user rate limit since start");
  metrics.Describe("depositbot_budget_refusals_total", "counter",
                   "Messages refused by the per-user daily model-token budget since start");
  metrics.Describe("depositbot_model_tokens_total", "counter",
                   "Model tokens the model server reported since start");
  metrics.AddCollector([&s](Metrics& m) {
    FairUse::Stats st = s.fair_use().stats();
    m.Set("depositbot_rate_limited_total", st.rate_limited);
    m.Set("depositbot_budget_refusals_total", st.budget_refusals);
    m.Set("depositbot_model_tokens_total", st.model_tokens);
  });
  auto client = MakeTelegram(config, flags.poll_timeout_s, &metrics);
  if (!client) return Fail(client.error().message);

  UpdateInbox inbox(s.db(), s.clock());
  NotificationRepository notifications(s.db());
  Reconciler reconciler(s.db(), s.clock(), RegistrarDomainsOf(s.registrar()));
  AlertOutbox outbox(s.db(), s.clock(), OutboxOptions(config));
  AdminAlertSender alert_sender(**client, outbox, {config.admin_ids}, &metrics);
  TelegramBot::Options bo;
  bo.admin_ids = config.admin_ids;
  bo.currency = config.currency;
  bo.max_in_flight = static_cast<size_t>(*max_in_flight);
  bo.poll_timeout_s = flags.poll_timeout_s;
  bo.observer = recorder.get();
  bo.bank_notifications = &s.bank_notifications();
  TelegramBot bot({**client, s.agent(), s.users(), s.decisions(), inbox, notifications, metrics},
                  bo);
  metrics.Describe("depositbot_in_flight", "gauge", "Telegram updates queued or being handled");
  metrics.Describe("depositbot_max_in_flight", "gauge", "The cap on updates in flight");
  metrics.Describe("depositbot_handler_threads", "gauge", "Threads handling chats (and idle)");
  metrics.Describe("depositbot_waiting_on_model", "gauge",
                   "Updates whose turn waits on the model, holding no thread");
  metrics.Describe("depositbot_db_commits_total", "counter", "Durable database commits");
  metrics.AddCollector([&bot](Metrics& m) {
    TelegramBot::Capacity c = bot.capacity();
    m.Set("depositbot_in_flight", static_cast<int64_t>(c.in_flight));
    m.Set("depositbot_max_in_flight", static_cast<int64_t>(c.max_in_flight));
    m.Set("depositbot_handler_threads", static_cast<int64_t>(c.threads));
    m.Set("depositbot_handler_threads_peak", static_cast<int64_t>(c.peak_threads));
    m.Set("depositbot_waiting_on_model", static_cast<int64_t>(c.waiting));
    m.Set("depositbot_db_commits_total", Database::CommitsInProcess());
  });
  const std::string capacity =
      "at most " + std::to_string(*max_in_flight) +
      " updates in flight (a turn waiting on the model holds no thread); at most " +
      std::to_string(bot.capacity().max_threads) + " handler threads running at once; " +
      s.ModelCapacity() + "; " + PacingDescription();
  // Purchases a crash left behind are resolved at start-up. Recover(0) takes only orders whose
  // lease expired or whose owner's process is gone, so a purchase in flight in another process
  // (a `chat`, a second `serve` during a restart) or in this one is never touched.
  if (auto rec = s.purchases().Recover(0); rec && rec->checked > 0) {
    Log(LogLevel::kInfo, "recovery.startup",
        {{"checked", std::to_string(rec->checked)},
         {"refunded", std::to_string(rec->refunded)},
         {"registered", std::to_string(rec->registered)}});
  }
  if (auto st = bot.RecoverInbox(); !st) return Fail(st.error().message);

  // Several instances may share the database: one at a time runs the jobs, and in long-polling
  // mode one at a time polls (Telegram answers 409 to a second poller). The others stand by
  // and check every --takeover-seconds.
  std::unique_ptr<LeaderLock> jobs_lock = s.db().NewLeaderLock("jobs");
  std::mutex poll_lock_mu;  // the poller thread and the jobs thread both look at it
  std::unique_ptr<LeaderLock> poll_lock = flags.webhook ? nullptr : s.db().NewLeaderLock("poller");
  std::atomic<bool> leading_jobs{false}, polling{false};
  metrics.Describe("depositbot_jobs_leader", "gauge",
                   "1 while this instance runs the jobs (one instance at a time does)");
  metrics.Describe("depositbot_poll_leader", "gauge",
                   "1 while this instance long-polls Telegram (one instance at a time does)");
  metrics.Describe("depositbot_jobs_takeovers_total", "counter",
                   "Times this instance took the jobs over (at start or from another instance)");
  metrics.Describe("depositbot_db_pool_size", "gauge", "Database connections at most");
  metrics.Describe("depositbot_db_pool_in_use", "gauge", "Database connections in use now");
  metrics.Describe("depositbot_db_pool_waits_total", "counter",
                   "Units of work that waited for a free database connection");
  metrics.Describe("depositbot_db_pool_wait_microseconds_total", "counter",
                   "Time spent waiting for a free database connection");
  metrics.Describe("depositbot_db_pool_timeouts_total", "counter",
                   "Waits for a database connection given up after the busy timeout");
  metrics.Describe("depositbot_inbox_order_waits_total", "counter",
                   "Updates left to another instance: taken there first, or an earlier update "
                   "of the chat was still in its hands");
  metrics.AddCollector([&s, &leading_jobs, &polling](Metrics& m) {
    Database::PoolStats p = s.db().pool_stats();
    m.Set("depositbot_db_pool_size", p.size);
    m.Set("depositbot_db_pool_in_use", p.in_use);
    m.Set("depositbot_db_pool_waits_total", p.waits);
    m.Set("depositbot_db_pool_wait_microseconds_total", p.wait_micros);
    m.Set("depositbot_db_pool_timeouts_total", p.timeouts);
    m.Set("depositbot_jobs_leader", leading_jobs ? 1 : 0);
    m.Set("depositbot_poll_leader", polling ? 1 : 0);
  });

  // Takes the jobs when no instance holds them (true when it just took them), or notices that
  // this one lost them. Taking them first settles what a stopped holder may have left: purchases
  // whose lease holder is gone, inbox rows past retention; then, while held, updates stranded
  // 'received' are claimed. Called at start and every --takeover-seconds by the jobs thread.
  const int64_t stranded_grace_s = std::max<int64_t>(2 * flags.takeover_seconds, 5);
  // An update started by an instance that died stays 'started' and holds its chat's later
  // updates back: the holder of the jobs abandons it (and tells the chat) when it takes over
  // and then every minute (RecoverInbox: its handler provably gone, or silent for
  // UpdateInbox::kHandlerSilentSeconds when it ran on another machine).
  constexpr auto kInboxRecoveryInterval = std::chrono::seconds(60);
  auto next_inbox_recovery = std::chrono::steady_clock::now() + kInboxRecoveryInterval;
  auto check_jobs = [&](bool at_start) -> bool {
    const bool lead = jobs_lock->Hold();
    const auto now = std::chrono::steady_clock::now();
    bool taken = false;
    if (lead && !leading_jobs) {
      Log(LogLevel::kInfo, "serve.jobs_taken");
      metrics.Add("depositbot_jobs_takeovers_total");
      leading_jobs = true;
      taken = true;
      if (auto rec = s.purchases().Recover(0); !rec) {
        Log(LogLevel::kError, "recovery.failed", {{"error", rec.error().message}});
      }
      PruneInbox(inbox, s.clock(), config.inbox_retention_days);
    } else if (!lead && leading_jobs) {
      Log(LogLevel::kWarn, "serve.jobs_lost");
      leading_jobs = false;
    }
    if (!lead) return false;
    if ((taken && !at_start) || now >= next_inbox_recovery) {  // at start it just ran
      if (auto st = bot.RecoverInbox(); !st) {
        Log(LogLevel::kError, "telegram.inbox_recovery_failed", {{"error", st.error().message}});
      }
      next_inbox_recovery = now + kInboxRecoveryInterval;
    }
    if (auto r = bot.ClaimStranded(stranded_grace_s); !r) {
      Log(LogLevel::kError, "telegram.claim_stranded_failed", {{"error", r.error().message}});
    }
    return taken;
  };
  check_jobs(true);

  HttpEndpoint::Options ho;
  ho.listen = config.http_listen;
  ho.webhook = flags.webhook;
  ho.webhook_secret = config.telegram_webhook_secret;
  ho.bank_notify_secret = config.bank_notify_secret;
  ho.bank_notify_tolerance_seconds = config.bank_notify_tolerance_seconds;
  ho.now_seconds = [&s] { return s.clock().NowSeconds(); };
  ho.details = [&bot, &capacity, &s, &leading_jobs, &polling, &flags] {
    TelegramBot::Capacity c = bot.capacity();
    std::string out = "capacity: " + capacity + "\nin_flight: " + std::to_string(c.in_flight) +
                      " of " + std::to_string(c.max_in_flight) +
                      "\nhandler_threads: " + std::to_string(c.threads) + " of " +
                      std::to_string(c.max_threads) +
                      "\nwaiting_on_model: " + std::to_string(c.waiting) +
                      "\ndatabase: " + std::string(s.db().backend_name()) +
                      "\njobs: " + (leading_jobs ? "held by this instance" : "standby") + "\n";
    if (!flags.webhook) {
      out += std::string("polling: ") + (polling ? "this instance" : "standby") + "\n";
    }
    return out;
  };
  Database& db = s.db();
  HttpEndpoint http(
      ho,
      [&db] {
        auto lock = db.Lock();
        auto q = db.Prepare("SELECT 1");
        return q && q->Step().ok();
      },
      metrics,
      [&bot](const std::string& body) {
        auto update = ParseTelegramUpdate(std::string_view(body));
        if (!update || update->kind == TelegramUpdate::Kind::kUnparsable) {
          Log(LogLevel::kWarn, "webhook.unparsable_update");
          return 200;  // a retry would not make it parsable
        }
        auto accepted = bot.Accept(*update);
        return accepted ? 200 : 500;  // 500: not recorded, Telegram delivers it again
      });
  metrics.Describe("depositbot_bank_notices_total", "counter",
                   "Signed bank notifications by outcome (matched, needs_admin, duplicate)");
  metrics.Describe("depositbot_bank_notify_rejected_total", "counter",
                   "Bank notifications refused before processing, by reason");
  http.SetBankNoticeHandler([&s, &bot, &metrics, &recorder](const std::string& body) {
    return AnswerBankNotice(s.bank_feed(), bot, metrics, recorder.get(), body);
  });
  if (auto st = http.Start(); !st) return Fail(st.error().message);
  std::printf("depositbot serving: %s; %s; %s; http port %d; capacity: %s\n",
              flags.webhook ? "webhook" : "long polling", s.ModelDescription().c_str(),
              s.RegistrarDescription().c_str(), http.port(), capacity.c_str());
  std::fflush(stdout);

  // Before the signal thread: a return with that thread still joinable would std::terminate.
  // A SIGTERM meanwhile stays pending (blocked everywhere) and is taken once it runs.
  if (flags.webhook) {
    if (!flags.webhook_url.empty()) {
      auto r = (*client)->SetWebhook(flags.webhook_url, config.telegram_webhook_secret,
                                     {"message", "callback_query"});
      if (!r) return Fail("setWebhook failed: " + r.error().message);
    }
  } else if (auto r = (*client)->DeleteWebhook(false); !r) {
    Log(LogLevel::kWarn, "telegram.delete_webhook_failed", {{"error", r.error().message}});
  }

  std::atomic<bool> stop{false};
  std::atomic<bool> poll_stop{false};  // stop, or this instance lost the long poll
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    Log(LogLevel::kInfo, "serve.stopping", {{"signal", std::to_string(sig)}});
    {
      std::lock_guard<std::mutex> l(stop_mu);
      stop = true;
      poll_stop = true;
    }
    stop_cv.notify_all();
    bot.StopPolling();  // an idle long poll would otherwise hold the exit for up to its timeout
  });

  int poll_result = 0;
  std::thread poller;
  if (!flags.webhook) {
    poller = std::thread([&] {
      while (!stop) {
        bool held = false;
        {
          std::lock_guard<std::mutex> l(poll_lock_mu);
          held = poll_lock->Hold();
        }
        if (held) {
          Log(LogLevel::kInfo, "serve.polling_taken");
          polling = true;
          poll_result = bot.RunLongPolling(poll_stop);
          polling = false;
          if (poll_result != 0) break;  // the token was rejected
          poll_stop = stop.load();      // lost the lock: stand by again
          continue;
        }
        std::unique_lock<std::mutex> lock(stop_mu);
        stop_cv.wait_for(lock, std::chrono::seconds(flags.takeover_seconds),
                         [&] { return stop.load(); });
      }
      std::lock_guard<std::mutex> l(poll_lock_mu);
      poll_lock->Release();  // a standby takes over while this one drains
    });
  }

  std::thread jobs([&] {
    // The holder of the jobs checks the books as it takes them (at start, or over from another
    // instance), then every RECONCILE_INTERVAL_SECONDS.
    auto next_reconcile = std::chrono::steady_clock::now();
    auto next_recovery =
        SaturatingDeadline(std::chrono::steady_clock::now(), flags.recovery_interval_s);
    // Admin alerts are queued by this process and by others (a chat purchase, reconcile): a
    // pass every few seconds, no more often than the shortest retry wait needs.
    const auto alert_interval =
        std::chrono::seconds(std::min<int64_t>(config.alert_retry_seconds, 5));
    auto next_alerts = std::chrono::steady_clock::now();
    constexpr auto kPruneInterval = std::chrono::hours(1);
    auto next_prune = std::chrono::steady_clock::now() + kPruneInterval;
    constexpr auto kBankSweepInterval = std::chrono::seconds(30);
    auto next_bank_sweep = std::chrono::steady_clock::now() + kBankSweepInterval;
    const auto takeover_interval = std::chrono::seconds(flags.takeover_seconds);
    auto next_check = std::chrono::steady_clock::now() + takeover_interval;
    std::unique_lock<std::mutex> lock(stop_mu);
    while (!stop) {
      auto wake = next_check;
      if (leading_jobs) {
        wake = std::min({wake, next_recovery, next_alerts, next_prune, next_bank_sweep});
        if (config.reconcile_interval_seconds > 0) wake = std::min(wake, next_reconcile);
      }
      stop_cv.wait_until(lock, wake, [&] { return stop.load(); });
      if (stop) break;
      lock.unlock();
      auto now = std::chrono::steady_clock::now();
      if (now >= next_check) {
        next_check = now + takeover_interval;
        if (poll_lock && polling) {
          std::lock_guard<std::mutex> l(poll_lock_mu);
          if (!poll_lock->Hold()) {
            // Another instance polls now; ours ends after its current getUpdates.
            Log(LogLevel::kWarn, "serve.polling_lost");
            poll_stop = true;
          }
        }
        if (check_jobs(false)) {
          next_prune = now + kPruneInterval;
          next_alerts = now;
          next_reconcile = now;
        }
      }
      if (!leading_jobs) {
        lock.lock();
        continue;
      }
      if (config.reconcile_interval_seconds > 0 && now >= next_reconcile) {
        if (auto r = ReconcileAndAlert(reconciler, outbox, config, &metrics); !r) {
          Log(LogLevel::kError, "reconcile.failed", {{"error", r.error().message}});
        }
        next_reconcile = SaturatingDeadline(now, config.reconcile_interval_seconds);
        next_alerts = now;  // deliver this run's alert now
      }
      if (now >= next_alerts) {
        DeliverAlerts(alert_sender, &stop);
        next_alerts = std::chrono::steady_clock::now() + alert_interval;
      }
      if (now >= next_recovery) {
        if (auto r = s.purchases().Recover(flags.recovery_interval_s); !r) {
          Log(LogLevel::kError, "recovery.failed", {{"error", r.error().message}});
        }
        next_recovery = SaturatingDeadline(now, flags.recovery_interval_s);
      }
      if (now >= next_prune) {
        PruneInbox(inbox, s.clock(), config.inbox_retention_days);
        next_prune = now + kPruneInterval;
      }
      if (now >= next_bank_sweep) {
        SweepBankNotices(s.bank_feed(), bot);
        next_bank_sweep = now + kBankSweepInterval;
      }
      lock.lock();
    }
    lock.unlock();
    jobs_lock->Release();  // a standby takes the jobs over now, not when this process ends
    leading_jobs = false;
  });

  // Polling ends on its own when the token is rejected; treat that as a stop.
  if (poller.joinable()) {
    poller.join();
    if (!stop) {
      pthread_kill(signal_thread.native_handle(), SIGTERM);
    }
  }
  {
    std::unique_lock<std::mutex> l(stop_mu);
    stop_cv.wait(l, [&] { return stop.load(); });
  }
  signal_thread.join();
  http.Stop();
  bool drained = bot.Drain(std::chrono::seconds(flags.shutdown_seconds));
  jobs.join();
  if (recorder) {
    if (auto balances = BalancesByTelegramId(s.db()); balances) {
      if (auto st = recorder->Save(*balances); !st) {
        Log(LogLevel::kError, "record.save_failed", {{"error", st.error().message}});
      }
    }
  }
  Log(drained ? LogLevel::kInfo : LogLevel::kWarn, "serve.stopped",
      {{"drained", drained ? "yes" : "no"}});
  if (!drained) {
    // Drain left the workers still running (a slow model or registrar call) detached, and they
    // use `s`, `bot`, `inbox` and the client: returning would destroy those under them, a
    // use-after-free. Joining them would make the shutdown bound meaningless. So end the
    // process the way a crash would, which every rule already covers: their updates stay
    // 'started' and the next start abandons them and tells the chats; a purchase cut off
    // between debit and answer is settled by Recover. stderr (the log) is unbuffered.
    std::fflush(stdout);
    std::_Exit(kServeExitNotDrained);
  }
  return poll_result != 0 ? poll_result : 0;
}

}  // namespace depositbot
