#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>

#include "common/clock.h"

namespace depositbot {

// Spaces outgoing messages: at most one per `per_chat_interval` in a chat, and at most
// `global_limit` in any `global_window` over all chats (reference §6: ~1/s per chat, ~30/s
// overall). Reserve books a slot and says how long to wait for it; it never sleeps itself, so
// tests can assert the waits with a FixedClock. Thread-safe. `clock` must outlive the pacer.
class TelegramPacer {
 public:
  struct Limits {
    std::chrono::milliseconds per_chat_interval{1000};
    int global_limit = 30;
    std::chrono::milliseconds global_window{1000};
  };

  TelegramPacer(Limits limits, const Clock& clock);

  // Books the earliest slot for a message to `chat_id` and returns how long from now it is
  // (zero: send now). The slot is taken whether or not the caller then sends.
  std::chrono::milliseconds Reserve(int64_t chat_id);

 private:
  Limits limits_;
  const Clock& clock_;
  std::mutex mu_;
  std::map<int64_t, int64_t> chat_next_;  // chat -> earliest next send (ms)
  std::multiset<int64_t> booked_;         // booked send times within the window (ms)
};

}  // namespace depositbot
