// libFuzzer target: amounts people type (ParseUserAmount), in every minor-unit exponent.
// Input: byte 0 picks the currency and the rule, the rest is the text. Beyond "no crash, no
// UB", an accepted amount must be in range and survive FormatMinor/FormatAmount -> parse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/money.h"
#include "common/user_amount.h"

#ifndef DEPOSITBOT_FUZZ_ENTRY
#define DEPOSITBOT_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

using namespace depositbot;

extern "C" int DEPOSITBOT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* const kCodes[] = {"USD", "KRW", "BHD", "JPY", "EUR"};
  const Currency currency = *Currency::FromCode(kCodes[data[0] % 5]);
  const AmountRule rule = (data[0] & 0x80) ? AmountRule::kNonNegative : AmountRule::kPositive;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  auto amount = ParseUserAmount(text, currency, rule);
  if (!amount) {
    if (amount.error().message.empty()) std::abort();  // every refusal says why
    return 0;
  }
  if (*amount < 0 || (rule == AmountRule::kPositive && *amount == 0)) std::abort();
  auto again = ParseUserAmount(FormatMinor(*amount, currency.exponent), currency, rule);
  if (!again || *again != *amount) std::abort();
  auto with_code = ParseUserAmount(FormatAmount(*amount, currency), currency, rule);
  if (!with_code || *with_code != *amount) std::abort();
  return 0;
}
