#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/text.h"  // Utf16Length, the measure of the limit below

namespace depositbot {

// The longest reply text the agent hands to a transport, in UTF-16 code units (the unit
// Telegram counts). It leaves room under Telegram's 4096 per message for a demo notice, so an
// ordinary reply is one message; the transport still splits anything longer.
inline constexpr size_t kMaxReplyUnits = 3500;

// The model's text as the user gets it. A text longer than `max_units` UTF-16 code units, or
// one the server stopped at the token cap (`cut_off`, finish_reason "length"), is shortened to
// its last sentence end (. ! ? 。！？ or a line break) — when the text is too long, only if
// that keeps at least half of what fits — else to its last space (same rule), else to a code
// point boundary (the last two marked with "…"),
// and followed by a line saying the answer was cut. The result, note included, is at most
// `max_units` long (just the note when `max_units` is smaller than it). A text that fits and
// was not cut off comes back unchanged. Never splits a UTF-8 sequence; never fails.
std::string LimitReply(std::string_view text, size_t max_units, bool cut_off);

}  // namespace depositbot
