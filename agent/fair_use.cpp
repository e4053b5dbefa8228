#include "agent/fair_use.h"

#include <algorithm>

#include "common/log.h"

namespace depositbot {
namespace {

constexpr int64_t kSecondsPerDay = 86'400;

std::string Plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// Whole seconds to the next 00:00 UTC (1..86400).
int64_t SecondsToMidnightUtc(int64_t now_s) {
  int64_t into_day = now_s % kSecondsPerDay;
  if (into_day < 0) into_day += kSecondsPerDay;
  return kSecondsPerDay - into_day;
}

}  // namespace

std::string HoursMinutes(int64_t seconds) {
  const int64_t minutes = std::max<int64_t>(1, (seconds + 59) / 60);
  const int64_t h = minutes / 60, m = minutes % 60;
  if (h == 0) return std::to_string(m) + " min";
  if (m == 0) return std::to_string(h) + " h";
  return std::to_string(h) + " h " + std::to_string(m) + " min";
}

FairUse::FairUse(ModelUsageStore& usage, const Clock& clock, Options options)
    : usage_(usage), clock_(clock), options_(options) {}

bool FairUse::Exempt(const ToolContext& ctx) const {
  return ctx.is_admin && options_.admins_exempt;
}

int64_t FairUse::LevelAt(const Bucket& b, int64_t now_ms) const {
  // Past `capacity` milliseconds any rate (>= 1 unit/ms) has refilled the bucket: clamping the
  // elapsed time there keeps the product far from overflow (burst and rate are <= 100000).
  const int64_t elapsed = std::clamp<int64_t>(now_ms - b.at_ms, 0, Capacity());
  return std::min(Capacity(), b.level + elapsed * options_.messages_per_minute);
}

void FairUse::SweepFullBuckets(int64_t now_ms) {
  // A full bucket says nothing a new one would not: drop it. Run when the map has doubled since
  // the last sweep, so the cost per message stays constant and the map stays within twice the
  // users whose buckets are still refilling (at least kMinSweepSize).
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (LevelAt(it->second, now_ms) >= Capacity()) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  sweep_at_ = std::max(kMinSweepSize, 2 * buckets_.size());
}

std::optional<std::string> FairUse::TakeMessage(const ToolContext& ctx) {
  if (options_.messages_per_minute <= 0 || Exempt(ctx)) return std::nullopt;
  const int64_t now_ms = clock_.NowMillis();
  int64_t wait_ms = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, fresh] = buckets_.try_emplace(ctx.telegram_id, Bucket{Capacity(), now_ms});
    Bucket& b = it->second;
    const int64_t level = LevelAt(b, now_ms);
    if (level >= kUnitsPerMessage) {
      b.level = level - kUnitsPerMessage;
      b.at_ms = std::max(b.at_ms, now_ms);
      if (fresh && buckets_.size() >= sweep_at_) SweepFullBuckets(now_ms);
      return std::nullopt;
    }
    // Ceiling division: the wait until one whole message has refilled.
    wait_ms = (kUnitsPerMessage - level + options_.messages_per_minute - 1) /
              options_.messages_per_minute;
  }
  ++rate_limited_;
  const int64_t wait_s = std::max<int64_t>(1, (wait_ms + 999) / 1000);
  Log(LogLevel::kInfo, "fair_use.rate_limited",
      {{"telegram_id", std::to_string(ctx.telegram_id)},
       {"retry_after_s", std::to_string(wait_s)}});
  return "You are sending messages faster than I can answer. Please wait " +
         Plural(wait_s, "second", "seconds") + " and send it again.";
}

std::optional<std::string> FairUse::CheckBudget(const ToolContext& ctx) {
  if (options_.daily_model_tokens <= 0 || Exempt(ctx)) return std::nullopt;
  const std::string day = Today();
  auto used = usage_.TokensOn(ctx.user_id, day);
  if (!used) {
    Log(LogLevel::kWarn, "fair_use.usage_unavailable",
        {{"telegram_id", std::to_string(ctx.telegram_id)}, {"error", used.error().message}});
    return std::nullopt;
  }
  if (*used < options_.daily_model_tokens) return std::nullopt;
  ++budget_refusals_;
  const int64_t reset_in = SecondsToMidnightUtc(clock_.NowSeconds());
  Log(LogLevel::kInfo, "fair_use.budget_refused",
      {{"telegram_id", std::to_string(ctx.telegram_id)},
       {"tokens_today", std::to_string(*used)},
       {"budget", std::to_string(options_.daily_model_tokens)},
       {"reset_in_s", std::to_string(reset_in)}});
  return "You have used today's model allowance; it resets at 00:00 UTC, in " +
         HoursMinutes(reset_in) + ". /balance and other commands still work.";
}

std::string FairUse::Today() const { return FormatUtc(clock_.NowSeconds()).substr(0, 10); }

ModelUsage FairUse::Spent(const ToolContext& ctx, std::string day, int64_t tokens) {
  tokens = std::max<int64_t>(tokens, 0);
  model_tokens_ += tokens;
  return ModelUsage{ctx.user_id, std::move(day), tokens};
}

std::string FairUse::Describe(const ToolContext& ctx) {
  const bool exempt = Exempt(ctx);
  std::string rate = "rate limit:    ";
  if (exempt) {
    rate += "none: admins are exempt (ADMINS_EXEMPT_FROM_LIMITS)";
  } else if (options_.messages_per_minute <= 0) {
    rate += "off (USER_MESSAGES_PER_MINUTE=0)";
  } else {
    rate += Plural(options_.messages_per_minute, "message", "messages") + " a minute, bursts of " +
            std::to_string(options_.message_burst) + " (per process)";
  }
  const std::string day = Today();
  auto used = usage_.TokensOn(ctx.user_id, day);
  std::string used_text =
      used ? std::to_string(*used) : "(unreadable: " + used.error().message + ")";
  std::string budget = "model budget:  ";
  if (exempt) {
    budget += "none: admins are exempt (ADMINS_EXEMPT_FROM_LIMITS); " + used_text +
              " tokens used today (" + day + " UTC)";
  } else if (options_.daily_model_tokens <= 0) {
    budget += "unlimited (USER_DAILY_MODEL_TOKENS=0); " + used_text + " tokens used today (" + day +
              " UTC)";
  } else {
    budget += used_text + " of " + std::to_string(options_.daily_model_tokens) +
              " tokens used today (" + day + " UTC); resets at 00:00 UTC, in " +
              HoursMinutes(SecondsToMidnightUtc(clock_.NowSeconds()));
  }
  return rate + "\n" + budget + "\n";
}

FairUse::Stats FairUse::stats() const {
  return Stats{rate_limited_.load(), budget_refusals_.load(), model_tokens_.load()};
}

size_t FairUse::TrackedBuckets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

}  // namespace depositbot
