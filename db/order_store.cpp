#include "db/order_store.h"

#include <string>

namespace depositbot {

std::string_view ToString(DomainOrder::State state) {
  switch (state) {
    case DomainOrder::State::kQuoted:
      return "quoted";
    case DomainOrder::State::kCharged:
      return "charged";
    case DomainOrder::State::kRegistered:
      return "registered";
    case DomainOrder::State::kRefunded:
      return "refunded";
    case DomainOrder::State::kUnknown:
      return "unknown";
    case DomainOrder::State::kExpired:
      return "expired";
    case DomainOrder::State::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string OrderReference(int64_t order_id) { return "order:" + std::to_string(order_id); }

}  // namespace depositbot
