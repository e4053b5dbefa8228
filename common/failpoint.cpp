#include "common/failpoint.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/log.h"

namespace depositbot {
namespace {

struct Action {
  std::string what;  // "exit", "error", "sleep"
  int64_t arg = 0;   // sleep milliseconds
  int64_t nth = 0;   // 0: every hit
  int64_t hits = 0;
};

std::map<std::string, Action, std::less<>>& Armed() {
  static std::map<std::string, Action, std::less<>> armed = [] {
    std::map<std::string, Action, std::less<>> m;
    const char* env = std::getenv("DEPOSITBOT_FAILPOINT");
    if (!env) return m;
    std::string spec(env);
    size_t start = 0;
    while (start <= spec.size()) {
      size_t end = spec.find(',', start);
      if (end == std::string::npos) end = spec.size();
      std::string item = spec.substr(start, end - start);
      start = end + 1;
      size_t eq = item.find('=');
      if (eq == std::string::npos) continue;
      Action a;
      std::string rhs = item.substr(eq + 1);
      if (size_t at = rhs.find('@'); at != std::string::npos) {
        a.nth = std::atoll(rhs.c_str() + at + 1);
        rhs.resize(at);
      }
      if (rhs.rfind("sleep:", 0) == 0) {
        a.what = "sleep";
        a.arg = std::atoll(rhs.c_str() + 6);
      } else {
        a.what = rhs;
      }
      m[item.substr(0, eq)] = a;
    }
    return m;
  }();
  return armed;
}

std::mutex g_mu;

}  // namespace

Status FailpointHit(std::string_view name) {
  std::string what;
  int64_t arg = 0;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto& armed = Armed();
    auto it = armed.find(name);
    if (it == armed.end()) return Status::Ok();
    Action& a = it->second;
    ++a.hits;
    if (a.nth != 0 && a.hits != a.nth) return Status::Ok();
    what = a.what;
    arg = a.arg;
  }
  if (what == "exit") {
    Log(LogLevel::kWarn, "failpoint.exit", {{"point", std::string(name)}});
    _exit(kFailpointExitCode);  // no destructors, no flushing: like a crash
  }
  if (what == "sleep") {
    std::this_thread::sleep_for(std::chrono::milliseconds(arg));
    return Status::Ok();
  }
  if (what == "error") {
    return Error::Internal("failpoint " + std::string(name) + " fired");
  }
  return Status::Ok();
}

}  // namespace depositbot
