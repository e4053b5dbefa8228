#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace depositbot {

// One line per event on stderr: `2026-11-28T23:13:36Z level=info event=... key=value ...`.
// Values with spaces are quoted. Thread-safe. Never pass secrets: callers redact.
enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogField = std::pair<std::string_view, std::string>;

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});
void SetLogLevel(LogLevel min_level);
// Turns logging off entirely (the terminal chat keeps stderr quiet unless asked).
void SetLogEnabled(bool enabled);

}  // namespace depositbot
