#pragma once

#include <string>

#include "app/config.h"

namespace depositbot {

struct ServeFlags {
  bool webhook = false;
  std::string webhook_url;  // registers the webhook itself when given
  int poll_timeout_s = 25;
  int shutdown_seconds = 20;
  int recovery_interval_s = 300;
  // How often an instance checks that it still holds the jobs (or the long poll) or, standing by,
  // whether it can take them over: the bound on a takeover after the holder dies.
  int takeover_seconds = 2;
  std::string record_dir;  // writes the session as a fixture into this folder
};

// serve's exit status when in-flight updates did not finish within
// --shutdown-seconds: the process ended without waiting for them (like a
// crash); the next start tells their chats they were interrupted.
inline constexpr int kServeExitNotDrained = 3;

// `depositbot serve`: the Telegram bot with its jobs (reconciliation alerts,
// purchase recovery, inbox pruning) and the HTTP endpoint. SIGTERM/SIGINT stop
// receiving at once (an idle long poll is aborted), let in-flight updates
// finish within shutdown_seconds and exit 0; kServeExitNotDrained when they
// did not finish; 2 on a setup error or a rejected token.
int RunServe(const Config& config, const ServeFlags& flags);

// `depositbot reconcile --alert`: one run whose new, changed or resolved
// discrepancies are queued as one admin alert (once: what was already queued is
// not repeated), then one delivery pass over the alert outbox; an admin the
// send failed for is retried later (by serve). Exit 1 when the books are not
// clean, 2 on a setup error (the alert stays queued).
int RunReconcileAlert(const Config& config, bool json);

}  // namespace depositbot
