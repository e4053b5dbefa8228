#pragma once

#include <unistd.h>

#include <cstdio>
#include <string>

namespace depositbot::testing {

// Collects what the process writes to stderr (where Log writes) until Finish().
class StderrCapture {
 public:
  StderrCapture() : file_(std::tmpfile()) {
    std::fflush(stderr);
    saved_ = dup(2);
    dup2(fileno(file_), 2);
  }
  ~StderrCapture() {
    if (saved_ >= 0) Finish();
    std::fclose(file_);
  }
  std::string Finish() {
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
    saved_ = -1;
    std::string out;
    std::rewind(file_);
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, file_)) > 0;) out.append(buf, n);
    return out;
  }

 private:
  std::FILE* file_;
  int saved_ = -1;
};

}  // namespace depositbot::testing
