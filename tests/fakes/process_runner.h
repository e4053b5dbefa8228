#pragma once

#include <map>
#include <string>
#include <vector>

namespace depositbot::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

// Runs `binary args...` in `cwd` with a clean environment (PATH, HOME and
// `env` only, so nothing of the developer's configuration leaks in), `input`
// as standard input, and waits for it. stdout is captured through a pipe,
// stdin and stderr through files in `cwd`, so no pipe can fill up.
ProcessResult RunProcess(const std::string& binary, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env, const std::string& cwd,
                         const std::string& input = "");

// A long-running child (e.g. `depositbot serve`) with its stdout readable
// line by line, so a test can wait for "ready" output instead of sleeping.
// The destructor kills and reaps it if the test did not. Standard input is `input` (through a
// file in `cwd`), or /dev/null when empty.
class ChildProcess {
 public:
  ChildProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env, const std::string& cwd,
               const std::string& input = "");
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads stdout until a line containing `needle` (returned) or EOF ("").
  std::string ReadUntil(const std::string& needle);
  void Signal(int sig);
  // Waits for the exit; the result's out holds stdout not yet read, err all of stderr.
  ProcessResult Wait();
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int out_fd_ = -1;
  std::string err_path_;
  std::string in_path_;  // empty: stdin is /dev/null
  std::string buffer_;
  bool reaped_ = false;
};

// The depositbot binary under test ($DEPOSITBOT_BIN, set by CTest).
std::string DepositbotBinary();

}  // namespace depositbot::testing
