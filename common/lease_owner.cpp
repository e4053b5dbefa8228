#include "common/lease_owner.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <random>

namespace depositbot {
namespace {

std::string FirstLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Where a pid means one process: the host name, the kernel's boot id and the pid namespace.
// Two containers with one host name, or two machines with one image, differ in the last two,
// so a pid is only ever looked up where it was issued. Computed once.
const std::string& PidSpace() {
  static const std::string space = [] {
    char buf[256] = {};
    std::string host = gethostname(buf, sizeof(buf) - 1) == 0 ? std::string(buf) : "";
    if (host.empty()) host = "unknown-host";
    std::string boot = FirstLine("/proc/sys/kernel/random/boot_id");
    char ns[128] = {};
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
    std::string pid_ns = n > 0 ? std::string(ns, static_cast<size_t>(n)) : "";
    std::string out = host + "@" + (boot.empty() ? "no-boot-id" : boot) + "@" +
                      (pid_ns.empty() ? "no-pid-ns" : pid_ns);
    for (char& c : out) {
      if (c == ':') c = '_';  // keeps the owner's three fields apart
    }
    return out;
  }();
  return space;
}

}  // namespace

std::string NewLeaseOwner() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char token[17];
  std::snprintf(token, sizeof(token), "%016llx", static_cast<unsigned long long>(rng()));
  return PidSpace() + ":" + std::to_string(getpid()) + ":" + token;
}

bool LeaseOwnerIsGone(std::string_view owner) {
  auto first = owner.find(':');
  if (first == std::string_view::npos) return false;
  auto second = owner.find(':', first + 1);
  if (second == std::string_view::npos) return false;
  if (owner.substr(0, first) != PidSpace()) return false;
  // Without a boot id or pid namespace to tell hosts apart, never call an owner gone.
  if (PidSpace().find("no-boot-id") != std::string::npos ||
      PidSpace().find("no-pid-ns") != std::string::npos) {
    return false;
  }
  std::string_view pid_text = owner.substr(first + 1, second - first - 1);
  int64_t pid = 0;
  auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
  if (ec != std::errc() || end != pid_text.data() + pid_text.size() || pid <= 1) return false;
  if (pid == getpid()) return false;
  // kill(pid, 0) checks existence without sending anything; EPERM means it exists.
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace depositbot
