#include "tools/admin_commands.h"

#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/log.h"
#include "common/text.h"
#include "common/user_amount.h"
#include "db/deposit_store.h"
#include "db/ledger_report_store.h"
#include "db/order_store.h"
#include "db/user_store.h"

namespace depositbot {
namespace {

using nlohmann::json;

constexpr const char* kNotAdmin = "Sorry, only admins can do that.";
constexpr int64_t kDaySeconds = 86400;

const char* kUserUsage =
    "Usage: /user ID-or-@name — e.g. /user 1001 or /user @alice (the Telegram id, or the "
    "@username the user writes to me with)";
const char* kAdjustUsage =
    "Usage: /adjust ID AMOUNT REASON — e.g. /adjust 1001 +50.00 refund for the lost transfer "
    "(a leading minus debits: /adjust 1001 -12.50 duplicate deposit #7)";
const char* kExportUsage =
    "Usage: /export, or /export FROM TO with dates as YYYY-MM-DD (UTC, both days included), "
    "e.g. /export 2026-01-01 2026-01-31";

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

// The command word, lower case, without "@BotName": "/Stats@MyBot" -> "/stats".
std::string CommandOf(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  size_t j = i;
  while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
  std::string cmd = AsciiLower(text.substr(i, j - i));
  if (auto at = cmd.find('@'); at != std::string::npos) cmd.resize(at);
  return cmd;
}

// What follows the command word.
std::string_view ArgsOf(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  return text.substr(i);
}

// "1001" -> 1001; anything but 1-18 digits -> nullopt.
std::optional<int64_t> ParseTelegramId(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v <= 0) return std::nullopt;
  return v;
}

// "2026-01-31" -> the Unix time of its 00:00 UTC; nullopt for anything else (a day that does
// not exist, another format).
std::optional<int64_t> ParseDay(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  }
  auto num = [&](size_t from, size_t n) {
    int v = 0;
    for (size_t i = from; i < from + n; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  using namespace std::chrono;
  year_month_day ymd{year{num(0, 4)}, month{static_cast<unsigned>(num(5, 2))},
                     day{static_cast<unsigned>(num(8, 2))}};
  if (!ymd.ok()) return std::nullopt;
  return static_cast<int64_t>(sys_days(ymd).time_since_epoch() / seconds(1));
}

// "2026-01-31" for a Unix time (UTC).
std::string DayOf(int64_t unix_seconds) { return FormatUtc(unix_seconds).substr(0, 10); }

// Minor units as a plain decimal: no grouping, '-' for negatives: 123450 (exp 2) -> "1234.50".
std::string PlainAmount(int64_t minor, int exponent) {
  const bool negative = minor < 0;
  uint64_t v = negative ? 0 - static_cast<uint64_t>(minor) : static_cast<uint64_t>(minor);
  std::string digits = std::to_string(v);
  if (exponent > 0) {
    if (digits.size() <= static_cast<size_t>(exponent)) {
      digits.insert(0, static_cast<size_t>(exponent) + 1 - digits.size(), '0');
    }
    digits.insert(digits.size() - static_cast<size_t>(exponent), ".");
  }
  return (negative ? "-" : "") + digits;
}

std::string TxLine(const DepositTransaction& t, const std::string& amount) {
  std::string line = "#" + std::to_string(t.id) + " " + std::string(ToString(t.type)) + " " +
                     amount + " — " + std::string(ToString(t.status));
  if (t.depositor_name) line += ", from " + *t.depositor_name;
  if (t.type == TransactionType::kAdjustment && t.reason) line += ", reason: " + *t.reason;
  line += ", " + FormatUtc(t.created_at);
  return line;
}

std::string Capitalised(std::string message) {
  if (!message.empty()) {
    message[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(message[0])));
  }
  return message;
}

AdminCommandResult Refused(ExecutedCall call, const Error& error, std::string reply) {
  Log(LogLevel::kInfo, "admin.refused",
      {{"command", call.name},
       {"code", std::string(ErrorCodeName(error.code))},
       {"reason", error.message}});
  AdminCommandResult out;
  call.result = ToolResult::FromError(error);
  out.call = std::move(call);
  out.reply = std::move(reply);
  return out;
}

AdminCommandResult Answered(ExecutedCall call, json payload, std::string reply) {
  AdminCommandResult out;
  call.result = ToolResult::Success(std::move(payload));
  out.call = std::move(call);
  out.reply = std::move(reply);
  return out;
}

DecisionOutcome DecisionRefused(ExecutedCall call, const Error& error, std::string reply) {
  DecisionOutcome out;
  out.code = error.code;
  out.reply = std::move(reply);
  call.result = ToolResult::FromError(error);
  out.call = std::move(call);
  return out;
}

// A sentence for a user the admin named: "Alice (Telegram 1001, @alice)".
std::string Who(const User& u) {
  std::string out = u.display_name + " (Telegram " + std::to_string(u.telegram_id);
  if (u.username) out += ", @" + *u.username;
  return out + ")";
}

}  // namespace

std::string_view LedgerCsvHeader() {
  return "id,created_at,decided_at,user_telegram_id,user_name,type,status,direction,amount,"
         "currency,depositor_name,reference,reason,decided_by,decided_via,requested_by";
}

std::string CsvField(std::string_view value, bool text) {
  std::string v(value);
  if (text && !v.empty() && std::string_view("=+-@\t\r").find(v.front()) != std::string::npos) {
    v.insert(0, "'");
  }
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

AdminCommands::AdminCommands(DepositStore& deposits, UserStore& users, OrderStore& orders,
                             LedgerReportStore& reports, const Clock& clock,
                             AdminCommandOptions options)
    : deposits_(deposits),
      users_(users),
      orders_(orders),
      reports_(reports),
      clock_(clock),
      options_(std::move(options)) {}

bool AdminCommands::IsAdminCommand(std::string_view text) {
  const std::string cmd = CommandOf(text);
  return cmd == "/user" || cmd == "/adjust" || cmd == "/export" || cmd == "/stats";
}

std::string AdminCommands::HelpLines() {
  return "/user ID-or-@name — a user's balance, pending deposits, transactions and orders\n"
         "/adjust ID AMOUNT REASON — correct a balance (+ credits, - debits); you confirm first\n"
         "/export [FROM TO] — the ledger as a CSV file (dates YYYY-MM-DD, UTC)\n"
         "/stats — users, balances against the ledger, pending and today's figures";
}

std::string AdminCommands::Money(int64_t minor) const {
  return FormatAmount(minor, options_.currency);
}

std::string AdminCommands::SignedMoney(int64_t minor) const {
  return (minor > 0 ? "+" : "") + FormatAmount(minor, options_.currency);
}

std::optional<AdminCommandResult> AdminCommands::Handle(const ToolContext& who,
                                                        std::string_view text) const {
  if (!IsAdminCommand(text)) return std::nullopt;
  const std::string cmd = CommandOf(text);
  ExecutedCall call;
  call.name = "admin_" + cmd.substr(1);
  call.arguments =
      json{{"text", std::string(text)}}.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!who.is_admin) {
    Log(LogLevel::kWarn, "admin.not_admin",
        {{"command", cmd}, {"telegram_id", std::to_string(who.telegram_id)}});
    return Refused(std::move(call), Error::Forbidden("only admins may use " + cmd), kNotAdmin);
  }
  Log(LogLevel::kInfo, "admin.command",
      {{"command", cmd}, {"telegram_id", std::to_string(who.telegram_id)}});
  const std::vector<std::string> words = Words(text);
  if (cmd == "/user") return UserInfo(words, std::move(call));
  if (cmd == "/adjust") return RequestAdjustment(who, ArgsOf(text), std::move(call));
  if (cmd == "/export") return ExportLedger(words, std::move(call));
  return ShowStats(std::move(call));
}

AdminCommandResult AdminCommands::UserInfo(const std::vector<std::string>& words,
                                           ExecutedCall call) const {
  if (words.size() != 2) return Refused(std::move(call), Error::Invalid("usage"), kUserUsage);
  const std::string& key = words[1];
  Result<depositbot::User> user = Error::NotFound("");
  if (auto id = ParseTelegramId(key)) {
    user = users_.FindByTelegramId(*id);
    if (!user && user.code() == ErrorCode::kNotFound) {
      return Refused(std::move(call), user.error(),
                     "There is no user with Telegram id " + std::to_string(*id) + ".");
    }
  } else {
    std::string name = AsciiLower(key.front() == '@' ? key.substr(1) : key);
    user = users_.FindByUsername(name);
    if (!user && user.code() == ErrorCode::kNotFound) {
      return Refused(std::move(call), user.error(),
                     "No user has the username @" + name +
                         " (I learn a username when its owner writes to me). Try the Telegram id.");
    }
  }
  if (!user) {
    return Refused(std::move(call), user.error(),
                   "Sorry, I could not look that user up: " + user.error().message + ".");
  }
  auto account = deposits_.GetAccount(user->id);
  if (!account) {
    return Refused(std::move(call), account.error(),
                   "Sorry, I could not read " + user->display_name +
                       "'s account: " + account.error().message + ".");
  }
  std::string out = "User " + Who(*user) + ", customer since " + FormatUtc(user->created_at) +
                    ".\nBalance: " + Money(account->balance) + ".";
  json payload = {{"telegram_id", user->telegram_id},
                  {"name", user->display_name},
                  {"balance", account->balance},
                  {"balance_formatted", Money(account->balance)}};
  if (user->username) payload["username"] = *user->username;
  // The user's pending deposits are among their newest rows (at most five may wait at once).
  auto history = deposits_.History(user->id, 100);
  if (history) {
    std::vector<const DepositTransaction*> pending;
    int64_t pending_total = 0;
    for (const auto& t : *history) {
      if (t.type == TransactionType::kDeposit && t.status == TransactionStatus::kPending) {
        pending.push_back(&t);
        pending_total += t.amount;
      }
    }
    payload["pending_deposits"] = pending.size();
    if (pending.empty()) {
      out += "\nPending deposits: none.";
    } else {
      out += "\nPending deposits: " + std::to_string(pending.size()) + " (" + Money(pending_total) +
             "):";
      for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
        out += "\n" + TxLine(**it, Money((*it)->amount));
      }
    }
    const size_t shown = std::min(history->size(), static_cast<size_t>(options_.history_rows));
    payload["transactions_shown"] = shown;
    if (shown == 0) {
      out += "\nNo transactions yet.";
    } else {
      out += "\nLast " + std::to_string(shown) + " transaction" + (shown == 1 ? "" : "s") + ":";
      for (size_t i = 0; i < shown; ++i) {
        const auto& t = (*history)[i];
        out += "\n" + TxLine(t, SignedMoney(t.SignedAmount()));
      }
    }
  } else {
    out += "\n(The transactions could not be read: " + history.error().message + ".)";
  }
  auto orders = orders_.ForUser(user->id, 10);
  if (orders) {
    payload["orders_shown"] = orders->size();
    if (orders->empty()) {
      out += "\nDomain orders: none.";
    } else {
      out += "\nDomain orders:";
      for (const auto& o : *orders) {
        out += "\n#" + std::to_string(o.id) + " " + o.domain + " — " +
               std::string(ToString(o.state)) + ", " + Money(o.price) + ", " +
               FormatUtc(o.created_at);
      }
    }
  } else {
    out += "\n(The domain orders could not be read: " + orders.error().message + ".)";
  }
  return Answered(std::move(call), std::move(payload), std::move(out));
}

AdminCommandResult AdminCommands::RequestAdjustment(const ToolContext& who, std::string_view args,
                                                    ExecutedCall call) const {
  // ID, then the signed amount, then the reason.
  size_t i = 0;
  while (i < args.size() && !std::isspace(static_cast<unsigned char>(args[i]))) ++i;
  const std::string key(args.substr(0, i));
  std::string_view rest = args.substr(i);
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) {
    rest.remove_prefix(1);
  }
  if (key.empty() || rest.empty()) {
    return Refused(std::move(call), Error::Invalid("usage"), kAdjustUsage);
  }
  int sign = 1;
  if (rest.front() == '+' || rest.front() == '-') {
    sign = rest.front() == '-' ? -1 : 1;
    rest.remove_prefix(1);
  } else if (rest.substr(0, 3) == "\xE2\x88\x92") {  // U+2212 MINUS SIGN
    sign = -1;
    rest.remove_prefix(3);
  }
  AmountAndRest split = SplitLeadingAmount(rest);
  if (split.amount.empty()) return Refused(std::move(call), Error::Invalid("usage"), kAdjustUsage);
  const UserAmount amount = ReadUserAmount(split.amount, options_.currency);
  if (amount.kind == UserAmount::Kind::kQuestion) {
    // The same question a deposit gets: the admin says which they meant, nothing is recorded.
    return Refused(std::move(call), Error::Invalid(amount.message),
                   amount.message + "\nNothing was recorded. " + kAdjustUsage);
  }
  if (!amount) {
    return Refused(std::move(call), Error::Invalid(amount.message),
                   "Sorry, that did not work: " + amount.message + ". Nothing was recorded.");
  }
  std::string reason = split.rest;
  while (!reason.empty() && std::isspace(static_cast<unsigned char>(reason.back()))) {
    reason.pop_back();
  }
  if (reason.empty()) {
    return Refused(std::move(call), Error::Invalid("an adjustment needs a reason"),
                   "An adjustment needs a reason, for the books and for the user. Nothing was "
                   "recorded.\n" +
                       std::string(kAdjustUsage));
  }
  if (reason.size() > options_.max_reason_length) {
    return Refused(std::move(call), Error::Invalid("the reason is too long"),
                   "The reason may be at most " + std::to_string(options_.max_reason_length) +
                       " characters. Nothing was recorded.");
  }
  if (amount.minor > options_.max_adjustment_minor) {
    return Refused(std::move(call), Error::Invalid("the adjustment is too large"),
                   "A single adjustment may be at most " + Money(options_.max_adjustment_minor) +
                       ". Nothing was recorded.");
  }
  const int64_t signed_amount = sign * amount.minor;

  Result<depositbot::User> user = Error::NotFound("");
  if (auto id = ParseTelegramId(key)) {
    user = users_.FindByTelegramId(*id);
  } else {
    user = users_.FindByUsername(AsciiLower(key.front() == '@' ? key.substr(1) : key));
  }
  if (!user) {
    return Refused(std::move(call), user.error(),
                   user.code() == ErrorCode::kNotFound
                       ? "There is no user " + key + ". Nothing was recorded."
                       : "Sorry, I could not look that user up: " + user.error().message + ".");
  }
  auto account = deposits_.GetAccount(user->id);
  if (!account) {
    return Refused(std::move(call), account.error(),
                   "Sorry, I could not read " + user->display_name +
                       "'s account: " + account.error().message + ". Nothing was recorded.");
  }
  // Checked again when it is confirmed (the balance may change in between): a debit that would
  // take the balance below zero is refused both times.
  if (signed_amount < 0 && account->balance < amount.minor) {
    return Refused(std::move(call), Error::InsufficientFunds("the balance is less than the debit"),
                   user->display_name + "'s balance is " + Money(account->balance) +
                       "; a debit of " + Money(amount.minor) +
                       " would take it below zero. Nothing was recorded.");
  }
  auto t = deposits_.RequestAdjustment(user->id, signed_amount, reason, who.telegram_id);
  if (!t) {
    return Refused(std::move(call), t.error(),
                   "Sorry, that did not work: " + t.error().message + ". Nothing was recorded.");
  }
  const int64_t expires_at = t->created_at + options_.adjustment_ttl_seconds;
  Log(LogLevel::kInfo, "admin.adjustment_requested",
      {{"transaction_id", std::to_string(t->id)},
       {"user", std::to_string(user->telegram_id)},
       {"amount", std::to_string(signed_amount)},
       {"admin", std::to_string(who.telegram_id)}});
  const std::string amount_text = SignedMoney(signed_amount);
  std::string reply = "Adjustment #" + std::to_string(t->id) + ": " + amount_text + " for " +
                      Who(*user) + ", reason: " + reason + ".\nTheir balance is " +
                      Money(account->balance) + "; it would become " +
                      Money(account->balance + signed_amount) +
                      ".\nNothing has changed yet: confirm it within " +
                      std::to_string(options_.adjustment_ttl_seconds / 60) + " minutes (until " +
                      FormatUtc(expires_at) + "), or cancel it.";
  AdminCommandResult out = Answered(std::move(call),
                                    {{"transaction_id", t->id},
                                     {"status", "pending"},
                                     {"user_telegram_id", user->telegram_id},
                                     {"signed_amount", signed_amount},
                                     {"amount_formatted", amount_text},
                                     {"balance", account->balance},
                                     {"expires_at", expires_at}},
                                    std::move(reply));
  out.ui.push_back(AdjustmentRequestedUi{t->id, user->telegram_id, user->display_name, amount_text,
                                         reason, who.telegram_id, expires_at});
  return out;
}

DecisionOutcome AdminCommands::ConfirmAdjustment(const ToolContext& who,
                                                 int64_t transaction_id) const {
  ExecutedCall call;
  call.name = "confirm_adjustment";
  call.arguments = json{{"transaction_id", transaction_id}}.dump();
  if (!who.is_admin) {
    return DecisionRefused(std::move(call), Error::Forbidden("only admins may confirm adjustments"),
                           "Only admins can confirm adjustments.");
  }
  auto t =
      deposits_.ConfirmAdjustment(transaction_id, who.telegram_id, options_.adjustment_ttl_seconds);
  if (!t) {
    std::string reply = "Sorry, that did not work: " + Capitalised(t.error().message) + ".";
    if (t.code() == ErrorCode::kInsufficientFunds) {
      reply = "Sorry, adjustment #" + std::to_string(transaction_id) +
              " was not applied: the debit would take the balance below zero. Nothing was "
              "changed.";
      if (auto row = deposits_.GetTransaction(transaction_id)) {
        if (auto acct = deposits_.GetAccount(row->user_id)) {
          reply = "Sorry, adjustment #" + std::to_string(transaction_id) +
                  " was not applied: the balance is " + Money(acct->balance) +
                  ", less than the debit of " + Money(row->amount) + ". Nothing was changed.";
        }
      }
    }
    Log(LogLevel::kInfo, "admin.adjustment_refused",
        {{"transaction_id", std::to_string(transaction_id)},
         {"admin", std::to_string(who.telegram_id)},
         {"reason", t.error().message}});
    DecisionOutcome out = DecisionRefused(std::move(call), t.error(), std::move(reply));
    // Still pending (short of funds, or past its time): Cancel still closes it, and a top-up
    // makes Confirm work until it expires. Decided already: the buttons mean nothing now.
    auto row = deposits_.GetTransaction(transaction_id);
    out.buttons_stay = row && row->type == TransactionType::kAdjustment &&
                       row->status == TransactionStatus::kPending;
    return out;
  }
  Log(LogLevel::kInfo, "admin.adjustment_confirmed",
      {{"transaction_id", std::to_string(t->id)},
       {"amount", std::to_string(t->SignedAmount())},
       {"admin", std::to_string(who.telegram_id)}});
  AdjustmentDecidedUi ui;
  ui.transaction_id = t->id;
  ui.confirmed = true;
  ui.amount_formatted = SignedMoney(t->SignedAmount());
  ui.reason = t->reason.value_or("");
  ui.admin_telegram_id = who.telegram_id;
  ui.admin_name = who.display_name;
  std::string reply =
      "Adjustment #" + std::to_string(t->id) + " of " + ui.amount_formatted + " applied";
  json payload = {
      {"transaction_id", t->id}, {"status", "confirmed"}, {"signed_amount", t->SignedAmount()}};
  if (auto u = users_.FindById(t->user_id)) {
    ui.user_telegram_id = u->telegram_id;
    ui.user_name = u->display_name;
    reply += " for " + u->display_name;
    payload["user_telegram_id"] = u->telegram_id;
  }
  reply += ".";
  if (auto acct = deposits_.GetAccount(t->user_id)) {
    ui.user_balance_formatted = Money(acct->balance);
    reply += " Their balance is now " + ui.user_balance_formatted + ".";
    payload["balance"] = acct->balance;
  }
  DecisionOutcome out;
  out.ok = true;
  out.reply = std::move(reply);
  call.result = ToolResult::Success(std::move(payload));
  out.call = std::move(call);
  out.ui = ui;
  return out;
}

DecisionOutcome AdminCommands::CancelAdjustment(const ToolContext& who,
                                                int64_t transaction_id) const {
  ExecutedCall call;
  call.name = "cancel_adjustment";
  call.arguments = json{{"transaction_id", transaction_id}}.dump();
  if (!who.is_admin) {
    return DecisionRefused(std::move(call), Error::Forbidden("only admins may cancel adjustments"),
                           "Only admins can cancel adjustments.");
  }
  auto t = deposits_.CancelAdjustment(transaction_id, who.telegram_id);
  if (!t) {
    return DecisionRefused(std::move(call), t.error(),
                           "Sorry, that did not work: " + Capitalised(t.error().message) + ".");
  }
  Log(LogLevel::kInfo, "admin.adjustment_cancelled",
      {{"transaction_id", std::to_string(t->id)}, {"admin", std::to_string(who.telegram_id)}});
  AdjustmentDecidedUi ui;
  ui.transaction_id = t->id;
  ui.confirmed = false;
  ui.amount_formatted = SignedMoney(t->SignedAmount());
  ui.reason = t->reason.value_or("");
  ui.admin_telegram_id = who.telegram_id;
  ui.admin_name = who.display_name;
  if (auto u = users_.FindById(t->user_id)) ui.user_name = u->display_name;
  DecisionOutcome out;
  out.ok = true;
  out.reply = "Adjustment #" + std::to_string(t->id) + " of " + ui.amount_formatted +
              " was cancelled; the balance is unchanged.";
  call.result = ToolResult::Success({{"transaction_id", t->id}, {"status", "cancelled"}});
  out.call = std::move(call);
  out.ui = ui;
  return out;
}

AdminCommandResult AdminCommands::ExportLedger(const std::vector<std::string>& words,
                                               ExecutedCall call) const {
  int64_t from = 0, to = INT64_MAX;
  std::string range = "all";
  std::string range_text = "the whole ledger";
  if (words.size() == 3) {
    auto a = ParseDay(words[1]);
    auto b = ParseDay(words[2]);
    if (!a || !b) {
      return Refused(
          std::move(call), Error::Invalid("a date is not YYYY-MM-DD"),
          "Sorry, " + (!a ? words[1] : words[2]) + " is not a date I can read.\n" + kExportUsage);
    }
    if (*a > *b) {
      return Refused(std::move(call), Error::Invalid("the range starts after it ends"),
                     "Sorry, the range starts (" + words[1] + ") after it ends (" + words[2] +
                         ").\n" + kExportUsage);
    }
    from = *a;
    to = *b + kDaySeconds;
    range = words[1] + "_" + words[2];
    range_text = words[1] + " to " + words[2] + " (UTC, by creation time)";
  } else if (words.size() != 1) {
    return Refused(std::move(call), Error::Invalid("usage"), kExportUsage);
  }
  const std::string& code = options_.currency.code;
  std::string csv(LedgerCsvHeader());
  csv += "\r\n";
  int64_t rows = 0, confirmed_sum = 0;
  bool too_big = false;
  auto opt = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : ""; };
  Status st = reports_.ForEachLedgerRow(from, to, [&](const LedgerExportRow& r) {
    const DepositTransaction& t = r.transaction;
    ++rows;
    if (t.status == TransactionStatus::kConfirmed) confirmed_sum += t.SignedAmount();
    csv += std::to_string(t.id) + "," + FormatUtc(t.created_at) + "," +
           (t.decided_at ? FormatUtc(*t.decided_at) : "") + "," +
           std::to_string(r.user_telegram_id) + "," + CsvField(r.user_name, true) + "," +
           std::string(ToString(t.type)) + "," + std::string(ToString(t.status)) + "," +
           (t.direction > 0 ? "credit" : "debit") + "," +
           PlainAmount(t.SignedAmount(), options_.currency.exponent) + "," + code + "," +
           CsvField(t.depositor_name.value_or(""), true) + "," +
           CsvField(t.reference.value_or(""), true) + "," + CsvField(t.reason.value_or(""), true) +
           "," + opt(t.decided_by) + "," + CsvField(t.decided_via.value_or(""), true) + "," +
           opt(t.requested_by) + "\r\n";
    if (csv.size() > options_.max_export_bytes) {
      too_big = true;
      return false;
    }
    return true;
  });
  if (!st) {
    return Refused(std::move(call), st.error(),
                   "Sorry, I could not read the ledger: " + st.error().message + ".");
  }
  if (too_big) {
    return Refused(std::move(call), Error::Invalid("the export is too large"),
                   "Sorry, the export of " + range_text + " is larger than " +
                       std::to_string(options_.max_export_bytes / 1000 / 1000) +
                       " MB, more than Telegram lets a bot send. Export a shorter range, e.g. "
                       "/export 2026-01-01 2026-01-31.");
  }
  const int64_t now = clock_.NowSeconds();
  std::string stamp = FormatUtc(now);  // 2026-01-01T00:00:00Z -> 20260101T000000Z
  std::string compact;
  for (char c : stamp) {
    if (c != '-' && c != ':') compact += c;
  }
  DocumentUi doc;
  doc.filename = "ledger-" + range + "-" + compact + ".csv";
  doc.mime_type = "text/csv";
  doc.content = std::move(csv);
  doc.rows = rows;
  doc.caption = "Ledger export: " + range_text + ", " + std::to_string(rows) + " row" +
                (rows == 1 ? "" : "s") + ", " + code + ".";
  std::string reply = "Ledger export of " + range_text + ": " + std::to_string(rows) + " row" +
                      (rows == 1 ? "" : "s") + "; the confirmed rows sum to " +
                      SignedMoney(confirmed_sum) + ".";
  AdminCommandResult out = Answered(std::move(call),
                                    {{"rows", rows},
                                     {"confirmed_sum", confirmed_sum},
                                     {"filename", doc.filename},
                                     {"bytes", doc.content.size()}},
                                    std::move(reply));
  out.ui.push_back(std::move(doc));
  return out;
}

AdminCommandResult AdminCommands::ShowStats(ExecutedCall call) const {
  const int64_t now = clock_.NowSeconds();
  const int64_t day_start = now - ((now % kDaySeconds) + kDaySeconds) % kDaySeconds;
  // An adjustment past its time can no longer be confirmed: it is not waiting for anyone.
  auto s =
      reports_.Stats(day_start, day_start + kDaySeconds, now - options_.adjustment_ttl_seconds);
  if (!s) {
    return Refused(std::move(call), s.error(),
                   "Sorry, I could not read the figures: " + s.error().message + ".");
  }
  const bool agree = s->balance_sum == s->ledger_sum;
  std::string out = "Users: " + std::to_string(s->users) + ".\nBalances: " + Money(s->balance_sum) +
                    " in total; the ledger (confirmed credits minus "
                    "debits): " +
                    Money(s->ledger_sum) + " — " +
                    (agree ? "they agree."
                           : "they DIFFER by " + Money(s->balance_sum - s->ledger_sum) +
                                 ": run depositbot reconcile to see whose.");
  out += "\nPending deposits: " + std::to_string(s->pending_deposits) + ", " +
         Money(s->pending_deposit_total) + ".";
  if (s->pending_adjustments > 0) {
    out += "\nAdjustments awaiting confirmation: " + std::to_string(s->pending_adjustments) +
           " (no money moved yet).";
  }
  out += "\nToday (" + DayOf(day_start) + ", UTC): " + std::to_string(s->deposits_today) +
         " deposit" + (s->deposits_today == 1 ? "" : "s") + " confirmed, " +
         Money(s->deposits_today_total) + "; " + std::to_string(s->purchases_today) + " purchase" +
         (s->purchases_today == 1 ? "" : "s") + ", " + Money(s->purchases_today_total) + ".";
  return Answered(std::move(call),
                  {{"users", s->users},
                   {"balance_sum", s->balance_sum},
                   {"ledger_sum", s->ledger_sum},
                   {"pending_deposits", s->pending_deposits},
                   {"pending_deposit_total", s->pending_deposit_total},
                   {"pending_adjustments", s->pending_adjustments},
                   {"deposits_today", s->deposits_today},
                   {"deposits_today_total", s->deposits_today_total},
                   {"purchases_today", s->purchases_today},
                   {"purchases_today_total", s->purchases_today_total}},
                  std::move(out));
}

}  // namespace depositbot
