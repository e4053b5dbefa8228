#include "tests/fakes/process_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace depositbot::testing {

std::string DepositbotBinary() {
  const char* bin = std::getenv("DEPOSITBOT_BIN");
  if (!bin) throw std::runtime_error("DEPOSITBOT_BIN is not set (run the test under ctest)");
  return bin;
}

ProcessResult RunProcess(const std::string& binary, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env, const std::string& cwd,
                         const std::string& input) {
  static std::atomic<int> counter{0};
  std::string tag = std::to_string(getpid()) + "-" + std::to_string(++counter);
  std::string in_path = cwd + "/stdin-" + tag + ".txt";
  std::string err_path = cwd + "/stderr-" + tag + ".txt";
  {
    std::ofstream in(in_path);
    in << input;
  }
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> envs = {"PATH=/usr/bin:/bin", "HOME=" + cwd};
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    close(out[0]);
    dup2(out[1], 1);
    int in_fd = open(in_path.c_str(), O_RDONLY);
    int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in_fd < 0 || err_fd < 0 || chdir(cwd.c_str()) != 0) _exit(126);
    dup2(in_fd, 0);
    dup2(err_fd, 2);
    std::vector<char*> argv{const_cast<char*>(binary.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  ProcessResult r;
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) r.out.append(buf, size_t(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  std::ifstream err(err_path);
  r.err.assign(std::istreambuf_iterator<char>(err), {});
  unlink(in_path.c_str());
  unlink(err_path.c_str());
  return r;
}

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env, const std::string& cwd,
                           const std::string& input) {
  static std::atomic<int> counter{0};
  const std::string tag = std::to_string(getpid()) + "-" + std::to_string(++counter);
  err_path_ = cwd + "/child-stderr-" + tag + ".txt";
  if (!input.empty()) {
    in_path_ = cwd + "/child-stdin-" + tag + ".txt";
    std::ofstream in(in_path_);
    in << input;
    if (!in) throw std::runtime_error("cannot write " + in_path_);
  }
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> envs = {"PATH=/usr/bin:/bin", "HOME=" + cwd};
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    close(out[0]);
    dup2(out[1], 1);
    int null_fd = open(in_path_.empty() ? "/dev/null" : in_path_.c_str(), O_RDONLY);
    int err_fd = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (null_fd < 0 || err_fd < 0 || chdir(cwd.c_str()) != 0) _exit(126);
    dup2(null_fd, 0);
    dup2(err_fd, 2);
    std::vector<char*> argv{const_cast<char*>(binary.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  out_fd_ = out[0];
}

ChildProcess::~ChildProcess() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  unlink(err_path_.c_str());
  if (!in_path_.empty()) unlink(in_path_.c_str());
}

std::string ChildProcess::ReadUntil(const std::string& needle) {
  while (true) {
    size_t nl;
    while ((nl = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (line.find(needle) != std::string::npos) return line;
    }
    char buf[4096];
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) return "";
    buffer_.append(buf, size_t(n));
  }
}

void ChildProcess::Signal(int sig) {
  if (!reaped_) kill(pid_, sig);
}

ProcessResult ChildProcess::Wait() {
  ProcessResult r;
  char buf[4096];
  r.out = buffer_;
  for (ssize_t n; (n = read(out_fd_, buf, sizeof buf)) > 0;) r.out.append(buf, size_t(n));
  int status = 0;
  waitpid(pid_, &status, 0);
  reaped_ = true;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  std::ifstream err(err_path_);
  r.err.assign(std::istreambuf_iterator<char>(err), {});
  return r;
}

}  // namespace depositbot::testing
