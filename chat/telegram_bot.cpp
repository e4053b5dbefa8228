#include "chat/telegram_bot.h"

#include <nlohmann/json.hpp>
#include <thread>

#include "agent/agent.h"
#include "chat/telegram_text.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "common/metrics.h"
#include "db/deposit_store.h"
#include "db/inbox_store.h"
#include "db/notification_store.h"
#include "db/user_store.h"
#include "tools/purchase_service.h"
#include "tools/tool_registry.h"

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

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
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
    : d_(deps), o_(std::move(options)), dispatcher_(o_.workers, o_.max_queued) {
  d_.metrics.Describe("depositbot_updates_received_total", "counter", "Telegram updates received");
  d_.metrics.Describe("depositbot_updates_handled_total", "counter", "Telegram updates handled");
  d_.metrics.Describe("depositbot_updates_duplicated_total", "counter",
                      "Repeated deliveries of an update, skipped");
  d_.metrics.Describe("depositbot_model_call_seconds", "histogram", "Time per agent turn");
  d_.metrics.Describe("depositbot_tool_calls_total", "counter", "Tool calls by tool and outcome");
  d_.metrics.Describe("depositbot_telegram_send_errors_total", "counter",
                      "Failed Telegram API calls by error code");
}

TelegramBot::~TelegramBot() { dispatcher_.Stop(std::chrono::seconds(20)); }

Result<bool> TelegramBot::Accept(const TelegramUpdate& update) {
  d_.metrics.Add("depositbot_updates_received_total");
  int64_t chat = ChatOf(update);
  auto fresh = d_.inbox.Receive(update.update_id, chat, TelegramUpdateToJson(update).dump());
  if (!fresh) return fresh.error();
  if (!*fresh) {
    d_.metrics.Add("depositbot_updates_duplicated_total");
    Log(LogLevel::kInfo, "telegram.update_duplicate",
        {{"update_id", std::to_string(update.update_id)}, {"chat_id", std::to_string(chat)}});
    return false;
  }
  bool queued = dispatcher_.Submit(chat, [this, update] { Handle(update); });
  if (!queued) {
    // Shutting down: the update stays 'received' and is handled after the restart.
    Log(LogLevel::kWarn, "telegram.update_deferred",
        {{"update_id", std::to_string(update.update_id)}});
  }
  return true;
}

Status TelegramBot::RecoverInbox() {
  auto rec = d_.inbox.Recover();
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
  for (const auto& u : rec->to_handle) {
    auto parsed = ParseTelegramUpdate(std::string_view(u.payload));
    if (!parsed) continue;
    TelegramUpdate update = *parsed;
    dispatcher_.Submit(u.chat_id, [this, update] { Handle(update); });
  }
  return Status::Ok();
}

int TelegramBot::RunLongPolling(const std::atomic<bool>& stop) {
  int64_t offset = 0;
  int failures = 0;
  while (!stop) {
    auto batch = d_.telegram.GetUpdates(offset, o_.poll_timeout_s);
    if (!batch && batch.error().kind == TelegramError::Kind::kCancelled) {
      // StopPolling(): the offset sent last confirms only updates already recorded, so what
      // the aborted poll held is delivered again after the restart.
      Log(LogLevel::kInfo, "telegram.poll_stopped", {{"offset", std::to_string(offset)}});
      return 0;
    }
    if (!batch) {
      const TelegramError& e = batch.error();
      d_.metrics.Add("depositbot_telegram_send_errors_total",
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
    for (const auto& u : *batch) {
      if (u.update_id >= offset) offset = u.update_id + 1;
      if (u.kind == TelegramUpdate::Kind::kUnparsable) {
        Log(LogLevel::kWarn, "telegram.update_unparsable",
            {{"update_id", std::to_string(u.update_id)}, {"error", u.parse_error}});
        continue;
      }
      if (auto r = Accept(u); !r) {
        // Not recorded: do not confirm it, so Telegram delivers it again.
        Log(LogLevel::kError, "telegram.inbox_failed",
            {{"update_id", std::to_string(u.update_id)}, {"error", r.error().message}});
        offset = std::min(offset, u.update_id);
        break;
      }
    }
  }
  return 0;
}

void TelegramBot::StopPolling() { d_.telegram.StopPolling(); }

bool TelegramBot::Drain(std::chrono::milliseconds bound) { return dispatcher_.Stop(bound); }

void TelegramBot::Handle(const TelegramUpdate& update) {
  auto started = d_.inbox.Start(update.update_id);
  if (!started || !*started) return;  // already handled (or the database is gone)
  auto t0 = std::chrono::steady_clock::now();
  if (update.kind == TelegramUpdate::Kind::kMessage && update.message) {
    HandleMessage(*update.message);
  } else if (update.kind == TelegramUpdate::Kind::kCallbackQuery && update.callback_query) {
    HandleCallback(*update.callback_query);
  }
  // The effects are committed; a crash here leaves the update 'started',
  // which the next start-up abandons instead of running it again.
  (void)DEPOSITBOT_FAILPOINT("update.before_record");
  if (auto st = d_.inbox.Finish(update.update_id); !st) {
    Log(LogLevel::kError, "telegram.finish_failed", {{"error", st.error().message}});
  }
  d_.metrics.Add("depositbot_updates_handled_total");
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  Log(LogLevel::kInfo, "telegram.update_handled",
      {{"update_id", std::to_string(update.update_id)},
       {"chat_id", std::to_string(ChatOf(update))},
       {"ms", std::to_string(static_cast<int64_t>(ms))}});
}

Result<ToolContext> TelegramBot::ContextFor(const TelegramUser& from) {
  auto user = d_.users.FindOrCreate(from.id, DisplayName(from));
  if (!user) return user.error();
  return ToolContext{user->id, from.id, user->display_name, o_.admin_ids.count(from.id) > 0};
}

void TelegramBot::Send(int64_t chat_id, const std::string& plain_text) {
  auto r = d_.telegram.SendMessage(chat_id, HtmlEscape(plain_text));
  if (!r) {
    const TelegramError& e = r.error();
    d_.metrics.Add("depositbot_telegram_send_errors_total",
                   "method=\"sendMessage\",code=\"" + std::to_string(e.http_status) + "\"");
    Log(e.IsBlocked() ? LogLevel::kInfo : LogLevel::kWarn, "telegram.send_failed",
        {{"chat_id", std::to_string(chat_id)}, {"error", e.message}});
  }
}

void TelegramBot::HandleMessage(const TelegramMessage& m) {
  if (!m.from || m.from->is_bot) return;
  if (m.chat.type != "private") {
    Send(m.chat.id, "Please talk to me in a private chat: balances are personal.");
    return;
  }
  if (m.text.empty()) {
    Send(m.chat.id, "I can only read text messages. Send /help for what I can do.");
    return;
  }
  auto ctx = ContextFor(*m.from);
  if (!ctx) {
    Log(LogLevel::kError, "telegram.user_failed", {{"error", ctx.error().message}});
    Send(m.chat.id, "Sorry, something went wrong on my side. Nothing was changed; try again.");
    return;
  }
  (void)d_.telegram.SendChatAction(m.chat.id, "typing");
  auto t0 = std::chrono::steady_clock::now();
  TurnResult turn;
  if (o_.observer) {
    o_.observer->SeenUser(ctx->telegram_id, ctx->display_name, ctx->is_admin);
    o_.observer->BeginTurn();
  }
  try {
    turn = d_.agent.Handle(*ctx, m.chat.id, m.text);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "telegram.turn_crashed", {{"error", e.what()}});
    turn.reply = "Sorry, something went wrong on my side. Nothing was changed; please try again.";
  }
  d_.metrics.Observe("depositbot_model_call_seconds",
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                     "model=\"" + turn.model_name + "\"");
  d_.metrics.Add("depositbot_model_calls_total", "model=\"" + turn.model_name + "\"",
                 turn.model_calls);
  for (const auto& c : turn.calls) {
    d_.metrics.Add("depositbot_tool_calls_total",
                   "tool=\"" + c.name + "\",outcome=\"" +
                       (c.result.ok ? std::string("ok") : c.result.error_code()) + "\"");
  }
  if (o_.observer) o_.observer->EndMessageTurn(ctx->telegram_id, m.text, turn);
  (void)DEPOSITBOT_FAILPOINT("turn.before_reply");
  Send(m.chat.id, turn.reply);
  for (const auto& ui : turn.ui) ApplyUi(*ctx, m.chat.id, ui);
}

void TelegramBot::ApplyUi(const ToolContext& actor, int64_t chat_id, const json& ui) {
  std::string kind = Str(ui, "kind");
  if (kind == "deposit_requested") {
    NotifyAdminsOfDeposit(ui);
  } else if (kind == "deposit_decided") {
    AnnounceDecision(ui);
  } else if (kind == "purchase_quote") {
    int64_t order = ui.value("order_id", int64_t{0});
    TelegramSendOptions o;
    o.keyboard = Buttons("✅ Buy", {CallbackData::Action::kConfirmPurchase, order}, "✖ Cancel",
                         {CallbackData::Action::kCancelPurchase, order});
    auto r = d_.telegram.SendMessage(
        chat_id,
        "Buy <b>" + HtmlEscape(Str(ui, "domain")) + "</b> for " +
            HtmlEscape(Str(ui, "price_formatted")) + "? Only you can confirm this quote.",
        o);
    if (!r) Log(LogLevel::kWarn, "telegram.quote_send_failed", {{"error", r.error().message}});
  }
  (void)actor;
}

void TelegramBot::NotifyAdminsOfDeposit(const json& ui) {
  int64_t tx = ui.value("transaction_id", int64_t{0});
  std::string text = "💰 New deposit request <b>#" + std::to_string(tx) + "</b>\nUser: " +
                     HtmlEscape(Str(ui, "user_name")) + " (Telegram " +
                     Str(ui, "user_telegram_id") + ")\nAmount: <b>" +
                     HtmlEscape(Str(ui, "amount_formatted")) + "</b>\nDepositor name: " +
                     HtmlEscape(Str(ui, "depositor_name"));
  TelegramSendOptions o;
  o.keyboard = Buttons("✅ Confirm", {CallbackData::Action::kConfirmDeposit, tx}, "✖ Reject",
                       {CallbackData::Action::kRejectDeposit, tx});
  for (int64_t admin : o_.admin_ids) {
    auto r = d_.telegram.SendMessage(admin, text, o);
    if (!r) {
      d_.metrics.Add("depositbot_telegram_send_errors_total",
                     "method=\"sendMessage\",code=\"" + std::to_string(r.error().http_status) + "\"");
      Log(LogLevel::kWarn, "telegram.admin_notify_failed",
          {{"admin", std::to_string(admin)}, {"error", r.error().message}});
      continue;
    }
    if (!r->empty()) (void)d_.notifications.Save(tx, admin, r->back());
  }
  if (o_.admin_ids.empty()) {
    Log(LogLevel::kWarn, "telegram.no_admins", {{"transaction_id", std::to_string(tx)}});
  }
}

void TelegramBot::AnnounceDecision(const json& ui) {
  int64_t tx = ui.value("transaction_id", int64_t{0});
  bool confirmed = Str(ui, "status") == "confirmed";
  std::string outcome = (confirmed ? "✅ Confirmed by " : "✖ Rejected by ") +
                        HtmlEscape(Str(ui, "admin_name")) + " (Telegram " +
                        Str(ui, "admin_telegram_id") + ")";
  if (auto copies = d_.notifications.ForTransaction(tx)) {
    for (const auto& [chat, message] : *copies) {
      std::string text = "Deposit request <b>#" + std::to_string(tx) + "</b> of " +
                         HtmlEscape(Str(ui, "amount_formatted")) + " from " +
                         HtmlEscape(Str(ui, "user_name")) + "\n" + outcome;
      auto r = d_.telegram.EditMessageText(chat, message, text);
      if (!r && !r.error().IsNotModified()) {
        Log(LogLevel::kWarn, "telegram.edit_failed", {{"error", r.error().message}});
      }
    }
  }
  int64_t user_chat = ui.value("user_telegram_id", int64_t{0});
  if (user_chat != 0) {
    std::string text =
        confirmed ? "Your deposit #" + std::to_string(tx) + " of " + Str(ui, "amount_formatted") +
                        " was confirmed. Your balance is now " +
                        Str(ui, "user_balance_formatted") + "."
                  : "Your deposit #" + std::to_string(tx) + " of " + Str(ui, "amount_formatted") +
                        " was rejected" +
                        (ui.contains("reason") ? ": " + Str(ui, "reason") : std::string(".")) +
                        " Contact an admin if you think this is wrong.";
    Send(user_chat, text);
  }
}

void TelegramBot::HandleCallback(const TelegramCallbackQuery& q) {
  auto data = ParseCallbackData(q.data);
  if (!data) {
    (void)d_.telegram.AnswerCallbackQuery(q.id, "This button is no longer valid.");
    return;
  }
  auto ctx = ContextFor(q.from);
  if (!ctx) {
    (void)d_.telegram.AnswerCallbackQuery(q.id, "Sorry, something went wrong; try again.");
    return;
  }
  if (o_.observer) o_.observer->SeenUser(ctx->telegram_id, ctx->display_name, ctx->is_admin);
  int64_t chat = q.message ? q.message->chat.id : q.from.id;
  int64_t message_id = q.message ? q.message->message_id : 0;
  auto remove_buttons = [&] {
    if (message_id != 0) (void)d_.telegram.EditMessageReplyMarkup(chat, message_id, std::nullopt);
  };
  using A = CallbackData::Action;
  if (data->action == A::kConfirmDeposit || data->action == A::kRejectDeposit) {
    if (!ctx->is_admin) {
      Log(LogLevel::kWarn, "telegram.refused_admin_button",
          {{"telegram_id", std::to_string(q.from.id)}, {"transaction_id", std::to_string(data->id)}});
      d_.metrics.Add("depositbot_refusals_total", "reason=\"not_admin\"");
      (void)d_.telegram.AnswerCallbackQuery(q.id, "Only admins can decide deposits.", true);
      return;
    }
    json args = {{"action", data->action == A::kConfirmDeposit ? "confirm" : "reject"},
                 {"transaction_id", data->id}};
    if (data->action == A::kRejectDeposit) args["reason"] = "rejected by an admin";
    ToolResult r = d_.tools.Invoke(*ctx, "manage_deposit", args.dump());
    if (o_.observer) {
      o_.observer->EndPressTurn(ctx->telegram_id,
                                data->action == A::kConfirmDeposit ? "confirm_deposit"
                                                                   : "reject_deposit",
                                data->id, "", !r.ok);
    }
    d_.metrics.Add("depositbot_tool_calls_total",
                   "tool=\"manage_deposit\",outcome=\"" +
                       (r.ok ? std::string("ok") : r.error_code()) + "\"");
    if (!r.ok) {
      (void)d_.telegram.AnswerCallbackQuery(q.id, Str(r.payload, "message"), true);
      remove_buttons();
      return;
    }
    (void)d_.telegram.AnswerCallbackQuery(
        q.id, data->action == A::kConfirmDeposit ? "Confirmed." : "Rejected.");
    if (r.ui) AnnounceDecision(*r.ui);
    return;
  }
  // A purchase quote: only its owner can confirm or cancel it (checked by PurchaseService).
  if (data->action == A::kConfirmPurchase) {
    auto outcome = d_.purchases.Confirm(ctx->user_id, data->id);
    if (o_.observer) {
      o_.observer->EndPressTurn(ctx->telegram_id, "confirm_purchase", data->id,
                                ConfirmReply(outcome, d_.purchases.IsDemo()), !outcome);
    }
    if (!outcome) {
      if (outcome.code() == ErrorCode::kForbidden) {
        Log(LogLevel::kWarn, "telegram.refused_foreign_quote",
            {{"telegram_id", std::to_string(q.from.id)}, {"order_id", std::to_string(data->id)}});
      }
      (void)d_.telegram.AnswerCallbackQuery(q.id, outcome.error().message, true);
      if (outcome.code() != ErrorCode::kForbidden &&
          outcome.code() != ErrorCode::kInsufficientFunds) {
        remove_buttons();
      }
      return;
    }
    (void)d_.telegram.AnswerCallbackQuery(q.id, "Done.");
    remove_buttons();
    Send(chat, ConfirmReply(outcome, d_.purchases.IsDemo()));
    return;
  }
  auto cancelled = d_.purchases.Cancel(ctx->user_id, data->id);
  if (o_.observer) {
    o_.observer->EndPressTurn(ctx->telegram_id, "cancel_purchase", data->id,
                              CancelReply(data->id, cancelled), !cancelled);
  }
  if (!cancelled) {
    (void)d_.telegram.AnswerCallbackQuery(q.id, cancelled.error().message, true);
    if (cancelled.code() != ErrorCode::kForbidden) remove_buttons();
    return;
  }
  (void)d_.telegram.AnswerCallbackQuery(q.id, "Cancelled.");
  remove_buttons();
  Send(chat, CancelReply(data->id, cancelled));
}

}  // namespace depositbot
