#include "chat/terminal_chat.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "chat/turn_observer.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "db/user_store.h"
#include "tools/decision_handler.h"

namespace depositbot {
namespace {

// Writes an export into the current directory, never over an existing file ("name-2.csv" then),
// and says where it went.
std::string WriteDocument(const DocumentUi& doc) {
  namespace fs = std::filesystem;
  fs::path name(doc.filename);
  std::error_code ec;
  fs::path target = fs::absolute(name, ec);
  if (ec) return "Sorry, I could not write " + doc.filename + ": " + ec.message();
  for (int n = 2; fs::exists(target, ec) && n < 1000; ++n) {
    target = fs::absolute(
        fs::path(name.stem().string() + "-" + std::to_string(n) + name.extension().string()), ec);
  }
  std::ofstream file(target, std::ios::binary | std::ios::trunc);
  file << doc.content;
  file.close();
  if (!file) return "Sorry, I could not write " + target.string() + ".";
  return "Wrote " + target.string() + " (" + std::to_string(doc.rows) + " rows, " +
         std::to_string(doc.content.size()) + " bytes).";
}

}  // namespace

TerminalChat::TerminalChat(Agent& agent, UserStore& users, const DecisionHandler& decisions,
                           Identity who, TurnObserver* observer)
    : agent_(agent),
      users_(users),
      decisions_(decisions),
      who_(std::move(who)),
      observer_(observer) {}

int TerminalChat::Run(std::istream& in, std::ostream& out, const std::string& banner) {
  auto user = users_.FindOrCreate(who_.telegram_id, who_.name);
  if (!user) {
    out << "cannot start the chat: " << user.error().message << "\n";
    return 2;
  }
  ToolContext ctx{user->id, user->telegram_id, user->display_name, who_.is_admin};
  out << banner << "\n";
  out << "Chatting as " << ctx.display_name << " (Telegram " << ctx.telegram_id << ")"
      << (ctx.is_admin ? ", admin" : "") << ". Type /help for commands, Ctrl-D to quit.\n";
  std::string line;
  while (true) {
    out << "> " << std::flush;
    if (!std::getline(in, line)) break;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    TurnResult turn;
    if (observer_) {
      observer_->SeenUser(ctx.telegram_id, ctx.display_name, ctx.is_admin);
      observer_->BeginTurn();
    }
    try {
      turn = agent_.Handle(ctx, ctx.telegram_id, line);
    } catch (const std::exception& e) {
      // A bug, not an expected failure: log it and keep the session alive.
      Log(LogLevel::kError, "chat.turn_crashed", {{"error", e.what()}});
      turn.reply = "Sorry, something went wrong on my side. Nothing was changed; please try again.";
    }
    if (observer_) observer_->EndMessageTurn(ctx.telegram_id, line, turn);
    // The turn is committed; a crash here loses only the reply, never money.
    (void)DEPOSITBOT_FAILPOINT("turn.before_reply");
    out << turn.reply << "\n";
    for (const auto& ui : turn.ui) {
      // Admin tools in chat: an adjustment is confirmed with y/N like a quote; an export is
      // written into the current directory.
      if (const auto* adjustment = std::get_if<AdjustmentRequestedUi>(&ui)) {
        out << "Apply adjustment #" << adjustment->transaction_id << " of "
            << adjustment->amount_formatted << " for " << adjustment->user_name << "? [y/N] "
            << std::flush;
        std::string answer;
        if (!std::getline(in, answer)) answer.clear();
        const bool yes = answer == "y" || answer == "Y" || answer == "yes";
        Decision decision{
            yes ? Decision::Kind::kConfirmAdjustment : Decision::Kind::kCancelAdjustment,
            adjustment->transaction_id, ""};
        DecisionOutcome outcome = decisions_.Decide(ctx, decision);
        if (observer_) observer_->EndDecision(ctx.telegram_id, decision, outcome);
        out << outcome.reply << "\n";
        continue;
      }
      if (const auto* document = std::get_if<DocumentUi>(&ui)) {
        out << WriteDocument(*document) << "\n";
        continue;
      }
      // A purchase quote is confirmed here, outside the model: y/N, and anything else is a no.
      const auto* quote = std::get_if<PurchaseQuoteUi>(&ui);
      if (!quote) continue;
      out << "Buy " << quote->domain << " for " << quote->price_formatted << "? [y/N] "
          << std::flush;
      std::string answer;
      if (!std::getline(in, answer)) answer.clear();
      const bool yes = answer == "y" || answer == "Y" || answer == "yes";
      Decision decision{yes ? Decision::Kind::kConfirmPurchase : Decision::Kind::kCancelPurchase,
                        quote->order_id, ""};
      DecisionOutcome outcome = decisions_.Decide(ctx, decision);
      if (observer_) observer_->EndDecision(ctx.telegram_id, decision, outcome);
      out << outcome.reply << "\n";
    }
  }
  out << "\nBye.\n";
  return 0;
}

}  // namespace depositbot
