#pragma once

#include <cstdint>
#include <string>

namespace depositbot {

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
  // press: confirm_purchase, cancel_purchase, confirm_deposit, reject_deposit.
  // `reply` is what the user was told; empty for a deposit decision, whose
  // outcome is given as `refused` instead.
  virtual void EndPressTurn(int64_t from, const std::string& press, int64_t id,
                            const std::string& reply, bool refused) = 0;
};

}  // namespace depositbot
