// libFuzzer target: a conversation fixture (docs/fixtures.md) as `depositbot replay` reads it.
// The input is JSON text; what nlohmann parses goes through ParseFixture. Properties from
// app/fixture.h: it never throws, a refusal is kInvalid and starts with the JSON path ("$"), and
// an accepted fixture's speakers and presses all come from its users.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "app/fixture.h"

#ifndef DEPOSITBOT_FUZZ_ENTRY
#define DEPOSITBOT_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

using namespace depositbot;
using nlohmann::json;

extern "C" int DEPOSITBOT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto fixture = ParseFixture(j, "fuzz");
  if (!fixture) {
    if (fixture.code() != ErrorCode::kInvalid) std::abort();
    if (fixture.error().message.empty() || fixture.error().message[0] != '$') std::abort();
    return 0;
  }
  for (const FixtureTurn& turn : fixture->turns) {
    bool spoken =
        turn.kind == FixtureTurn::Kind::kMessage || turn.kind == FixtureTurn::Kind::kPress;
    if (spoken && !fixture->FindUser(turn.from)) std::abort();
    if (turn.advance_seconds < 0) std::abort();
  }
  return 0;
}
