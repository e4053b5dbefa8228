#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace depositbot {

class Agent;
class DecisionHandler;
class TurnObserver;
class UserStore;

// The terminal transport: one user (chosen with --as/--name) talks to the
// agent line by line. The session authenticates the user, so the agent's
// tools act for exactly this Telegram id. A purchase quote (and an admin's
// adjustment) is answered with y/N, which DecisionHandler decides as it
// decides a Telegram button; an admin's /export is written into the current
// directory, and its path printed. Ctrl-D
// (end of input) ends it. The references are not owned and must outlive it.
class TerminalChat {
 public:
  struct Identity {
    int64_t telegram_id = 1;
    std::string name = "terminal user";
    bool is_admin = false;
  };
  TerminalChat(Agent& agent, UserStore& users, const DecisionHandler& decisions, Identity who,
               TurnObserver* observer = nullptr);

  // Prints `banner`, then answers each line of `in` on `out` until EOF.
  // Returns the process exit code (0, or 2 when the user cannot be set up).
  int Run(std::istream& in, std::ostream& out, const std::string& banner);

 private:
  Agent& agent_;
  UserStore& users_;
  const DecisionHandler& decisions_;
  Identity who_;
  TurnObserver* observer_;
};

}  // namespace depositbot
