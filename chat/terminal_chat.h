#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace depositbot {

class Agent;
class TurnObserver;
class UserStore;

// The terminal transport: one user (chosen with --as/--name) talks to the
// agent line by line. The session authenticates the user, so the agent's
// tools act for exactly this Telegram id. Ctrl-D (end of input) ends it.
class TerminalChat {
 public:
  struct Identity {
    int64_t telegram_id = 1;
    std::string name = "terminal user";
    bool is_admin = false;
  };
  // Called for each UI side effect a turn produced (e.g. a purchase quote);
  // may read a y/N answer from `in` and returns text to print (or "").
  using UiHandler = std::function<std::string(const nlohmann::json& ui, std::istream& in,
                                              std::ostream& out, const Identity& who)>;

  TerminalChat(Agent& agent, UserStore& users, Identity who, UiHandler ui = {},
               TurnObserver* observer = nullptr);

  // Prints `banner`, then answers each line of `in` on `out` until EOF.
  // Returns the process exit code (0, or 2 when the user cannot be set up).
  int Run(std::istream& in, std::ostream& out, const std::string& banner);

 private:
  Agent& agent_;
  UserStore& users_;
  Identity who_;
  UiHandler ui_;
  TurnObserver* observer_;
};

}  // namespace depositbot
