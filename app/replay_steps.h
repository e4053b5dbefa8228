#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "app/fixture.h"

namespace depositbot {

struct ReplayStack;

// What one replayed turn did, whatever kind of turn it was.
struct StepResult {
  TurnResult turn;
  nlohmann::json recovery;  // a recovery turn's counts
  // A message turn: what the agent offered the model (tool names, manage_deposit actions).
  std::vector<std::string> tools_offered;
  std::vector<std::string> actions_offered;
  bool offered_known = false;
};

// Runs a fixture's turns on a ReplayStack, as the transports run them: a message through the
// agent with the turn's scripted model replies, a press through DecisionHandler (the handler a
// Telegram button and the terminal's y/N use), a recovery through PurchaseService::Recover.
// Remembers the last quote and deposit request for presses that do not name one. The stack
// must outlive it.
class TurnRunner {
 public:
  explicit TurnRunner(ReplayStack& stack) : stack_(stack) {}

  // Moves the clock, runs the turn, and adds to `diffs` how it ran differently from the
  // fixture: a model reply it did not use or lacked, a registrar question it did not answer.
  StepResult Run(const FixtureTurn& t, std::vector<std::string>& diffs);
  // "Alice (1001) pressed confirm_deposit (#2)" for reports.
  std::string Describe(const FixtureTurn& t) const;

 private:
  StepResult Say(const FixtureTurn& t, std::vector<std::string>& diffs);
  TurnResult Press(const FixtureTurn& t, std::vector<std::string>& diffs);
  StepResult Recover(const FixtureTurn& t);
  // Bank feed: a notice through BankFeed::Receive (after the signature, which replay skips).
  StepResult BankNotification(const FixtureTurn& t);

  ReplayStack& stack_;
  int64_t last_quote_ = 0;
  int64_t last_deposit_ = 0;
  int64_t last_adjustment_ = 0;  // admin tools in chat: the last adjustment_requested
  int64_t last_bank_notice_ = 0;
};

// The reply and calls a turn produced, indented for a failure report.
std::string DescribeHappened(const StepResult& step);
// A string as a JSON literal, invalid UTF-8 replaced: for reports.
std::string QuoteForReport(const std::string& s);
// Compact JSON, invalid UTF-8 replaced: for reports.
std::string ShowForReport(const nlohmann::json& j);

}  // namespace depositbot
