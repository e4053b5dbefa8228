#include "chat/telegram_bot.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "agent/agent.h"
#include "chat/telegram_text.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/text.h"
#include "db/bank_notification_store.h"
#include "db/inbox_store.h"
#include "db/notification_store.h"
#include "db/user_store.h"
#include "tools/decision_handler.h"

namespace depositbot {
namespace {

using nlohmann::json;

json UserJson(const TelegramUser& u) {
  json j = {{"id", u.id}, {"is_bot", u.is_bot}, {"first_name", u.first_name}};
  if (!u.last_name.empty()) j["last_name"] = u.last_name;
  if (!u.username.empty()) j["username"] = u.username;
  if (!u.language_code.empty()) j["language_code"] = u.language_code;
  return j;
}

json MessageJson(const TelegramMessage& m) {
  json j = {{"message_id", m.message_id},
            {"chat", {{"id", m.chat.id}, {"type", m.chat.type}}},
            {"date", m.date}};
  if (m.from) j["from"] = UserJson(*m.from);
  if (!m.text.empty()) j["text"] = m.text;
  return j;
}

std::string DisplayName(const TelegramUser& u) {
  std::string name = u.first_name;
  if (!u.last_name.empty()) name += " " + u.last_name;
  if (name.empty()) name = u.username.empty() ? "user " + std::to_string(u.id) : u.username;
  return name;
}

InlineKeyboard Buttons(const std::string& yes, CallbackData yes_data, const std::string& no,
                       CallbackData no_data) {
  InlineKeyboard k;
  k.rows.push_back({InlineKeyboardButton::Callback(yes, MakeCallbackData(yes_data)),
                    InlineKeyboardButton::Callback(no, MakeCallbackData(no_data))});
  return k;
}

}  // namespace

json TelegramUpdateToJson(const TelegramUpdate& u) {
  json j = {{"update_id", u.update_id}};
  if (u.kind == TelegramUpdate::Kind::kMessage && u.message) j["message"] = MessageJson(*u.message);
  if (u.kind == TelegramUpdate::Kind::kEditedMessage && u.message) {
    j["edited_message"] = MessageJson(*u.message);
  }
  if (u.kind == TelegramUpdate::Kind::kCallbackQuery && u.callback_query) {
    const auto& q = *u.callback_query;
    json c = {{"id", q.id}, {"from", UserJson(q.from)}, {"chat_instance", q.chat_instance}};
    if (q.message) c["message"] = MessageJson(*q.message);
    if (!q.data.empty()) c["data"] = q.data;
    j["callback_query"] = c;
  }
  return j;
}

int64_t ChatOf(const TelegramUpdate& u) {
  if (u.message) return u.message->chat.id;
  if (u.callback_query) {
    if (u.callback_query->message) return u.callback_query->message->chat.id;
    return u.callback_query->from.id;
  }
  return 0;
}

TelegramBot::TelegramBot(Deps deps, Options options)
    : deps_(deps), options_(std::move(options)), dispatcher_(options_.max_in_flight) {
  deps_.metrics.Describe("depositbot_updates_received_total", "counter",
                         "Telegram updates received");
  deps_.metrics.Describe("depositbot_updates_handled_total", "counter", "Telegram updates handled");
  deps_.metrics.Describe("depositbot_updates_duplicated_total", "counter",
                         "Repeated deliveries of an update, skipped");
  deps_.metrics.Describe("depositbot_busy_total", "counter",
                         "Updates answered busy because max_in_flight were in flight");
  deps_.metrics.Describe("depositbot_model_call_seconds", "histogram", "Time per agent turn");
  deps_.metrics.Describe("depositbot_tool_calls_total", "counter",
                         "Tool calls by tool and outcome");
  deps_.metrics.Describe("depositbot_telegram_send_errors_total", "counter",
                         "Failed Telegram API calls by error code");
  notices_thread_ = std::thread([this] { SendNotices(); });
}

TelegramBot::~TelegramBot() {
  dispatcher_.Stop(std::chrono::seconds(20));
  {
    std::lock_guard<std::mutex> l(notices_mu_);
    notices_stop_ = true;
  }
  notices_cv_.notify_all();
  if (notices_thread_.joinable()) notices_thread_.join();
}

Result<bool> TelegramBot::Accept(const TelegramUpdate& update) {
  auto fresh = AcceptBatch({update});
  if (!fresh) return fresh.error();
  return static_cast<bool>(fresh->front());
}

Result<std::vector<bool>> TelegramBot::AcceptBatch(const std::vector<TelegramUpdate>& updates) {
  std::vector<InboxUpdate> records;
  records.reserve(updates.size());
  for (const auto& u : updates) {
    deps_.metrics.Add("depositbot_updates_received_total");
    records.push_back({u.update_id, ChatOf(u), TelegramUpdateToJson(u).dump()});
  }
  auto fresh = deps_.inbox.ReceiveBatch(records);
  if (!fresh) return fresh.error();
  std::vector<const TelegramUpdate*> admit;
  for (size_t i = 0; i < updates.size(); ++i) {
    if ((*fresh)[i]) {
      admit.push_back(&updates[i]);
      continue;
    }
    deps_.metrics.Add("depositbot_updates_duplicated_total");
    Log(LogLevel::kInfo, "telegram.update_duplicate",
        {{"update_id", std::to_string(updates[i].update_id)},
         {"chat_id", std::to_string(records[i].chat_id)}});
  }
  AdmitOrRefuse(admit);
  return fresh;
}

void TelegramBot::AdmitOrRefuse(const std::vector<const TelegramUpdate*>& updates) {
  std::vector<int64_t> refused_ids, admitted_ids;
  std::vector<const TelegramUpdate*> refused, admitted;
  for (const TelegramUpdate* u : updates) {
    if (!dispatcher_.Reserve()) {
      if (dispatcher_.stopping()) {  // not busy: it stays 'received', handled after the restart
        Log(LogLevel::kWarn, "telegram.update_deferred",
            {{"update_id", std::to_string(u->update_id)}});
        continue;
      }
      refused_ids.push_back(u->update_id);
      refused.push_back(u);
      continue;
    }
    admitted_ids.push_back(u->update_id);
    admitted.push_back(u);
  }
  // The admitted ones are claimed together (one durable commit for the batch, not one per
  // update on each handler's path). A claimed update that a crash cuts off before it ran is
  // abandoned at the next start and its chat told, like one cut off mid-way. When the claim
  // cannot be recorded, each handler claims its own update as before.
  std::set<int64_t> claimed;
  bool claims_known = false;
  // Claimed and queued under claim_mu_, like HandOn's: the chat's queue then holds its updates
  // in the order the inbox let them be claimed (see claim_mu_).
  std::unique_lock<std::mutex> claiming(claim_mu_);
  if (!admitted_ids.empty()) {
    if (auto c = deps_.inbox.StartBatch(admitted_ids)) {
      claimed.insert(c->begin(), c->end());
      claims_known = true;
    } else {
      Log(LogLevel::kWarn, "telegram.claim_failed", {{"error", c.error().message}});
    }
  }
  for (const TelegramUpdate* u : admitted) {
    const bool mine = claimed.count(u->update_id) > 0;
    if (claims_known && !mine) {
      // Another handler started it first, or an earlier update of its chat is still in
      // another's hands (that one hands it on, see HandOn).
      deps_.metrics.Add("depositbot_inbox_order_waits_total");
      dispatcher_.Unreserve();
      continue;
    }
    TelegramUpdate copy = *u;
    if (!dispatcher_.SubmitReserved(
            ChatOf(copy), Dispatcher::Job([this, copy, mine] { return Handle(copy, mine); }))) {
      // Shutting down (or out of threads): an unclaimed update stays 'received' and is
      // handled after the restart; a claimed one is abandoned then and its chat told.
      Log(LogLevel::kWarn, "telegram.update_deferred",
          {{"update_id", std::to_string(u->update_id)}});
    }
  }
  claiming.unlock();
  if (refused.empty()) return;
  // Recorded as done before the answer goes out: a refused update is never handled later, and
  // a crash in between costs only the busy answer. When the refusal cannot be recorded the
  // updates stay 'received' and are handled after a restart: nothing is lost either way.
  auto marked = deps_.inbox.Refuse(refused_ids);
  if (!marked) {
    Log(LogLevel::kError, "telegram.refuse_failed", {{"error", marked.error().message}});
    return;
  }
  std::set<int64_t> told(marked->begin(), marked->end());
  for (const TelegramUpdate* u : refused) {
    if (!told.count(u->update_id)) continue;  // another handler had started it
    deps_.metrics.Add("depositbot_busy_total");
    Log(LogLevel::kWarn, "telegram.busy",
        {{"update_id", std::to_string(u->update_id)},
         {"chat_id", std::to_string(ChatOf(*u))},
         {"max_in_flight", std::to_string(dispatcher_.capacity())}});
    TellBusy(*u);
  }
}

void TelegramBot::TellBusy(const TelegramUpdate& u) {
  Notice n;
  if (u.kind == TelegramUpdate::Kind::kMessage && u.message && u.message->from &&
      !u.message->from->is_bot) {
    n.chat_id = u.message->chat.id;
  } else if (u.kind == TelegramUpdate::Kind::kCallbackQuery && u.callback_query) {
    n.callback_query_id = u.callback_query->id;
  } else {
    return;  // nothing anyone waits an answer for (an edit, a bot's message)
  }
  QueueNotice(std::move(n), u.update_id);
}

void TelegramBot::QueueNotice(Notice n, int64_t update_id) {
  std::lock_guard<std::mutex> l(notices_mu_);
  if (n.callback_query_id.empty() && queued_chats_.count({n.chat_id, n.typing}) > 0) {
    return;  // this chat already has the same notice waiting: one is enough
  }
  if (notices_.size() >= kMaxQueuedNotices) {
    Log(LogLevel::kWarn, "telegram.notice_dropped",
        {{"update_id", std::to_string(update_id)}, {"typing", n.typing ? "yes" : "no"}});
    return;
  }
  if (n.callback_query_id.empty()) queued_chats_.insert({n.chat_id, n.typing});
  notices_.push_back(std::move(n));
  notices_cv_.notify_one();
}

void TelegramBot::SendNotices() {
  std::unique_lock<std::mutex> lock(notices_mu_);
  while (true) {
    notices_cv_.wait(lock, [&] { return notices_stop_ || !notices_.empty(); });
    if (notices_.empty()) {  // stopping with nothing left
      notices_done_ = true;
      notices_cv_.notify_all();
      return;
    }
    Notice n = std::move(notices_.front());
    notices_.pop_front();
    if (n.callback_query_id.empty()) queued_chats_.erase({n.chat_id, n.typing});
    lock.unlock();
    if (n.typing) {
      (void)deps_.telegram.SendChatAction(n.chat_id, "typing");
    } else if (!n.callback_query_id.empty()) {
      (void)deps_.telegram.AnswerCallbackQuery(
          n.callback_query_id,
          "I am busy with many conversations right now. Nothing was done; please press again "
          "in a minute.",
          true);
    } else {
      Send(n.chat_id,
           "I am busy with many conversations right now and could not take this message. "
           "Nothing was done; please send it again in a minute.");
    }
    lock.lock();
  }
}

TelegramBot::Capacity TelegramBot::capacity() const {
  Capacity c;
  c.max_in_flight = dispatcher_.capacity();
  c.in_flight = dispatcher_.InFlight();
  c.running = dispatcher_.Running();
  c.waiting = dispatcher_.Suspended();
  c.max_threads = dispatcher_.max_threads();
  c.threads = dispatcher_.Threads();
  c.peak_threads = dispatcher_.PeakThreads();
  return c;
}

Status TelegramBot::RecoverInbox() {
  auto rec = deps_.inbox.Recover();
  if (!rec) return rec.error();
  if (rec->left_to_live_handler > 0) {
    Log(LogLevel::kInfo, "telegram.updates_left_to_live_handler",
        {{"count", std::to_string(rec->left_to_live_handler)}});
  }
  for (const auto& u : rec->abandoned) {
    Log(LogLevel::kWarn, "telegram.update_abandoned",
        {{"update_id", std::to_string(u.update_id)}, {"chat_id", std::to_string(u.chat_id)}});
    if (u.chat_id != 0) {
      Send(u.chat_id,
           "I was interrupted while handling one of your requests. Nothing is ever done twice: "
           "please check /balance or /history and send it again if it is not there.");
    }
  }
  std::vector<TelegramUpdate> pending;
  for (const auto& u : rec->to_handle) {
    auto parsed = ParseTelegramUpdate(std::string_view(u.payload));
    if (parsed) pending.push_back(*parsed);
  }
  std::vector<const TelegramUpdate*> admit;
  for (const auto& u : pending) admit.push_back(&u);
  AdmitOrRefuse(admit);
  return Status::Ok();
}

int TelegramBot::RunLongPolling(const std::atomic<bool>& stop) {
  int64_t offset = 0;
  int failures = 0;
  while (!stop) {
    auto batch = deps_.telegram.GetUpdates(offset, options_.poll_timeout_s);
    if (!batch && batch.error().kind == TelegramError::Kind::kCancelled) {
      // StopPolling(): the offset sent last confirms only updates already recorded, so what
      // the aborted poll held is delivered again after the restart.
      Log(LogLevel::kInfo, "telegram.poll_stopped", {{"offset", std::to_string(offset)}});
      return 0;
    }
    if (!batch) {
      const TelegramError& e = batch.error();
      deps_.metrics.Add("depositbot_telegram_send_errors_total",
                        "method=\"getUpdates\",code=\"" + std::to_string(e.http_status) + "\"");
      if (e.kind == TelegramError::Kind::kUnauthorized) {
        Log(LogLevel::kError, "telegram.token_rejected", {{"error", e.message}});
        return 2;
      }
      Log(LogLevel::kWarn, "telegram.poll_failed", {{"error", e.message}});
      // Back off without sleeping through a stop request.
      for (int i = 0; i < std::min(++failures, 10) * 10 && !stop; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    failures = 0;
    // A batch that arrived as the stop came is still recorded and queued (serve drains only
    // after this returns). No later poll confirms it, so Telegram delivers it again after the
    // restart and the inbox skips it as seen: at most once, never lost.
    std::vector<TelegramUpdate> parsable;
    int64_t next = offset;
    for (const auto& u : *batch) {
      next = std::max(next, u.update_id + 1);
      if (u.kind == TelegramUpdate::Kind::kUnparsable) {
        Log(LogLevel::kWarn, "telegram.update_unparsable",
            {{"update_id", std::to_string(u.update_id)}, {"error", u.parse_error}});
        continue;
      }
      parsable.push_back(u);
    }
    // The whole batch in one transaction (one durable commit): all recorded, or none and the
    // offset stays, so Telegram delivers the batch again.
    if (auto r = AcceptBatch(parsable); !r) {
      Log(LogLevel::kError, "telegram.inbox_failed",
          {{"updates", std::to_string(parsable.size())}, {"error", r.error().message}});
      continue;
    }
    offset = next;
  }
  return 0;
}

void TelegramBot::StopPolling() { deps_.telegram.StopPolling(); }

bool TelegramBot::Drain(std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  const bool drained = dispatcher_.Stop(bound);
  // The busy answers still queued go out within what is left of the bound; the notices thread
  // ends once its queue is empty.
  std::unique_lock<std::mutex> lock(notices_mu_);
  notices_stop_ = true;
  notices_cv_.notify_all();
  const bool sent = notices_cv_.wait_until(lock, deadline, [&] { return notices_done_; });
  lock.unlock();
  if (!drained || !sent) {
    // Left running like the dispatcher's workers: the caller ends the process.
    notices_thread_.detach();
    return false;
  }
  notices_thread_.join();
  return true;
}

Task<void> TelegramBot::Handle(TelegramUpdate update, bool claimed) {
  if (!claimed) {
    auto started = deps_.inbox.Start(update.update_id);
    if (!started || !*started) co_return;  // already handled (or the database is gone)
  }
  if (!co_await HandleClaimed(update)) co_return;
  // Updates of this chat another instance received while this one held the chat's turn run
  // here, in this task and its in-flight slot, one after another.
  while (auto next = HandOn(ChatOf(update))) {
    if (!co_await HandleClaimed(*next)) co_return;
  }
}

Task<bool> TelegramBot::HandleClaimed(const TelegramUpdate& update) {
  auto t0 = std::chrono::steady_clock::now();
  if (update.kind == TelegramUpdate::Kind::kMessage && update.message) {
    co_await HandleMessage(*update.message);
  } else if (update.kind == TelegramUpdate::Kind::kCallbackQuery && update.callback_query) {
    HandleCallback(*update.callback_query);
  }
  // The effects are committed; a crash here leaves the update 'started',
  // which the next start-up abandons instead of running it again.
  (void)DEPOSITBOT_FAILPOINT("update.before_record");
  const auto finished = deps_.inbox.Finish(update.update_id);
  if (!finished) {
    Log(LogLevel::kError, "telegram.finish_failed", {{"error", finished.error().message}});
  }
  deps_.metrics.Add("depositbot_updates_handled_total");
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  Log(LogLevel::kInfo, "telegram.update_handled",
      {{"update_id", std::to_string(update.update_id)},
       {"chat_id", std::to_string(ChatOf(update))},
       {"ms", std::to_string(static_cast<int64_t>(ms))}});
  co_return finished.ok();
}

std::optional<TelegramUpdate> TelegramBot::HandOn(int64_t chat_id) {
  if (chat_id == 0 || dispatcher_.stopping()) return std::nullopt;  // ClaimStranded, or restart
  // Under claim_mu_, where the receiving thread claims and queues: it cannot queue this chat's
  // next update between the look at the queue and the claim.
  std::lock_guard<std::mutex> claiming(claim_mu_);
  // An update of the chat queued here behind this one comes first; it hands on in its turn.
  if (dispatcher_.HasQueuedBehind(chat_id)) return std::nullopt;
  auto next = deps_.inbox.ClaimNext(chat_id);
  if (!next) {
    Log(LogLevel::kWarn, "telegram.claim_failed", {{"error", next.error().message}});
    return std::nullopt;
  }
  if (!*next) return std::nullopt;
  auto parsed = ParseTelegramUpdate(std::string_view((*next)->payload));
  if (!parsed || parsed->kind == TelegramUpdate::Kind::kUnparsable) {
    // Recorded only after it parsed once, so this is a damaged row: settle it.
    Log(LogLevel::kError, "telegram.stored_update_unparsable",
        {{"update_id", std::to_string((*next)->update_id)}});
    (void)deps_.inbox.Finish((*next)->update_id);
    return std::nullopt;
  }
  return *parsed;
}

void TelegramBot::SubmitClaimed(const std::vector<InboxUpdate>& updates) {
  for (const InboxUpdate& u : updates) {
    auto parsed = ParseTelegramUpdate(std::string_view(u.payload));
    if (!parsed || parsed->kind == TelegramUpdate::Kind::kUnparsable) {
      // Recorded only after it parsed once, so this is a damaged row: settle it.
      Log(LogLevel::kError, "telegram.stored_update_unparsable",
          {{"update_id", std::to_string(u.update_id)}});
      dispatcher_.Unreserve();
      (void)deps_.inbox.Finish(u.update_id);
      continue;
    }
    TelegramUpdate copy = *parsed;
    if (!dispatcher_.SubmitReserved(ChatOf(copy),
                                    Dispatcher::Job([this, copy] { return Handle(copy, true); }))) {
      Log(LogLevel::kWarn, "telegram.update_deferred",
          {{"update_id", std::to_string(u.update_id)}});
    }
  }
}

Result<int> TelegramBot::ClaimStranded(int64_t grace_seconds) {
  // Slots first, so that nothing is claimed that could not run here.
  int slots = 0;
  while (slots < 64 && dispatcher_.Reserve()) ++slots;
  if (slots == 0) return 0;
  std::lock_guard<std::mutex> claiming(claim_mu_);
  auto claimed = deps_.inbox.ClaimStranded(grace_seconds, slots);
  if (!claimed) {
    for (int i = 0; i < slots; ++i) dispatcher_.Unreserve();
    return claimed.error();
  }
  for (size_t i = claimed->size(); i < static_cast<size_t>(slots); ++i) dispatcher_.Unreserve();
  if (!claimed->empty()) {
    Log(LogLevel::kInfo, "telegram.stranded_updates_claimed",
        {{"count", std::to_string(claimed->size())}});
  }
  SubmitClaimed(*claimed);
  return static_cast<int>(claimed->size());
}

Result<ToolContext> TelegramBot::ContextFor(const TelegramUser& from) {
  auto user = deps_.users.FindOrCreate(from.id, DisplayName(from));
  if (!user) return user.error();
  // Kept so an admin can look the user up by @username (/user @name); none clears it.
  const std::string username = AsciiLower(from.username);
  if (user->username.value_or("") != username) {
    if (auto st = deps_.users.RecordUsername(user->id, username); !st) {
      Log(LogLevel::kWarn, "telegram.username_not_recorded",
          {{"telegram_id", std::to_string(from.id)}, {"error", st.error().message}});
    }
  }
  return ToolContext{user->id, from.id, user->display_name, options_.admin_ids.count(from.id) > 0};
}

void TelegramBot::Send(int64_t chat_id, const std::string& plain_text) {
  auto r = deps_.telegram.SendMessage(chat_id, HtmlEscape(plain_text));
  if (!r) {
    const TelegramError& e = r.error();
    deps_.metrics.Add("depositbot_telegram_send_errors_total",
                      "method=\"sendMessage\",code=\"" + std::to_string(e.http_status) + "\"");
    Log(e.IsBlocked() ? LogLevel::kInfo : LogLevel::kWarn, "telegram.send_failed",
        {{"chat_id", std::to_string(chat_id)}, {"error", e.message}});
  }
}

Task<void> TelegramBot::HandleMessage(const TelegramMessage& m) {
  if (!m.from || m.from->is_bot) co_return;
  if (m.chat.type != "private") {
    Send(m.chat.id, "Please talk to me in a private chat: balances are personal.");
    co_return;
  }
  if (m.text.empty()) {
    Send(m.chat.id, "I can only read text messages. Send /help for what I can do.");
    co_return;
  }
  auto ctx = ContextFor(*m.from);
  if (!ctx) {
    Log(LogLevel::kError, "telegram.user_failed", {{"error", ctx.error().message}});
    Send(m.chat.id, "Sorry, something went wrong on my side. Nothing was changed; try again.");
    co_return;
  }
  // Shown by the notices thread: the model call need not wait for Telegram's answer to it.
  Notice typing;
  typing.chat_id = m.chat.id;
  typing.typing = true;
  QueueNotice(std::move(typing), m.message_id);
  auto t0 = std::chrono::steady_clock::now();
  TurnResult turn;
  if (options_.observer) {
    options_.observer->SeenUser(ctx->telegram_id, ctx->display_name, ctx->is_admin);
    options_.observer->BeginTurn();
  }
  try {
    turn = co_await deps_.agent.HandleAsync(*ctx, m.chat.id, m.text);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "telegram.turn_crashed", {{"error", e.what()}});
    turn.reply = "Sorry, something went wrong on my side. Nothing was changed; please try again.";
  }
  deps_.metrics.Observe(
      "depositbot_model_call_seconds",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
      "model=\"" + turn.model_name + "\"");
  deps_.metrics.Add("depositbot_model_calls_total", "model=\"" + turn.model_name + "\"",
                    turn.model_calls);
  for (const auto& c : turn.calls) {
    deps_.metrics.Add("depositbot_tool_calls_total",
                      "tool=\"" + c.name + "\",outcome=\"" +
                          (c.result.ok ? std::string("ok") : c.result.error_code()) + "\"");
  }
  if (options_.observer) options_.observer->EndMessageTurn(ctx->telegram_id, m.text, turn);
  (void)DEPOSITBOT_FAILPOINT("turn.before_reply");
  Send(m.chat.id, turn.reply);
  for (const auto& ui : turn.ui) ShowUi(m.chat.id, ui);
}

void TelegramBot::ShowUi(int64_t chat_id, const UiEvent& ui, int64_t pressed_message_id) {
  if (const auto* requested = std::get_if<DepositRequestedUi>(&ui)) {
    NotifyAdminsOfDeposit(*requested);
  } else if (const auto* decided = std::get_if<DepositDecidedUi>(&ui)) {
    AnnounceDecision(*decided, chat_id, pressed_message_id);
  } else if (const auto* quote = std::get_if<PurchaseQuoteUi>(&ui)) {
    OfferQuote(chat_id, *quote);
  } else if (const auto* adjustment = std::get_if<AdjustmentRequestedUi>(&ui)) {
    OfferAdjustment(chat_id, *adjustment);
  } else if (const auto* adjusted = std::get_if<AdjustmentDecidedUi>(&ui)) {
    AnnounceAdjustment(*adjusted, chat_id, pressed_message_id);
  } else if (const auto* document = std::get_if<DocumentUi>(&ui)) {
    SendDocumentTo(chat_id, *document);
  } else if (const auto* notice = std::get_if<BankNoticeUi>(&ui)) {
    NotifyAdminsOfBankNotice(*notice);
  } else if (const auto* notice_decided = std::get_if<BankNoticeDecidedUi>(&ui)) {
    AnnounceBankNoticeDecided(*notice_decided, chat_id, pressed_message_id);
  }
}

void TelegramBot::Announce(const UiEvent& ui) { ShowUi(0, ui, 0); }

void TelegramBot::NotifyAdminsOfBankNotice(const BankNoticeUi& ui) {
  std::string text = "🏦 Bank transfer <b>" + HtmlEscape(ui.reference) + "</b> of <b>" +
                     HtmlEscape(ui.amount_formatted) + "</b> from " +
                     HtmlEscape(ui.depositor_name) + "\n" + HtmlEscape(ui.reason);
  if (!ui.candidates.empty()) {
    text += "\nCandidates:";
    for (const auto& c : ui.candidates) {
      text += "\n#" + std::to_string(c.transaction_id) + " " + HtmlEscape(c.user_name) +
              " (Telegram " + std::to_string(c.user_telegram_id) + ") as " +
              HtmlEscape(c.depositor_name);
    }
  }
  TelegramSendOptions send;
  if (ui.decidable) {
    InlineKeyboard k;
    for (const auto& c : ui.candidates) {
      k.rows.push_back({InlineKeyboardButton::Callback(
          "✅ Confirm #" + std::to_string(c.transaction_id),
          MakeCallbackData(
              {CallbackData::Action::kPickBankMatch, ui.notification_id, c.transaction_id}))});
    }
    k.rows.push_back({InlineKeyboardButton::Callback(
        "✖ Ignore",
        MakeCallbackData({CallbackData::Action::kIgnoreBankNotice, ui.notification_id}))});
    send.keyboard = std::move(k);
  }
  for (int64_t admin : options_.admin_ids) {
    auto r = deps_.telegram.SendMessage(admin, text, send);
    if (!r) {
      Log(LogLevel::kWarn, "telegram.admin_notify_failed",
          {{"admin", std::to_string(admin)}, {"error", r.error().message}});
      continue;
    }
    if (ui.decidable && !r->empty() && options_.bank_notifications) {
      (void)options_.bank_notifications->SaveMessage(ui.notification_id, admin, r->back());
    }
  }
  if (options_.admin_ids.empty()) {
    Log(LogLevel::kWarn, "telegram.no_admins",
        {{"bank_notification_id", std::to_string(ui.notification_id)}});
  }
}

void TelegramBot::AnnounceBankNoticeDecided(const BankNoticeDecidedUi& ui, int64_t pressed_chat,
                                            int64_t pressed_message_id) {
  std::set<std::pair<int64_t, int64_t>> copies;
  if (options_.bank_notifications) {
    if (auto recorded = options_.bank_notifications->Messages(ui.notification_id)) {
      copies.insert(recorded->begin(), recorded->end());
    }
  }
  if (pressed_message_id != 0) copies.insert({pressed_chat, pressed_message_id});
  std::string outcome = ui.state == "matched" && ui.deposit
                            ? "✅ Deposit #" + std::to_string(ui.deposit->transaction_id) + " of " +
                                  HtmlEscape(ui.deposit->amount_formatted) + " confirmed"
                            : std::string("✖ Ignored");
  outcome += ui.admin_telegram_id != 0 ? " by " + HtmlEscape(ui.admin_name) + " (Telegram " +
                                             std::to_string(ui.admin_telegram_id) + ")"
                                       : std::string(" by the bank feed");
  const std::string text = "🏦 Bank transfer <b>" + HtmlEscape(ui.reference) + "</b>\n" + outcome;
  for (const auto& [chat, message] : copies) {
    auto r = deps_.telegram.EditMessageText(chat, message, text);
    if (!r && !r.error().IsNotModified()) {
      Log(LogLevel::kWarn, "telegram.edit_failed", {{"error", r.error().message}});
    }
  }
  if (ui.deposit) {
    DepositDecidedUi deposit = *ui.deposit;
    if (!ui.tell_user) deposit.user_telegram_id = 0;
    AnnounceDecision(deposit, 0, 0);
  }
}

void TelegramBot::OfferAdjustment(int64_t chat_id, const AdjustmentRequestedUi& ui) {
  TelegramSendOptions send;
  send.keyboard =
      Buttons("✅ Confirm", {CallbackData::Action::kConfirmAdjustment, ui.transaction_id},
              "✖ Cancel", {CallbackData::Action::kCancelAdjustment, ui.transaction_id});
  std::string text = "⚖ Adjustment <b>#" + std::to_string(ui.transaction_id) + "</b>: <b>" +
                     HtmlEscape(ui.amount_formatted) + "</b> for " + HtmlEscape(ui.user_name) +
                     " (Telegram " + std::to_string(ui.user_telegram_id) +
                     ")\nReason: " + HtmlEscape(ui.reason) +
                     "\nNothing has changed yet. Confirm before " + FormatUtc(ui.expires_at) + ".";
  auto r = deps_.telegram.SendMessage(chat_id, text, send);
  if (!r) Log(LogLevel::kWarn, "telegram.adjustment_send_failed", {{"error", r.error().message}});
}

void TelegramBot::AnnounceAdjustment(const AdjustmentDecidedUi& ui, int64_t pressed_chat,
                                     int64_t pressed_message_id) {
  if (pressed_message_id != 0) {
    std::string text = "Adjustment <b>#" + std::to_string(ui.transaction_id) + "</b> of " +
                       HtmlEscape(ui.amount_formatted) + " for " + HtmlEscape(ui.user_name) +
                       "\nReason: " + HtmlEscape(ui.reason) + "\n" +
                       (ui.confirmed ? "✅ Applied by " : "✖ Cancelled by ") +
                       HtmlEscape(ui.admin_name) + " (Telegram " +
                       std::to_string(ui.admin_telegram_id) + ")";
    if (ui.confirmed && !ui.user_balance_formatted.empty()) {
      text += "; balance now " + HtmlEscape(ui.user_balance_formatted);
    }
    auto r = deps_.telegram.EditMessageText(pressed_chat, pressed_message_id, text);
    if (!r && !r.error().IsNotModified()) {
      Log(LogLevel::kWarn, "telegram.edit_failed", {{"error", r.error().message}});
    }
  }
  if (ui.confirmed && ui.user_telegram_id != 0) {
    std::string text = "An admin adjusted your balance by " + ui.amount_formatted +
                       " (reason: " + ui.reason + ").";
    if (!ui.user_balance_formatted.empty()) {
      text += " Your balance is now " + ui.user_balance_formatted + ".";
    }
    Send(ui.user_telegram_id, text);
  }
}

void TelegramBot::SendDocumentTo(int64_t chat_id, const DocumentUi& doc) {
  auto r =
      deps_.telegram.SendDocument(chat_id, doc.filename, doc.content, doc.mime_type, doc.caption);
  if (!r) {
    deps_.metrics.Add(
        "depositbot_telegram_send_errors_total",
        "method=\"sendDocument\",code=\"" + std::to_string(r.error().http_status) + "\"");
    Log(LogLevel::kWarn, "telegram.document_send_failed",
        {{"chat_id", std::to_string(chat_id)}, {"error", r.error().message}});
    Send(chat_id, "Sorry, I could not send the file " + doc.filename + ": " + r.error().message +
                      ". Nothing was changed; try again.");
  }
}

void TelegramBot::OfferQuote(int64_t chat_id, const PurchaseQuoteUi& ui) {
  TelegramSendOptions send;
  send.keyboard = Buttons("✅ Buy", {CallbackData::Action::kConfirmPurchase, ui.order_id},
                          "✖ Cancel", {CallbackData::Action::kCancelPurchase, ui.order_id});
  auto r = deps_.telegram.SendMessage(chat_id,
                                      "Buy <b>" + HtmlEscape(ui.domain) + "</b> for " +
                                          HtmlEscape(ui.price_formatted) +
                                          "? Only you can confirm this quote.",
                                      send);
  if (!r) Log(LogLevel::kWarn, "telegram.quote_send_failed", {{"error", r.error().message}});
}

void TelegramBot::NotifyAdminsOfDeposit(const DepositRequestedUi& ui) {
  const int64_t tx = ui.transaction_id;
  std::string text = "💰 New deposit request <b>#" + std::to_string(tx) +
                     "</b>\nUser: " + HtmlEscape(ui.user_name) + " (Telegram " +
                     std::to_string(ui.user_telegram_id) + ")\nAmount: <b>" +
                     HtmlEscape(ui.amount_formatted) +
                     "</b>\nDepositor name: " + HtmlEscape(ui.depositor_name);
  TelegramSendOptions send;
  send.keyboard = Buttons("✅ Confirm", {CallbackData::Action::kConfirmDeposit, tx}, "✖ Reject",
                          {CallbackData::Action::kRejectDeposit, tx});
  for (int64_t admin : options_.admin_ids) {
    auto r = deps_.telegram.SendMessage(admin, text, send);
    if (!r) {
      deps_.metrics.Add(
          "depositbot_telegram_send_errors_total",
          "method=\"sendMessage\",code=\"" + std::to_string(r.error().http_status) + "\"");
      Log(LogLevel::kWarn, "telegram.admin_notify_failed",
          {{"admin", std::to_string(admin)}, {"error", r.error().message}});
      continue;
    }
    if (!r->empty()) (void)deps_.notifications.Save(tx, admin, r->back());
  }
  if (options_.admin_ids.empty()) {
    Log(LogLevel::kWarn, "telegram.no_admins", {{"transaction_id", std::to_string(tx)}});
  }
}

void TelegramBot::AnnounceDecision(const DepositDecidedUi& ui, int64_t pressed_chat,
                                   int64_t pressed_message_id) {
  const int64_t tx = ui.transaction_id;
  const bool by_bank = ui.decided_via == "bank-feed";
  std::string outcome = (ui.confirmed ? "✅ Confirmed by " : "✖ Rejected by ") +
                        HtmlEscape(ui.admin_name) + " (Telegram " +
                        std::to_string(ui.admin_telegram_id) + ")";
  if (by_bank) {
    // Never an admin's name for what the bank feed decided alone.
    outcome =
        ui.admin_telegram_id == 0
            ? "✅ Confirmed by the bank feed (bank transfer " + HtmlEscape(ui.bank_reference) + ")"
            : outcome + " for bank transfer " + HtmlEscape(ui.bank_reference);
  }
  // The admins' copies of the request, and the one whose button was pressed: an admin may press
  // it before the bot has recorded that copy (the message reaches Telegram first).
  std::set<std::pair<int64_t, int64_t>> copies;
  if (auto recorded = deps_.notifications.ForTransaction(tx)) {
    copies.insert(recorded->begin(), recorded->end());
  }
  if (pressed_message_id != 0) copies.insert({pressed_chat, pressed_message_id});
  if (by_bank && copies.empty()) {
    // Confirmed before the admins ever got the request (its notice came first): tell them.
    const std::string text = "Deposit <b>#" + std::to_string(tx) + "</b> of " +
                             HtmlEscape(ui.amount_formatted) + " from " + HtmlEscape(ui.user_name) +
                             "\n" + outcome;
    for (int64_t admin : options_.admin_ids) {
      auto r = deps_.telegram.SendMessage(admin, text);
      if (!r) {
        Log(LogLevel::kWarn, "telegram.admin_notify_failed",
            {{"admin", std::to_string(admin)}, {"error", r.error().message}});
      }
    }
  }
  {
    for (const auto& [chat, message] : copies) {
      std::string text = "Deposit request <b>#" + std::to_string(tx) + "</b> of " +
                         HtmlEscape(ui.amount_formatted) + " from " + HtmlEscape(ui.user_name) +
                         "\n" + outcome;
      auto r = deps_.telegram.EditMessageText(chat, message, text);
      if (!r && !r.error().IsNotModified()) {
        Log(LogLevel::kWarn, "telegram.edit_failed", {{"error", r.error().message}});
      }
    }
  }
  if (ui.user_telegram_id != 0) {
    std::string text =
        ui.confirmed
            ? "Your deposit #" + std::to_string(tx) + " of " + ui.amount_formatted +
                  (by_bank ? " was confirmed: the bank transfer arrived." : " was confirmed.") +
                  " Your balance is now " + ui.user_balance_formatted + "."
            : "Your deposit #" + std::to_string(tx) + " of " + ui.amount_formatted +
                  " was rejected" +
                  (ui.reason ? EndSentence(": " + *ui.reason) : std::string(".")) +
                  " Contact an admin if you think this is wrong.";
    Send(ui.user_telegram_id, text);
  }
}

void TelegramBot::HandleCallback(const TelegramCallbackQuery& q) {
  auto data = ParseCallbackData(q.data);
  if (!data) {
    (void)deps_.telegram.AnswerCallbackQuery(q.id, "This button is no longer valid.");
    return;
  }
  auto ctx = ContextFor(q.from);
  if (!ctx) {
    (void)deps_.telegram.AnswerCallbackQuery(q.id, "Sorry, something went wrong; try again.");
    return;
  }
  if (options_.observer) {
    options_.observer->SeenUser(ctx->telegram_id, ctx->display_name, ctx->is_admin);
  }
  using A = CallbackData::Action;
  Decision decision;
  decision.id = data->id;
  switch (data->action) {
    case A::kConfirmDeposit:
      decision.kind = Decision::Kind::kConfirmDeposit;
      break;
    case A::kRejectDeposit:
      decision.kind = Decision::Kind::kRejectDeposit;
      break;
    case A::kConfirmPurchase:
      decision.kind = Decision::Kind::kConfirmPurchase;
      break;
    case A::kCancelPurchase:
      decision.kind = Decision::Kind::kCancelPurchase;
      break;
    // Admin tools in chat.
    case A::kConfirmAdjustment:
      decision.kind = Decision::Kind::kConfirmAdjustment;
      break;
    case A::kCancelAdjustment:
      decision.kind = Decision::Kind::kCancelAdjustment;
      break;
    // Bank feed.
    case A::kPickBankMatch:
      decision.kind = Decision::Kind::kPickBankMatch;
      decision.transaction_id = data->transaction_id;
      break;
    case A::kIgnoreBankNotice:
      decision.kind = Decision::Kind::kIgnoreBankNotice;
      break;
  }
  DecisionOutcome outcome = deps_.decisions.Decide(*ctx, decision);
  if (options_.observer) options_.observer->EndDecision(ctx->telegram_id, decision, outcome);
  // A bank notice's decision is shown like a deposit's: answered on the button, the admins'
  // copies edited.
  const bool deposit = decision.kind == Decision::Kind::kConfirmDeposit ||
                       decision.kind == Decision::Kind::kRejectDeposit ||
                       decision.kind == Decision::Kind::kPickBankMatch ||
                       decision.kind == Decision::Kind::kIgnoreBankNotice;
  if (deposit && (outcome.ok || outcome.code != ErrorCode::kForbidden)) {  // the tool ran
    deps_.metrics.Add("depositbot_tool_calls_total",
                      "tool=\"" + outcome.call.name + "\",outcome=\"" +
                          (outcome.ok ? std::string("ok") : outcome.call.result.error_code()) +
                          "\"");
  }
  const bool adjustment = decision.kind == Decision::Kind::kConfirmAdjustment ||
                          decision.kind == Decision::Kind::kCancelAdjustment;
  if (!outcome.ok && outcome.code == ErrorCode::kForbidden) {
    deps_.metrics.Add("depositbot_refusals_total", deposit || adjustment
                                                       ? "reason=\"not_admin\""
                                                       : "reason=\"not_quote_owner\"");
  }
  const int64_t chat = q.message ? q.message->chat.id : q.from.id;
  const int64_t message_id = q.message ? q.message->message_id : 0;
  // A deposit's or an adjustment's decision is told to the admin on the button (the request's
  // message is edited, the user is messaged); a purchase's outcome is a message in the buyer's
  // chat.
  const bool on_button = deposit || adjustment;
  if (!outcome.ok || on_button) {
    (void)deps_.telegram.AnswerCallbackQuery(q.id, outcome.reply, !outcome.ok);
  } else {
    (void)deps_.telegram.AnswerCallbackQuery(
        q.id, decision.kind == Decision::Kind::kConfirmPurchase ? "Done." : "Cancelled.");
  }
  if (!outcome.buttons_stay && message_id != 0 && !(outcome.ok && on_button)) {
    (void)deps_.telegram.EditMessageReplyMarkup(chat, message_id, std::nullopt);
  }
  if (outcome.ok && !on_button) Send(chat, outcome.reply);
  if (outcome.ui) ShowUi(chat, *outcome.ui, message_id);
}

}  // namespace depositbot
