#include "chat/terminal_chat.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "chat/turn_observer.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "db/user_store.h"

namespace depositbot {

TerminalChat::TerminalChat(Agent& agent, UserStore& users, Identity who, UiHandler ui,
                           TurnObserver* observer)
    : agent_(agent), users_(users), who_(std::move(who)), ui_(std::move(ui)), observer_(observer) {}

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
    if (ui_) {
      for (const auto& ui : turn.ui) {
        std::string extra = ui_(ui, in, out, who_);
        if (!extra.empty()) out << extra << "\n";
      }
    }
  }
  out << "\nBye.\n";
  return 0;
}

}  // namespace depositbot
