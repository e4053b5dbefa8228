#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <set>
#include <string>

#include "chat/dispatcher.h"
#include "chat/telegram_client.h"
#include "chat/turn_observer.h"
#include "common/money.h"
#include "tools/tool_context.h"
#include "tools/ui_event.h"

namespace depositbot {

class Agent;
class DecisionHandler;
class InboxStore;
class Metrics;
class NotificationStore;
class UserStore;

// The Telegram transport: turns updates into agent turns and button presses
// into decisions (DecisionHandler, the path the terminal and replay take too),
// and the turns' side effects into chat messages
// (admin notifications with Confirm/Reject buttons, purchase quotes with
// Confirm/Cancel buttons for their owner, decisions told to the user).
// Updates are recorded in the InboxStore before anything acts on them and
// handled at most once, in arrival order per chat, different chats in
// parallel on the Dispatcher's workers. Admin rights are checked here from
// ADMIN_IDS, never taken from a message. Thread-safe.
class TelegramBot {
 public:
  struct Options {
    std::set<int64_t> admin_ids;
    Currency currency{"USD", 2};
    size_t workers = 8;
    size_t max_queued = 1000;
    int poll_timeout_s = 25;
    TurnObserver* observer = nullptr;  // e.g. serve --record
  };
  // Not owned; each must outlive the bot (and, after a Drain that timed out, the process).
  struct Deps {
    TelegramClient& telegram;
    Agent& agent;
    UserStore& users;
    const DecisionHandler& decisions;
    InboxStore& inbox;
    NotificationStore& notifications;
    Metrics& metrics;
  };

  TelegramBot(Deps deps, Options options);
  ~TelegramBot();

  // Records an update and queues it for its chat. False when it was seen
  // before (a repeated delivery), which is counted and skipped.
  Result<bool> Accept(const TelegramUpdate& update);
  // At start-up: queues updates received but never handled, and tells the
  // chats of updates interrupted mid-way (they are not run again).
  Status RecoverInbox();
  // Long polling until `stop` is set; confirms the offset only for updates
  // recorded in the inbox. Returns 0, or 2 when the token is rejected.
  int RunLongPolling(const std::atomic<bool>& stop);
  // From another thread, once RunLongPolling's `stop` is set: aborts the
  // getUpdates in flight so RunLongPolling returns now, not after the
  // long-poll timeout. A batch already received is still recorded and
  // queued; one cut off was never confirmed and comes again after a restart.
  void StopPolling();
  // Stops taking updates and lets in-flight ones finish within `bound`. On
  // false their workers still run on this bot and its Deps: the caller must
  // end the process without destroying them (see Dispatcher::Stop).
  bool Drain(std::chrono::milliseconds bound);

 private:
  void Handle(const TelegramUpdate& update);
  void HandleMessage(const TelegramMessage& message);
  void HandleCallback(const TelegramCallbackQuery& query);
  // Shows what a turn or a decision asked for: admin notifications, quote buttons, the
  // decided deposit told to its user.
  void ShowUi(int64_t chat_id, const UiEvent& ui);
  void NotifyAdminsOfDeposit(const DepositRequestedUi& ui);
  void AnnounceDecision(const DepositDecidedUi& ui);
  void OfferQuote(int64_t chat_id, const PurchaseQuoteUi& ui);
  Result<ToolContext> ContextFor(const TelegramUser& from);
  void Send(int64_t chat_id, const std::string& plain_text);

  Deps deps_;
  Options options_;
  Dispatcher dispatcher_;
};

// The update in Telegram's own JSON shape (for the inbox and recordings).
nlohmann::json TelegramUpdateToJson(const TelegramUpdate& update);
// The chat an update belongs to (0 when it has none).
int64_t ChatOf(const TelegramUpdate& update);

}  // namespace depositbot
