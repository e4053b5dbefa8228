#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat/dispatcher.h"
#include "chat/telegram_client.h"
#include "chat/turn_observer.h"
#include "common/money.h"
#include "db/inbox_store.h"
#include "tools/tool_context.h"
#include "tools/ui_event.h"

namespace depositbot {

class Agent;
class BankNotificationStore;
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
// Updates are recorded in the InboxStore before anything acts on them (a
// getUpdates batch in one transaction) and handled at most once, in arrival
// order per chat, every chat with work at once on the Dispatcher. At most
// max_in_flight updates are queued or being handled; past that a new one is
// recorded as done and its sender told that the bot is busy (nothing was done,
// send it again in a minute), counted as depositbot_busy_total. Admin rights
// are checked here from ADMIN_IDS, never taken from a message. Thread-safe.
class TelegramBot {
 public:
  static constexpr size_t kDefaultMaxInFlight = 1024;
  struct Options {
    std::set<int64_t> admin_ids;
    Currency currency{"USD", 2};
    size_t max_in_flight = kDefaultMaxInFlight;
    int poll_timeout_s = 25;
    TurnObserver* observer = nullptr;  // e.g. serve --record
    // Bank feed: where the admins' messages about a bank notification are kept (so every copy
    // is edited once one admin decided). Not owned; null: they are not kept.
    BankNotificationStore* bank_notifications = nullptr;
  };
  struct Capacity {
    size_t max_in_flight = 0;
    size_t in_flight = 0;  // updates queued or being handled
    size_t running = 0;    // updates being handled on a thread
    size_t waiting = 0;    // updates whose turn waits on the model, holding no thread
    size_t threads = 0, peak_threads = 0, max_threads = 0;
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

  // Records an update and queues it for its chat (or answers "busy"). False
  // when it was seen before (a repeated delivery), which is counted and skipped.
  Result<bool> Accept(const TelegramUpdate& update);
  // The same for a whole batch, recorded in one transaction: element i is
  // true when updates[i] was new. On an error nothing was recorded.
  Result<std::vector<bool>> AcceptBatch(const std::vector<TelegramUpdate>& updates);
  Capacity capacity() const;
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
  // For the instance holding the jobs: claims and queues updates left 'received' for longer
  // than `grace_seconds` whose turn in their chat it is (their receiver died before claiming
  // them, or the handler of an earlier one stopped before handing them on), within capacity.
  // Returns how many it took.
  Result<int> ClaimStranded(int64_t grace_seconds);
  // Shows what arose outside a chat (a bank notification, see tools/bank_feed.h): admin messages
  // with buttons, edited copies, the user told. Thread-safe; sends on the calling thread.
  void Announce(const UiEvent& ui);
  // Stops taking updates and lets in-flight ones finish within `bound`. On
  // false their workers still run on this bot and its Deps: the caller must
  // end the process without destroying them (see Dispatcher::Stop).
  bool Drain(std::chrono::milliseconds bound);

 private:
  // Queues each update for its chat, or, past the cap, records it as refused and answers busy.
  void AdmitOrRefuse(const std::vector<const TelegramUpdate*>& updates);
  void TellBusy(const TelegramUpdate& update);
  void SendNotices();  // the notices thread: busy answers, in order, off the receiving thread
  // `claimed`: already started for this bot (StartBatch); otherwise Handle claims it first.
  // A coroutine on the Dispatcher: it waits on the model without holding a thread.
  Task<void> Handle(TelegramUpdate update, bool claimed);
  // Runs one claimed update and records it done; false when that could not be recorded.
  Task<bool> HandleClaimed(const TelegramUpdate& update);
  // After an update of `chat_id` finished: claims the chat's next update another instance
  // received while this one held the chat's turn (InboxStore::ClaimNext), for the same task to
  // run; nullopt when none waits (or the bot is stopping).
  std::optional<TelegramUpdate> HandOn(int64_t chat_id);
  // Queues claimed inbox updates (reserved slots: one per update) for their chats.
  void SubmitClaimed(const std::vector<InboxUpdate>& updates);
  Task<void> HandleMessage(const TelegramMessage& message);
  void HandleCallback(const TelegramCallbackQuery& query);
  // Shows what a turn or a decision asked for: admin notifications, quote buttons, the
  // decided deposit told to its user.
  // `pressed_message_id`: the message whose button led here (0 for a typed message).
  void ShowUi(int64_t chat_id, const UiEvent& ui, int64_t pressed_message_id = 0);
  void NotifyAdminsOfDeposit(const DepositRequestedUi& ui);
  void AnnounceDecision(const DepositDecidedUi& ui, int64_t pressed_chat,
                        int64_t pressed_message_id);
  void OfferQuote(int64_t chat_id, const PurchaseQuoteUi& ui);
  // Admin tools in chat: an adjustment's Confirm/Cancel buttons in the admin's chat, its
  // decision on the pressed message (and to its user when applied), an export as a document.
  void OfferAdjustment(int64_t chat_id, const AdjustmentRequestedUi& ui);
  void AnnounceAdjustment(const AdjustmentDecidedUi& ui, int64_t pressed_chat,
                          int64_t pressed_message_id);
  void SendDocumentTo(int64_t chat_id, const DocumentUi& doc);
  // Bank feed.
  void NotifyAdminsOfBankNotice(const BankNoticeUi& ui);
  void AnnounceBankNoticeDecided(const BankNoticeDecidedUi& ui, int64_t pressed_chat,
                                 int64_t pressed_message_id);
  Result<ToolContext> ContextFor(const TelegramUser& from);
  void Send(int64_t chat_id, const std::string& plain_text);

  // Sent off the handling threads, in order: a busy answer to a message (chat_id) or a button
  // press (callback id), or the "typing" action shown while a turn runs (typing).
  struct Notice {
    int64_t chat_id = 0;
    std::string callback_query_id;
    bool typing = false;
  };
  static constexpr size_t kMaxQueuedNotices = 4096;
  void QueueNotice(Notice notice, int64_t update_id);  // dropped (logged) past the bound

  Deps deps_;
  Options options_;
  Dispatcher dispatcher_;
  // Held from an inbox claim until the claimed updates are queued (AdmitOrRefuse, HandOn,
  // ClaimStranded). Without it a handler's hand-on could claim a chat's next update and queue it
  // after the receiving thread queued the one after that (the inbox let that one be claimed
  // because the next was already started here): the chat's replies would swap.
  std::mutex claim_mu_;
  std::mutex notices_mu_;
  std::condition_variable notices_cv_;
  std::deque<Notice> notices_;  // guarded by notices_mu_
  // Chats with a message notice queued, by kind (typing or busy): a chat that floods while the
  // bot is full gets one busy answer queued, not one per message paced at 1/s ahead of others.
  std::set<std::pair<int64_t, bool>> queued_chats_;  // guarded by notices_mu_
  bool notices_stop_ = false;                        // guarded by notices_mu_
  bool notices_done_ = false;  // guarded by notices_mu_: the thread has left SendNotices
  std::thread notices_thread_;
};

// The update in Telegram's own JSON shape (for the inbox and recordings).
nlohmann::json TelegramUpdateToJson(const TelegramUpdate& update);
// The chat an update belongs to (0 when it has none).
int64_t ChatOf(const TelegramUpdate& update);

}  // namespace depositbot
