#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace depositbot {

// One line per event, on stderr unless a sink is set:
// `2026-11-28T23:13:36Z level=info event=... key=value ...`.
// Values with spaces are quoted. Thread-safe. Never pass secrets: callers redact.
enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogField = std::pair<std::string_view, std::string>;

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});
void SetLogLevel(LogLevel min_level);
// Turns logging off entirely (the terminal chat keeps stderr quiet unless asked).
void SetLogEnabled(bool enabled);

// Receives each line that passes the level and enabled checks, without its trailing newline.
using LogSink = std::function<void(std::string_view line)>;

// Sends every later line to `sink` instead of stderr (an empty sink: back to stderr) and returns
// the sink it replaces, so a caller can put it back. Threads: Log calls the sink on the logging
// thread, one line at a time under the log's own mutex, so lines never interleave and the sink
// needs no lock of its own for that; it must not call Log or SetLogSink (that would deadlock)
// and should return quickly, since every logging thread waits for it. Once SetLogSink returns,
// no thread is still inside the replaced sink, so its owner may destroy it.
LogSink SetLogSink(LogSink sink);

}  // namespace depositbot
