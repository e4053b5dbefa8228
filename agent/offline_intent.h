#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace depositbot {

// What the offline model makes of one plain-language message (not a slash command), in English or
// Korean: a tool call with its arguments, a question for what is missing, or nothing understood.
// Pure and thread-safe: the same text and context give the same answer.
struct OfflineIntent {
  enum class Kind { kCall, kQuestion, kHelp, kNone };
  Kind kind = Kind::kNone;
  std::string tool;                                // kCall
  nlohmann::json args = nlohmann::json::object();  // kCall
  std::string question;                            // kQuestion: what to ask, in the user's language
  std::string
      missing;  // kQuestion: "depositor_name", "amount", "deposit", "domain", "transaction_id"
};

// The conversation just before the message: the previous user message and the assistant's reply
// to it, when that reply was one of OfflineIntent's questions. It lets a half-given request be
// completed: "I want to deposit 50 dollars" -> "Under which name...?" -> "KIM MINJI".
struct OfflineContext {
  std::string previous_user;       // empty: none
  std::string previous_assistant;  // empty: none
  bool admin = false;
};

// Reads `text`. Never guesses an amount: the amount is passed on as written, for the deposit tool's
// amount reader to accept, refuse or ask about; a deposit without an amount is asked about.
OfflineIntent UnderstandMessage(std::string_view text, const OfflineContext& context);

// True when `text` holds Hangul: the questions are then asked in Korean.
bool HasHangul(std::string_view text);

}  // namespace depositbot
