#include "db/bank_notification_store.h"

namespace depositbot {

std::string_view ToString(BankNotification::State state) {
  switch (state) {
    case BankNotification::State::kUnmatched:
      return "unmatched";
    case BankNotification::State::kAmbiguous:
      return "ambiguous";
    case BankNotification::State::kMatched:
      return "matched";
    case BankNotification::State::kIgnored:
      return "ignored";
  }
  return "ignored";
}

}  // namespace depositbot
