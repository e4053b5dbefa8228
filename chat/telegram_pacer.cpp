#include "chat/telegram_pacer.h"

#include <algorithm>
#include <iterator>
#include <vector>

namespace depositbot {

using std::chrono::milliseconds;

TelegramPacer::TelegramPacer(Limits limits, const Clock& clock) : limits_(limits), clock_(clock) {
  if (limits_.global_limit < 1) limits_.global_limit = 1;
  if (limits_.global_window.count() < 1) limits_.global_window = milliseconds(1);
}

milliseconds TelegramPacer::Reserve(int64_t chat_id) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_.NowMillis();
  const int64_t window = limits_.global_window.count();
  booked_.erase(booked_.begin(), booked_.lower_bound(now - window + 1));
  if (chat_next_.size() > 4096) {
    for (auto it = chat_next_.begin(); it != chat_next_.end();) {
      it = it->second <= now ? chat_next_.erase(it) : std::next(it);
    }
  }
  int64_t t = now;
  if (auto it = chat_next_.find(chat_id); it != chat_next_.end()) t = std::max(t, it->second);

  // Find the earliest t such that every window [s, s + window) containing t holds fewer than
  // global_limit bookings. Bookings need not be in order (a chat's slot can lie ahead of
  // another chat's), so check all windows around t, not just the one ending at t.
  for (;;) {
    std::vector<int64_t> near(booked_.lower_bound(t - window + 1), booked_.lower_bound(t + window));
    std::vector<int64_t> starts{t - window + 1};
    for (int64_t p : near) starts.push_back(p <= t ? p : p - window + 1);
    int64_t escape = t;
    for (int64_t s : starts) {
      if (s > t || s <= t - window) continue;
      auto count = std::count_if(near.begin(), near.end(),
                                 [&](int64_t p) { return p >= s && p < s + window; });
      if (count >= limits_.global_limit) escape = std::max(escape, s + window);
    }
    if (escape == t) break;
    t = escape;
  }
  booked_.insert(t);
  chat_next_[chat_id] = t + limits_.per_chat_interval.count();
  return milliseconds(t - now);
}

}  // namespace depositbot
