#include "chat/admin_alert_sender.h"

#include <map>
#include <string>
#include <utility>

#include "chat/telegram_client.h"
#include "common/log.h"
#include "common/metrics.h"
#include "db/alert_store.h"

namespace depositbot {

AdminAlertSender::AdminAlertSender(TelegramClient& telegram, AlertStore& outbox, Options options,
                                   Metrics* metrics)
    : telegram_(telegram), outbox_(outbox), options_(std::move(options)), metrics_(metrics) {
  if (metrics_) {
    metrics_->Describe("depositbot_admin_alerts_delivered_total", "counter",
                       "Admin alerts delivered, one per (alert, admin)");
    metrics_->Describe("depositbot_admin_alert_delivery_failures_total", "counter",
                       "Failed admin alert sends by reason; each is retried with backoff");
    metrics_->Describe("depositbot_admin_alerts_undelivered", "gauge",
                       "Admin alerts that reached no admin yet");
  }
}

Result<AlertDeliveryPass> AdminAlertSender::DeliverDue(const std::atomic<bool>* stop) {
  AlertDeliveryPass pass;
  auto due = outbox_.Due(options_.admin_ids, options_.batch);
  if (!due) return due.error();
  std::map<int64_t, std::string> failed_alerts;  // id -> key, for the reached-nobody check
  for (const auto& d : *due) {
    if (stop && stop->load()) break;
    auto claimed = outbox_.Claim(d.alert.id, d.admin_id);
    if (!claimed) return claimed.error();
    if (!*claimed) continue;  // another process took it, or it was delivered meanwhile
    TelegramSendOptions plain;
    plain.parse_mode = TelegramParseMode::kPlain;
    auto sent = telegram_.SendMessage(d.admin_id, d.alert.text, plain);
    if (sent) {
      if (auto st = outbox_.MarkDelivered(d.alert.id, d.admin_id); !st) return st.error();
      ++pass.delivered;
      if (metrics_) metrics_->Add("depositbot_admin_alerts_delivered_total");
      Log(LogLevel::kInfo, "admin_alert.delivered",
          {{"alert", d.alert.key}, {"admin", std::to_string(d.admin_id)}});
      continue;
    }
    const TelegramError& e = sent.error();
    if (auto st = outbox_.MarkFailed(d.alert.id, d.admin_id, e.message); !st) return st.error();
    ++pass.failed;
    failed_alerts[d.alert.id] = d.alert.key;
    std::string reason(TelegramErrorKindName(e.kind));
    if (metrics_) {
      metrics_->Add("depositbot_admin_alert_delivery_failures_total", "reason=\"" + reason + "\"");
    }
    Log(LogLevel::kWarn, "admin_alert.send_failed",
        {{"alert", d.alert.key},
         {"admin", std::to_string(d.admin_id)},
         {"attempt", std::to_string(d.attempts + 1)},
         {"reason", reason},
         {"error", e.message}});
  }
  for (const auto& [id, key] : failed_alerts) {
    auto nobody = outbox_.ReachedNoAdmin(id, options_.admin_ids);
    if (!nobody) return nobody.error();
    if (*nobody) {
      Log(LogLevel::kError, "admin_alert.reached_no_admin",
          {{"alert", key}, {"admins", std::to_string(options_.admin_ids.size())}});
    }
  }
  auto undelivered = outbox_.UndeliveredCount(options_.admin_ids);
  if (!undelivered) return undelivered.error();
  pass.undelivered = *undelivered;
  if (metrics_) metrics_->Set("depositbot_admin_alerts_undelivered", pass.undelivered);
  return pass;
}

}  // namespace depositbot
