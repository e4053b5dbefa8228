#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"

namespace depositbot::testing {

// Collects every line Log writes, from any thread, while it lives (instead of stderr), then puts
// the previous sink back. Lines() and Text() may be read at any time. Not nestable across
// threads: create and destroy it on the test's own thread.
class ScopedLogCapture {
 public:
  ScopedLogCapture() : lines_(std::make_shared<Lines_>()) {
    previous_ = SetLogSink([lines = lines_](std::string_view line) {
      std::lock_guard<std::mutex> lock(lines->mu);  // also read by the test thread
      lines->all.emplace_back(line);
    });
  }
  ~ScopedLogCapture() { SetLogSink(std::move(previous_)); }
  ScopedLogCapture(const ScopedLogCapture&) = delete;
  ScopedLogCapture& operator=(const ScopedLogCapture&) = delete;

  std::vector<std::string> Lines() const {
    std::lock_guard<std::mutex> lock(lines_->mu);
    return lines_->all;
  }
  // Every line so far, each ending in '\n'.
  std::string Text() const {
    std::string out;
    for (const std::string& line : Lines()) out += line + '\n';
    return out;
  }

 private:
  struct Lines_ {
    std::mutex mu;
    std::vector<std::string> all;
  };
  std::shared_ptr<Lines_> lines_;
  LogSink previous_;
};

}  // namespace depositbot::testing
