#include "common/lease_owner.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <random>

namespace depositbot {
namespace {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  std::string name(buf);
  for (char& c : name) {
    if (c == ':') c = '_';  // keeps the owner's three fields apart
  }
  return name.empty() ? "unknown-host" : name;
}

}  // namespace

std::string NewLeaseOwner() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char token[17];
  std::snprintf(token, sizeof(token), "%016llx", static_cast<unsigned long long>(rng()));
  return HostName() + ":" + std::to_string(getpid()) + ":" + token;
}

bool LeaseOwnerIsGone(std::string_view owner) {
  auto first = owner.find(':');
  if (first == std::string_view::npos) return false;
  auto second = owner.find(':', first + 1);
  if (second == std::string_view::npos) return false;
  if (owner.substr(0, first) != HostName()) return false;
  std::string_view pid_text = owner.substr(first + 1, second - first - 1);
  int64_t pid = 0;
  auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
  if (ec != std::errc() || end != pid_text.data() + pid_text.size() || pid <= 1) return false;
  if (pid == getpid()) return false;
  // kill(pid, 0) checks existence without sending anything; EPERM means it exists.
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace depositbot
