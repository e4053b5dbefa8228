#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "common/clock.h"

namespace depositbot {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_enabled{true};
std::mutex g_mu;
LogSink g_sink;  // guarded by g_mu; empty: stderr

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendValue(std::string& line, const std::string& v) {
  bool quote = v.empty() || v.find_first_of(" \t\"=\n") != std::string::npos;
  if (!quote) {
    line += v;
    return;
  }
  line += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') line += '\\';
    if (c == '\n') {
      line += "\\n";
      continue;
    }
    line += c;
  }
  line += '"';
}

}  // namespace

void SetLogLevel(LogLevel min_level) { g_min_level = static_cast<int>(min_level); }
void SetLogEnabled(bool enabled) { g_enabled = enabled; }

LogSink SetLogSink(LogSink sink) {
  std::lock_guard<std::mutex> lock(g_mu);
  std::swap(g_sink, sink);
  return sink;
}

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (!g_enabled || static_cast<int>(level) < g_min_level) return;
  std::string line = FormatUtc(SystemClock().NowSeconds());
  line += " level=";
  line += LevelName(level);
  line += " event=";
  line += event;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    AppendValue(line, v);
  }
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_sink) {
    g_sink(line);
    return;
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace depositbot
