#pragma once

#include <cstdint>
#include <string>

namespace depositbot {

struct Decision;
struct DecisionOutcome;
struct TurnResult;

// Watches the turns a transport runs (used to record sessions as fixtures).
// Calls for one turn come from the thread that runs it; BeginTurn precedes
// the model calls of a message turn. Implementations are thread-safe.
class TurnObserver {
 public:
  virtual ~TurnObserver() = default;
  // The acting user of the next turn (the transport authenticated them).
  virtual void SeenUser(int64_t telegram_id, const std::string& name, bool is_admin) = 0;
  virtual void BeginTurn() = 0;
  virtual void EndMessageTurn(int64_t from, const std::string& text, const TurnResult& turn) = 0;
  // A button press or y/N answer, as DecisionHandler decided it.
  virtual void EndDecision(int64_t from, const Decision& decision,
                           const DecisionOutcome& outcome) = 0;
};

}  // namespace depositbot
