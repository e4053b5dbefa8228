// The log line format and the sink tests capture it with (common/log.h).

#include "common/log.h"

#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/fakes/log_capture.h"

using depositbot::Log;
using depositbot::LogLevel;
using depositbot::testing::ScopedLogCapture;

TEST_CASE("a captured log line carries the level, the event and its fields, quoted when needed") {
  ScopedLogCapture capture;
  Log(LogLevel::kWarn, "deposit_refused",
      {{"user_id", "1001"}, {"reason", "the amount is not a number"}, {"note", ""}});
  std::vector<std::string> lines = capture.Lines();
  REQUIRE(lines.size() == 1);
  const std::string& line = lines[0];
  // "2026-11-28T23:13:36Z level=..." : a UTC timestamp, then the fields in order.
  REQUIRE(line.size() > 21);
  CHECK(line[4] == '-');
  CHECK(line[10] == 'T');
  CHECK(line.substr(19, 2) == "Z ");
  CHECK(line.substr(21) ==
        "level=warn event=deposit_refused user_id=1001 reason=\"the amount is not a number\" "
        "note=\"\"");
}

TEST_CASE("lines below the log level never reach the sink") {
  ScopedLogCapture capture;
  Log(LogLevel::kDebug, "too_chatty");
  Log(LogLevel::kError, "alert_undelivered", {{"key", "order:17"}});
  std::vector<std::string> lines = capture.Lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("level=error event=alert_undelivered key=order:17") != std::string::npos);
}

TEST_CASE("lines logged from many threads arrive whole, one per call") {
  ScopedLogCapture capture;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 50; ++i) {
        Log(LogLevel::kInfo, "tick", {{"thread", std::to_string(t)}, {"i", std::to_string(i)}});
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::string> lines = capture.Lines();
  CHECK(lines.size() == 200);
  for (const std::string& line : lines) {
    CHECK(line.find("level=info event=tick thread=") != std::string::npos);
    CHECK(line.find('\n') == std::string::npos);
  }
}

TEST_CASE("a capture that ends puts the previous sink back") {
  ScopedLogCapture outer;
  {
    ScopedLogCapture inner;
    Log(LogLevel::kInfo, "inside");
    CHECK(inner.Lines().size() == 1);
  }
  Log(LogLevel::kInfo, "outside");
  std::vector<std::string> lines = outer.Lines();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("event=outside") != std::string::npos);
}
