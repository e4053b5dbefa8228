#include "agent/rule_based_model.h"

#include <cctype>
#include <cstdio>
#include <map>
#include <regex>
#include <sstream>

#include "agent/offline_intent.h"
#include "common/text.h"
#include "common/user_amount.h"
#include "tools/admin_commands.h"

namespace depositbot {
namespace {

using nlohmann::json;

ChatResponse Text(std::string text) {
  ChatResponse r;
  r.message = ChatMessage::Assistant(std::move(text));
  r.finish_reason = "stop";
  r.model = "offline";
  return r;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

std::string JoinFrom(const std::vector<std::string>& w, size_t from) {
  std::string out;
  for (size_t i = from; i < w.size(); ++i) out += (out.empty() ? "" : " ") + w[i];
  return out;
}

// "12", "#12" -> 12; anything else -> nullopt.
std::optional<int64_t> ParseId(std::string_view s) {
  if (!s.empty() && s.front() == '#') s.remove_prefix(1);
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Whether the request offers `tool` (and, for manage_deposit, `action`).
bool Offers(const ChatRequest& req, std::string_view tool, std::string_view action = {}) {
  if (!req.Tools().is_array()) return false;
  for (const auto& t : req.Tools()) {
    const json& f = t.value("function", json::object());
    if (f.value("name", "") != tool) continue;
    if (action.empty()) return true;
    const json* values = nullptr;
    if (f.contains("parameters") && f["parameters"].contains("properties") &&
        f["parameters"]["properties"].contains("action")) {
      values = &f["parameters"]["properties"]["action"]["enum"];
    }
    if (!values || !values->is_array()) return false;
    for (const auto& v : *values) {
      if (v == action) return true;
    }
    return false;
  }
  return false;
}

bool IsAdminRequest(const ChatRequest& req) { return Offers(req, "manage_deposit", "confirm"); }

std::string Str(const json& j, const char* key, const std::string& fallback = "") {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

std::string TxLine(const json& t) {
  std::string line = "#" + Str(t, "id") + " " + Str(t, "type") + " " + Str(t, "amount_formatted") +
                     " — " + Str(t, "status");
  if (t.contains("depositor_name")) line += ", from " + Str(t, "depositor_name");
  if (t.contains("user_name")) line += ", user " + Str(t, "user_name");
  if (t.contains("user_telegram_id")) line += " (Telegram " + Str(t, "user_telegram_id") + ")";
  if (t.contains("created_at")) line += ", " + Str(t, "created_at");
  return line;
}

std::string RenderFailure(const std::string& tool, const json& args, const json& r) {
  std::string code = Str(r, "error");
  std::string action = args.is_object() ? Str(args, "action") : "";
  if (code == "forbidden") return "Sorry, only admins can do that.";
  if (code == "invalid_arguments" && r.contains("details") && r["details"].is_array()) {
    for (const auto& d : r["details"]) {
      if (Str(d, "field") == "action") return "Sorry, only admins can do that.";
    }
    std::string out = "Sorry, I could not do that:";
    for (const auto& d : r["details"])
      out += " " + EndSentence(Str(d, "field") + " " + Str(d, "problem"));
    return out;
  }
  if (r.value("question", false)) {
    // An amount that can be read more than one way: the tool's question, as it is.
    std::string out = Str(r, "message");
    if (tool == "manage_deposit" && action == "request_deposit") {
      out += "\nUsage: /deposit AMOUNT NAME — e.g. /deposit 30000 KIM MINJI";
    }
    return out;
  }
  std::string msg = Str(r, "message", code);
  if (!msg.empty()) msg[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(msg[0])));
  std::string out = EndSentence("Sorry, that did not work: " + msg);
  if (tool == "manage_deposit" && action == "request_deposit") {
    out += "\nUsage: /deposit AMOUNT NAME — e.g. /deposit 30000 KIM MINJI";
  }
  return out;
}

std::string RenderManageDeposit(const json& r) {
  std::string action = Str(r, "action");
  if (action == "balance") {
    std::string out = "Your balance is " + Str(r, "balance_formatted") + ".";
    int64_t pending = r.value("pending_deposits", int64_t{0});
    if (pending > 0) {
      out += " " + std::to_string(pending) + " deposit" + (pending == 1 ? "" : "s") + " (" +
             Str(r, "pending_total_formatted") + ") await an admin's confirmation.";
    }
    return out;
  }
  if (action == "account_info") {
    return "Account of " + Str(r, "name") + " (Telegram " + Str(r, "telegram_id") +
           "), customer since " + Str(r, "customer_since") +
           ". Balance: " + Str(r, "balance_formatted") + "." +
           (r.value("is_admin", false) ? " You are an admin." : "");
  }
  if (action == "request_deposit") {
    const json& t = r["transaction"];
    if (r.value("confirmed_by_bank", false)) {
      std::string out = "Deposit #" + Str(t, "id") + " of " + Str(t, "amount_formatted") +
                        " from " + Str(t, "depositor_name") +
                        " was confirmed at once: the bank transfer had already arrived.";
      if (r.contains("balance_formatted")) {
        out += " Your balance is now " + Str(r, "balance_formatted") + ".";
      }
      return out;
    }
    return "Deposit #" + Str(t, "id") + " of " + Str(t, "amount_formatted") + " from " +
           Str(t, "depositor_name") +
           " is recorded and pending. It is credited once an admin confirms the transfer "
           "arrived. To withdraw it: /cancel " +
           Str(t, "id");
  }
  if (action == "history") {
    const json& list = r["transactions"];
    if (list.empty()) return "You have no transactions yet.";
    std::string out = "Your last " + std::to_string(list.size()) + " transaction" +
                      (list.size() == 1 ? "" : "s") + ":";
    for (const auto& t : list) out += "\n" + TxLine(t);
    return out;
  }
  if (action == "cancel") {
    const json& t = r["transaction"];
    return "Deposit #" + Str(t, "id") + " of " + Str(t, "amount_formatted") + " was cancelled.";
  }
  if (action == "pending") {
    const json& list = r["pending"];
    if (list.empty()) return "There are no pending deposits.";
    std::string out =
        std::to_string(list.size()) + " pending deposit" + (list.size() == 1 ? "" : "s") + ":";
    for (const auto& t : list) out += "\n" + TxLine(t);
    return out + "\nConfirm with /confirm ID or reject with /reject ID REASON.";
  }
  if (action == "confirm" || action == "reject") {
    const json& t = r["transaction"];
    std::string out = "Deposit #" + Str(t, "id") + " of " + Str(t, "amount_formatted") + " " +
                      (action == "confirm" ? "confirmed" : "rejected");
    if (r.contains("user_name")) out += " for " + Str(r, "user_name");
    out += ".";
    if (action == "confirm" && r.contains("user_balance_formatted")) {
      out += " Their balance is now " + Str(r, "user_balance_formatted") + ".";
    }
    return out;
  }
  return r.dump();
}

std::string RenderCheckDomain(const json& r) {
  std::string out;
  for (const auto& d : r.value("results", json::array())) {
    if (!out.empty()) out += "\n";
    std::string name = Str(d, "domain");
    if (d.contains("valid") && d["valid"] == false) {
      out += EndSentence(name + ": " + Str(d, "problem"));
    } else if (!d.contains("available") || d["available"].is_null()) {
      out += "I could not find out whether " + name + " is free (" + Str(d, "problem") +
             "); please try again later.";
    } else if (d["available"] == false) {
      out += name + " is taken.";
    } else {
      out += name + " is free" + (d.value("premium", false) ? " (a premium name)" : "") + ": " +
             Str(d, "price_formatted") + " for one year";
      out += d.value("balance_covers", false)
                 ? ", which your balance covers. Buy it with /buy " + name + "."
                 : "; your balance of " + Str(r, "balance_formatted") +
                       " does not cover it — top up with /deposit first.";
    }
  }
  return out.empty() ? "No domains to check." : out;
}

std::string RenderQuote(const json& r) {
  std::string out = "Quote #" + Str(r, "order_id") + ": " + Str(r, "domain") + " for " +
                    Str(r, "years") + " year" + (r.value("years", 1) == 1 ? "" : "s") + " costs " +
                    Str(r, "price_formatted") + " (your balance: " + Str(r, "balance_formatted") +
                    "). It is not bought yet: confirm within " + Str(r, "expires_in_minutes") +
                    " minutes.";
  if (!r.value("balance_covers", true)) out += " Your balance does not cover it yet.";
  return out;
}

std::string RenderOrders(const json& r) {
  const json& list = r.value("orders", json::array());
  if (list.empty()) return "You have no domain orders yet.";
  std::string out = "Your domain orders:";
  for (const auto& o : list) {
    out += "\n#" + Str(o, "order_id") + " " + Str(o, "domain") + " — " + Str(o, "state") + ", " +
           Str(o, "price_formatted");
  }
  return out;
}

// Generic rendering for tools without a dedicated renderer: their "message"
// field if they give one, else the compact result.
std::string RenderOther(const json& r) {
  if (r.contains("message") && r["message"].is_string()) return r["message"].get<std::string>();
  return r.dump();
}

}  // namespace

bool RuleBasedModel::IsCommand(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  return i < text.size() && text[i] == '/';
}

std::string RuleBasedModel::HelpText(bool for_admin) {
  std::string out =
      "I keep your prepaid deposit and buy domain names with it. Commands:\n"
      "/balance — your balance\n"
      "/deposit AMOUNT NAME — announce a bank transfer, e.g. /deposit 30000 KIM MINJI\n"
      "/history — your recent transactions\n"
      "/cancel ID — withdraw a pending deposit\n"
      "/domain NAME — is a domain free, and its price\n"
      "/buy NAME — buy a domain from your balance (you confirm first)\n"
      "/domains — your domain orders\n"
      "/reset — forget this conversation";
  if (for_admin) {
    out += "\nAdmin: /pending — deposits awaiting confirmation; /confirm ID; /reject ID REASON\n" +
           AdminCommands::HelpLines();
  }
  return out;
}

std::string RuleBasedModel::HelpTextKorean(bool for_admin) {
  std::string out =
      "저는 선불 예치금을 보관하고, 그 돈으로 도메인을 사 드립니다. 이렇게 말씀해 보세요:\n"
      "잔액 얼마예요? — 잔액\n"
      "김민지 이름으로 3만원 보냈어요 — 입금 알림 (관리자가 확인하면 반영)\n"
      "내역 보여줘 — 최근 거래\n"
      "12번 취소 — 대기 중인 입금 취소\n"
      "example.com 있어요? — 도메인 확인과 가격\n"
      "example.com 살래요 — 잔액으로 도메인 구매 (구매 전에 확인)\n"
      "내 도메인 목록 — 내 도메인 주문\n"
      "명령어도 됩니다: /balance /deposit /history /cancel /domain /buy /domains";
  if (for_admin) {
    out +=
        "\n관리자: /pending /confirm ID /reject ID 사유 /user ID /adjust ID 금액 사유 /export "
        "/stats";
  }
  return out;
}

ChatResponse RuleBasedModel::Call(std::string name, json args) {
  char id[16];
  std::snprintf(id, sizeof id, "rb%07lld", static_cast<long long>(next_id_++ % 10000000));
  ChatResponse r;
  r.message = ChatMessage::Assistant("", {ToolCall{id, std::move(name), args.dump()}});
  r.finish_reason = "tool_calls";
  r.model = "offline";
  return r;
}

Result<ChatResponse> RuleBasedModel::Complete(const ChatRequest& request) {
  if (request.messages.empty()) return Error::Invalid("no messages");
  const ChatMessage& last = request.messages.back();
  if (last.role == ChatMessage::Role::kTool) return Render(request);
  if (last.role == ChatMessage::Role::kUser) return Interpret(request, last.content);
  return Text("How can I help? Send /help for the commands.");
}

ChatResponse RuleBasedModel::Interpret(const ChatRequest& req, const std::string& text) {
  const bool admin = IsAdminRequest(req);
  auto words = Words(text);
  if (words.empty()) return Text(HelpText(admin));
  if (IsCommand(text)) {
    std::string cmd = AsciiLower(words[0]);
    if (auto at = cmd.find('@'); at != std::string::npos) cmd.resize(at);  // /balance@MyBot
    auto need_id = [&]() -> std::optional<int64_t> {
      if (words.size() < 2) return std::nullopt;
      return ParseId(words[1]);
    };
    if (cmd == "/start" || cmd == "/help") return Text(HelpText(admin));
    if (cmd == "/balance") return Call("manage_deposit", {{"action", "balance"}});
    if (cmd == "/account") return Call("manage_deposit", {{"action", "account_info"}});
    if (cmd == "/deposit") {
      // The amount may span words ("1 000", "30,000 won"): never take its tail for the name.
      auto split = SplitLeadingAmount(JoinFrom(words, 1));
      if (split.amount.empty() || split.rest.empty()) {
        return Text(
            "Usage: /deposit AMOUNT NAME — the amount you transferred and the name the transfer "
            "was sent under, e.g. /deposit 30000 KIM MINJI");
      }
      return Call("manage_deposit", {{"action", "request_deposit"},
                                     {"amount", split.amount},
                                     {"depositor_name", split.rest}});
    }
    if (cmd == "/history") {
      json args = {{"action", "history"}};
      if (words.size() >= 2) {
        auto n = ParseId(words[1]);
        if (!n || *n < 1 || *n > 50) return Text("Usage: /history [N] — N from 1 to 50");
        args["limit"] = *n;
      }
      return Call("manage_deposit", args);
    }
    if (cmd == "/cancel") {
      auto id = need_id();
      if (!id)
        return Text("Usage: /cancel ID — the number of your pending deposit, e.g. /cancel 12");
      return Call("manage_deposit", {{"action", "cancel"}, {"transaction_id", *id}});
    }
    if (cmd == "/pending") return Call("manage_deposit", {{"action", "pending"}});
    if (cmd == "/confirm") {
      auto id = need_id();
      if (!id)
        return Text("Usage: /confirm ID — the number of the pending deposit, e.g. /confirm 12");
      return Call("manage_deposit", {{"action", "confirm"}, {"transaction_id", *id}});
    }
    if (cmd == "/reject") {
      auto id = need_id();
      if (!id) {
        return Text("Usage: /reject ID REASON — e.g. /reject 12 no transfer arrived");
      }
      json args = {{"action", "reject"}, {"transaction_id", *id}};
      if (words.size() > 2) args["reason"] = JoinFrom(words, 2);
      return Call("manage_deposit", args);
    }
    if (cmd == "/domain" || cmd == "/check") {
      if (words.size() < 2) return Text("Usage: /domain NAME — e.g. /domain example.com");
      if (!Offers(req, "check_domain")) return Text("Domain look-ups are not available here.");
      json names = json::array();
      for (size_t i = 1; i < words.size() && names.size() < 10; ++i) names.push_back(words[i]);
      return Call("check_domain", {{"domains", names}});
    }
    if (cmd == "/buy") {
      if (words.size() < 2) return Text("Usage: /buy NAME [YEARS] — e.g. /buy example.com");
      if (!Offers(req, "register_domain")) return Text("Domain purchases are not available here.");
      json args = {{"domain", words[1]}, {"years", 1}};
      if (words.size() >= 3) {
        auto y = ParseId(words[2]);
        if (!y || *y < 1 || *y > 10) return Text("Usage: /buy NAME [YEARS] — YEARS from 1 to 10");
        args["years"] = *y;
      }
      return Call("register_domain", args);
    }
    if (cmd == "/domains" || cmd == "/orders") {
      if (!Offers(req, "list_domains")) return Text("Domain orders are not available here.");
      return Call("list_domains", json::object());
    }
    return Text("I don't know the command " + words[0] + ".\n" + HelpText(admin));
  }

  // Plain language, English or Korean; a reply to one of its questions completes the request
  // the question interrupted (the conversation before this message is in the request).
  OfflineContext context;
  context.admin = admin;
  size_t last = req.messages.size() - 1;
  if (last >= 2 && req.messages[last - 1].role == ChatMessage::Role::kAssistant &&
      req.messages[last - 1].tool_calls.empty() &&
      req.messages[last - 2].role == ChatMessage::Role::kUser) {
    context.previous_assistant = req.messages[last - 1].content;
    context.previous_user = req.messages[last - 2].content;
  }
  OfflineIntent intent = UnderstandMessage(text, context);
  switch (intent.kind) {
    case OfflineIntent::Kind::kCall:
      if (intent.tool == "check_domain" && !Offers(req, "check_domain")) {
        return Text("Domain look-ups are not available here.");
      }
      if (intent.tool == "register_domain" && !Offers(req, "register_domain")) {
        return Text("Domain purchases are not available here.");
      }
      if (intent.tool == "list_domains" && !Offers(req, "list_domains")) {
        return Text("Domain orders are not available here.");
      }
      return Call(intent.tool, intent.args);
    case OfflineIntent::Kind::kQuestion:
      return Text(intent.question);
    case OfflineIntent::Kind::kHelp:
      return Text(HasHangul(text) ? HelpTextKorean(admin) : HelpText(admin));
    case OfflineIntent::Kind::kNone:
      break;
  }
  return Text(HasHangul(text) ? "무슨 말씀인지 이해하지 못했어요. " + HelpTextKorean(admin)
                              : "I'm the offline assistant and understood no request in that. " +
                                    HelpText(admin));
}

ChatResponse RuleBasedModel::Render(const ChatRequest& req) {
  // The trailing tool messages answer the calls of the assistant message before them.
  size_t i = req.messages.size();
  while (i > 0 && req.messages[i - 1].role == ChatMessage::Role::kTool) --i;
  std::map<std::string, const ToolCall*> calls;
  if (i > 0 && req.messages[i - 1].role == ChatMessage::Role::kAssistant) {
    for (const auto& c : req.messages[i - 1].tool_calls) calls[c.id] = &c;
  }
  std::string out;
  for (size_t k = i; k < req.messages.size(); ++k) {
    const ChatMessage& m = req.messages[k];
    json r = json::parse(m.content, nullptr, false);
    auto it = calls.find(m.tool_call_id);
    std::string tool = it == calls.end() ? "" : it->second->name;
    json args =
        it == calls.end() ? json::object() : json::parse(it->second->arguments, nullptr, false);
    std::string line;
    if (r.is_discarded() || !r.is_object()) {
      line = m.content;
    } else if (!r.value("ok", false)) {
      line = RenderFailure(tool, args, r);
    } else if (tool == "manage_deposit") {
      line = RenderManageDeposit(r);
    } else if (tool == "check_domain") {
      line = RenderCheckDomain(r);
    } else if (tool == "register_domain") {
      line = RenderQuote(r);
    } else if (tool == "list_domains") {
      line = RenderOrders(r);
    } else {
      line = RenderOther(r);
    }
    if (!out.empty()) out += "\n";
    out += line;
  }
  return Text(out.empty() ? "Done." : out);
}

}  // namespace depositbot
