#pragma once

#include <atomic>
#include <cstdint>
#include <set>

#include "common/result.h"

namespace depositbot {

class AlertStore;
class Metrics;
class TelegramClient;

// What one delivery pass did.
struct AlertDeliveryPass {
  int delivered = 0;        // (alert, admin) pairs that reached the admin
  int failed = 0;           // pairs whose send failed (retried later with backoff)
  int64_t undelivered = 0;  // alerts that reached no admin yet, after the pass
};

// Delivers the admin alerts of an AlertStore to the admins' private chats, one sendMessage
// per (alert, admin) pair, recording each outcome per admin: an admin who blocked the bot
// (403) fails alone and is retried with backoff, the others are never sent the alert again.
// An alert that every admin failed to receive is logged at error level on each pass that
// tried it. Counts, when `metrics` is given: depositbot_admin_alerts_delivered_total,
// depositbot_admin_alert_delivery_failures_total{reason}, depositbot_admin_alerts_undelivered.
// `telegram`, `outbox` and `metrics` must outlive it. One pass at a time per instance; several
// processes may deliver from one database at once (pairs are claimed before each send).
class AdminAlertSender {
 public:
  struct Options {
    std::set<int64_t> admin_ids;  // ADMIN_IDS; their private chats
    int batch = 20;               // pairs per pass (sends are paced ~1/s per chat)
  };

  AdminAlertSender(TelegramClient& telegram, AlertStore& outbox, Options options, Metrics* metrics);

  // Sends what is due now, at most `batch` pairs; stops early once `stop` is set. Fails only
  // when the database does; a failed send is a counted, recorded outcome.
  Result<AlertDeliveryPass> DeliverDue(const std::atomic<bool>* stop = nullptr);

 private:
  TelegramClient& telegram_;
  AlertStore& outbox_;
  Options options_;
  Metrics* metrics_;
};

}  // namespace depositbot
