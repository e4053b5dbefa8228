#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.h"  // Utf16Length, the measure of the limits below

namespace depositbot {

// Telegram's limit on one message's text (reference/telegram-bot-api.md §5). Telegram counts
// after entity parsing; counting UTF-16 code units of the marked-up text is always safe.
inline constexpr size_t kTelegramMessageLimit = 4096;

// Escapes text for parse_mode HTML: & < > and " become &amp; &lt; &gt; &quot;. Safe both in
// text and inside attribute values (href="..."). Everything else, UTF-8 included, is kept.
std::string HtmlEscape(std::string_view text);

// Splits a text for parse_mode HTML (or plain text) into parts of at most `limit` UTF-16 code
// units each, counting the markup. A part ends at the last line break that fits (the break
// itself is dropped), else at the last space (dropped), else is cut hard. A cut never falls
// inside a tag, an entity (&amp;), a multi-byte character or an emoji sequence (ZWJ, variation
// selectors, skin tones). Tags open at a cut are closed at the end of the part and reopened
// (with their attributes) at the start of the next. Parts with no visible text are left out,
// so an empty or blank text gives no parts. A text that fits is returned unchanged as the one
// part. Never fails; unbalanced input is split as well as it can be.
std::vector<std::string> SplitForTelegram(std::string_view html,
                                          size_t limit = kTelegramMessageLimit);

// The visible text of a parse_mode HTML string: tags removed, &lt; &gt; &amp; &quot; and
// numeric entities (&#39; &#x1F600;) decoded. Used to resend a message Telegram could not parse
// as plain text. Anything that is not a well-formed tag or entity is kept as written.
std::string StripHtml(std::string_view html);

}  // namespace depositbot
