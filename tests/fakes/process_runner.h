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

// The depositbot binary under test ($DEPOSITBOT_BIN, set by CTest).
std::string DepositbotBinary();

}  // namespace depositbot::testing
