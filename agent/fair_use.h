#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "db/model_usage_store.h"
#include "tools/tool_context.h"

namespace depositbot {

// Fair use per user, for every transport (Agent::Handle applies it):
//  - a message rate limit: a token bucket per Telegram user that holds `message_burst` messages
//    and refills `messages_per_minute` a minute. The buckets live in this process's memory: a
//    `chat` and a `serve` on one database, or two `serve`s, each keep their own, so a user may
//    get up to one allowance per process. Buckets that are full again are forgotten, so memory
//    follows the users of the last refill period, not every user ever seen.
//  - a daily budget of model tokens per user and UTC day, read from the ModelUsageStore (shared
//    by every process on the database, kept across restarts). A turn that starts under the
//    budget finishes (a purchase is never cut off mid-way) and its tokens count, so a user may
//    end a day up to one turn's worth over; two turns of one user started at once in two
//    processes may both pass.
// Admins are exempt from both when `admins_exempt`. Each refusal is a sentence that says when to
// try again, and changes nothing else; every message the agent answers takes from the bucket,
// a budget refusal too (each costs a read and a reply), so a user over budget cannot flood
// either. Thread-safe; `usage` and `clock` must outlive it.
class FairUse {
 public:
  struct Options {
    int64_t messages_per_minute = 20;      // 0: no rate limit
    int64_t message_burst = 10;            // >= 1
    int64_t daily_model_tokens = 200'000;  // 0: no budget
    bool admins_exempt = true;
  };
  // Since this object was made (for /metrics).
  struct Stats {
    int64_t rate_limited = 0;     // messages refused by the rate limit
    int64_t budget_refusals = 0;  // messages refused by the daily budget
    int64_t model_tokens = 0;     // tokens the model reported, every turn, exempt or not
  };

  FairUse(ModelUsageStore& usage, const Clock& clock, Options options);

  // Takes one message from the sender's bucket: nullopt when the message may go on, else the
  // refusal ("... Please wait 12 seconds and send it again."), with the bucket unchanged.
  std::optional<std::string> TakeMessage(const ToolContext& ctx);
  // Before a turn that calls the model: the refusal when today's tokens reached the budget,
  // naming the reset (00:00 UTC) and how far off it is. A store that cannot be read lets the
  // turn go on (logged): the budget bounds cost, it guards no money.
  std::optional<std::string> CheckBudget(const ToolContext& ctx);
  // The UTC date now, "YYYY-MM-DD": the day a turn begun now is counted on.
  std::string Today() const;
  // Counts `tokens` in the stats and returns the usage to store with the turn (begun on `day`).
  ModelUsage Spent(const ToolContext& ctx, std::string day, int64_t tokens);

  // What applies to this user now, in two lines for `depositbot chat --dry-run`: the rate
  // limit, and today's tokens against the budget with the reset time.
  std::string Describe(const ToolContext& ctx);

  Stats stats() const;
  const Options& options() const { return options_; }
  // Buckets held in memory (for the memory-bound test).
  size_t TrackedBuckets() const;

 private:
  // A user's bucket, in units where one message is kUnitsPerMessage and a millisecond refills
  // messages_per_minute units: integer arithmetic, exact.
  struct Bucket {
    int64_t level = 0;
    int64_t at_ms = 0;
  };
  static constexpr int64_t kUnitsPerMessage = 60'000;  // ms per minute
  static constexpr size_t kMinSweepSize = 1024;

  bool Exempt(const ToolContext& ctx) const;
  int64_t Capacity() const { return options_.message_burst * kUnitsPerMessage; }
  int64_t LevelAt(const Bucket& b, int64_t now_ms) const;
  void SweepFullBuckets(int64_t now_ms);

  ModelUsageStore& usage_;
  const Clock& clock_;
  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<int64_t, Bucket> buckets_;  // by Telegram id
  size_t sweep_at_ = kMinSweepSize;
  std::atomic<int64_t> rate_limited_{0};
  std::atomic<int64_t> budget_refusals_{0};
  std::atomic<int64_t> model_tokens_{0};
};

// "5 h 12 min", "12 min", "3 h": a wait of `seconds`, rounded up to the minute (at least 1 min).
std::string HoursMinutes(int64_t seconds);

}  // namespace depositbot
