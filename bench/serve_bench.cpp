// serve_bench [--delay-ms 200] [--calls 2] [--chats 200,500] [--per-chat 1]
//             [--pacing both|on|off] [--held N] [--depositbot PATH]
// Drives `depositbot serve` (its defaults: nothing here sets a worker count or a cap) as a real
// process through the fake Telegram Bot API server, with the fake OpenAI-compatible model
// answering every call after --delay-ms. A message costs --calls model calls: with 2, the model
// first calls manage_deposit (balance), then answers in text once it has the tool's result.
// For each chat count, a fresh serve (fresh database) first answers one warm-up message; then
// every chat sends --per-chat messages at once, and the bench waits until every reply reached
// the fake. Printed per run:
//   messages, wall time (first push -> last reply), messages per second, p50/p99 reply latency
//   (push -> sendMessage accepted by the fake), the ideal rate and the ratio to it, what bounds
//   the ideal, serve's peak RSS, its peak handler threads, durable database commits per
//   message (depositbot_db_commits_total before and after the burst, over the messages) and
//   serve's CPU time per message (the fakes share the same cores).
// The ideal is what a user would see from the outside world alone: every chat at once, a
// chat's messages one after another, bounded only by the model's latency and, with pacing on,
// by Telegram's pacing (~30 messages/s overall, ~1/s per chat):
//   model:  K * C * delay                       (K messages per chat, C calls per message)
//   pacer:  C * delay + max((N - 1) / 30, K - 1) s   (N messages in all)
// "--pacing off" sets DEPOSITBOT_TELEGRAM_PACING=off for serve.
// --held N: a separate run in which the model holds every call until N conversations wait on
// it at once; prints serve's RSS and threads at that moment, then releases them and reports
// whether all N were answered.
// It prints figures and asserts nothing.
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/fakes/fake_llm_server.h"
#include "tests/fakes/fake_telegram_server.h"
#include "tests/fakes/process_runner.h"

using namespace depositbot::testing;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr int64_t kAdminId = 900;
constexpr int64_t kFirstChat = 10001;
constexpr int64_t kWarmupChat = 9999;
constexpr int kGlobalSendsPerSecond = 30;  // TelegramPacer's default global limit

struct Settings {
  std::string binary;
  int delay_ms = 200;
  int calls = 2;
  int per_chat = 1;
  std::vector<int> chats{200, 500};
  int held = 0;
};

struct Ideal {
  double wall_s = 0;
  const char* bound = "";
};

struct Run {
  bool paced = true;
  int chats = 0;
  size_t messages = 0;
  size_t replies = 0;
  double wall_s = 0;
  double p50_ms = 0, p99_ms = 0;
  Ideal ideal;
  double peak_rss_mib = 0;
  int64_t peak_threads = 0;
  double commits_per_message = 0;
  double cpu_ms_per_message = 0;  // serve's user + system CPU time over the burst
  size_t model_calls = 0;
  int exit_code = 0;
};

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Nearest-rank percentile of sorted values.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

Ideal IdealFor(const Settings& s, int chats, bool paced) {
  const double turn = s.calls * s.delay_ms / 1000.0;
  const int64_t n = static_cast<int64_t>(chats) * s.per_chat;
  Ideal ideal{s.per_chat * turn, "model latency"};
  if (paced) {
    const double global = turn + static_cast<double>(n - 1) / kGlobalSendsPerSecond;
    const double per_chat = turn + (s.per_chat - 1);
    if (global > ideal.wall_s && global >= per_chat) ideal = {global, "pacer 30/s overall"};
    if (per_chat > ideal.wall_s && per_chat > global) ideal = {per_chat, "pacer 1/s per chat"};
  }
  return ideal;
}

// A field of /proc/PID/status in kB ("VmHWM", "VmRSS") or as a count ("Threads"); 0 if unread.
double ProcStatus(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1));
  }
  return 0;
}

// User + system CPU time of a live process so far, in milliseconds (/proc/PID/stat).
double CpuMillis(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The resident set of a live process now, in MiB, counted page by page (smaps_rollup; VmRSS in
// /proc/PID/status is the kernel's running estimate, which lags with many threads).
double RssNowMib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Rss:", 0) == 0) return std::stod(line.substr(4)) / 1024.0;
  }
  return ProcStatus(pid, "VmRSS") / 1024.0;
}

// One sample of serve's /metrics; -1 when unreadable.
int64_t MetricValue(int port, const std::string& name) {
  httplib::Client http("127.0.0.1", port);
  auto r = http.Get("/metrics");
  if (!r || r->status != 200) return -1;
  std::smatch m;
  if (std::regex_search(r->body, m, std::regex("\n" + name + " ([0-9]+)"))) {
    return std::stoll(m[1].str());
  }
  return -1;
}

std::string MakeDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "serve_bench.XXXXXX").string();
  if (!mkdtemp(pattern.data())) {
    std::perror("serve_bench: mkdtemp");
    std::exit(1);
  }
  return pattern;
}

FakeTelegramUser UserFor(int64_t id) {
  return FakeTelegramUser{id, "User" + std::to_string(id), "", "", "en", false};
}

// The model's answer: with calls == 2, a balance look-up first, then text with its result.
FakeLlmServer::Options ModelOptions(const Settings& s) {
  FakeLlmServer::Options lo;
  lo.delay = std::chrono::milliseconds(s.delay_ms);
  lo.responder = [calls = s.calls](const FakeLlmRequest& r) {
    bool has_result = false;
    if (r.json.is_object() && r.json.contains("messages") && r.json["messages"].is_array() &&
        !r.json["messages"].empty()) {
      const auto& last = r.json["messages"].back();
      has_result = last.is_object() && last.value("role", "") == "tool";
    }
    if (calls < 2 || has_result) return FakeLlmReply::Text("Noted, thank you.");
    return FakeLlmReply::ToolCalls({{"", "manage_deposit", R"({"action":"balance"})"}});
  };
  return lo;
}

struct Serve {
  FakeLlmServer llm;
  FakeTelegramServer telegram;
  std::string dir = MakeDir();
  std::unique_ptr<ChildProcess> process;
  int http_port = 0;

  Serve(const Settings& s, bool paced) : llm(ModelOptions(s)) {
    std::map<std::string, std::string> env{{"TELEGRAM_BOT_TOKEN", telegram.token()},
                                           {"TELEGRAM_API_BASE", telegram.url()},
                                           {"ADMIN_IDS", std::to_string(kAdminId)},
                                           {"HTTP_LISTEN", "127.0.0.1:0"},
                                           {"DEPOSITBOT_DB", dir + "/depositbot.db"},
                                           {"LLM_BASE_URL", llm.url()},
                                           {"LLM_API_KEY", "sk-bench"},
                                           {"RECONCILE_INTERVAL_SECONDS", "0"},
                                           // Capacity, not fair use: with --per-chat above the
                                           // burst the rate limit would answer the excess.
                                           {"USER_MESSAGES_PER_MINUTE", "0"},
                                           {"USER_DAILY_MODEL_TOKENS", "0"}};
    if (!paced) env["DEPOSITBOT_TELEGRAM_PACING"] = "off";
    // Passed through to serve, to compare allocator settings (e.g. glibc.malloc.tcache_count=0).
    if (const char* t = std::getenv("GLIBC_TUNABLES")) env["GLIBC_TUNABLES"] = t;
    process = std::make_unique<ChildProcess>(
        s.binary, std::vector<std::string>{"serve", "--poll-timeout", "1"}, env, dir);
    const std::string line = process->ReadUntil("depositbot serving");
    std::smatch m;
    if (line.empty() || !std::regex_search(line, m, std::regex("http port ([0-9]+)"))) {
      std::fprintf(stderr, "serve_bench: serve did not start:\n%s\n", process->Wait().err.c_str());
      std::exit(1);
    }
    http_port = std::stoi(m[1].str());
    // One message first, so start-up (first connections, first model call) is not measured;
    // then a pause so its send no longer counts in the pacer's one-second window.
    telegram.PushMessage(UserFor(kWarmupChat), kWarmupChat, "hello");
    if (!telegram.WaitForSentMessages(1, std::chrono::seconds(30))) {
      std::fprintf(stderr, "serve_bench: no reply to the warm-up message\n%s\n",
                   process->Wait().err.c_str());
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  }
  ~Serve() { std::filesystem::remove_all(dir); }

  int Stop() {
    process->Signal(SIGTERM);
    return process->Wait().exit_code;
  }
};

Run RunOnce(const Settings& s, int chats, bool paced) {
  Serve serve(s, paced);
  const size_t before = serve.telegram.SentMessages().size();
  const size_t calls_before = serve.llm.RequestCount();
  const int64_t commits_before = MetricValue(serve.http_port, "depositbot_db_commits_total");
  const double cpu_before = CpuMillis(serve.process->pid());

  Run run;
  run.paced = paced;
  run.chats = chats;
  run.ideal = IdealFor(s, chats, paced);
  run.messages = static_cast<size_t>(chats) * s.per_chat;
  // pushed[chat][k]: when the k-th message of the chat was queued.
  std::map<int64_t, std::vector<SteadyClock::time_point>> pushed;
  const auto start = SteadyClock::now();
  for (int k = 0; k < s.per_chat; ++k) {
    for (int c = 0; c < chats; ++c) {
      const int64_t chat = kFirstChat + c;
      pushed[chat].push_back(SteadyClock::now());
      serve.telegram.PushMessage(UserFor(chat), chat, "hello, message " + std::to_string(k + 1));
    }
  }
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(run.ideal.wall_s * 5000) + 30000);
  serve.telegram.WaitForSentMessages(before + run.messages, timeout);

  run.peak_rss_mib = ProcStatus(serve.process->pid(), "VmHWM") / 1024.0;
  run.peak_threads = MetricValue(serve.http_port, "depositbot_handler_threads_peak");
  const int64_t commits_after = MetricValue(serve.http_port, "depositbot_db_commits_total");
  if (commits_before >= 0 && commits_after >= commits_before) {
    run.commits_per_message =
        static_cast<double>(commits_after - commits_before) / static_cast<double>(run.messages);
  }
  run.cpu_ms_per_message = (CpuMillis(serve.process->pid()) - cpu_before) / run.messages;
  run.model_calls = serve.llm.RequestCount() - calls_before;
  run.exit_code = serve.Stop();

  // The replies of a chat arrive in its messages' order (per-chat order).
  std::map<int64_t, size_t> answered;
  std::vector<double> latencies;
  SteadyClock::time_point last = start;
  for (const auto& m : serve.telegram.SentMessages()) {
    auto it = pushed.find(m.chat_id);
    if (it == pushed.end()) continue;
    size_t k = answered[m.chat_id]++;
    if (k >= it->second.size()) continue;
    latencies.push_back(Ms(m.received_at - it->second[k]));
    last = std::max(last, m.received_at);
  }
  std::sort(latencies.begin(), latencies.end());
  run.replies = latencies.size();
  run.wall_s = Ms(last - start) / 1000.0;
  run.p50_ms = Percentile(latencies, 50);
  run.p99_ms = Percentile(latencies, 99);
  return run;
}

void PrintRun(const Settings& s, const Run& r) {
  const double rate = r.wall_s > 0 ? r.replies / r.wall_s : 0;
  std::printf("%-6s %6d %6zu %7.2f %8.1f %8.0f %8.0f ", r.paced ? "on" : "off", r.chats, r.messages,
              r.wall_s, rate, r.p50_ms, r.p99_ms);
  if (r.ideal.wall_s > 0) {
    const double ideal_rate = r.messages / r.ideal.wall_s;
    std::printf("%8.1f %6.2f  %-20s", ideal_rate, rate / ideal_rate, r.ideal.bound);
  } else {  // --delay-ms 0 without pacing: nothing outside sets a bound
    std::printf("%8s %6s  %-20s", "-", "-", "none (delay 0)");
  }
  std::printf(" %8.1f %7lld %11.2f %10.2f\n", r.peak_rss_mib,
              static_cast<long long>(r.peak_threads), r.commits_per_message, r.cpu_ms_per_message);
  if (r.replies != r.messages) {
    std::printf("       ^ only %zu of %zu replies arrived in time\n", r.replies, r.messages);
  }
  if (r.model_calls != r.messages * s.calls) {
    std::printf("       ^ %zu model calls for %zu messages\n", r.model_calls, r.messages);
  }
  if (r.exit_code != 0) std::printf("       ^ serve exited with %d\n", r.exit_code);
  std::fflush(stdout);
}

// --held N: N conversations waiting on the model at once.
void RunHeld(const Settings& s) {
  Serve serve(s, /*paced=*/false);
  const size_t before = serve.telegram.SentMessages().size();
  serve.llm.Hold();
  for (int c = 0; c < s.held; ++c) {
    serve.telegram.PushMessage(UserFor(kFirstChat + c), kFirstChat + c, "hello");
  }
  const bool all_waiting = serve.llm.WaitForHeld(s.held, std::chrono::seconds(120));
  const int pid = serve.process->pid();
  const double rss = RssNowMib(pid);
  const double threads = ProcStatus(pid, "Threads");
  serve.llm.Release();
  const bool answered =
      serve.telegram.WaitForSentMessages(before + s.held, std::chrono::seconds(120));
  const double peak = ProcStatus(pid, "VmHWM") / 1024.0;
  serve.process->Signal(SIGTERM);
  ProcessResult result = serve.process->Wait();
  const int exit_code = result.exit_code;
  if (!answered) {
    const size_t tail = result.err.size() > 3000 ? result.err.size() - 3000 : 0;
    std::printf("sent %zu of %d; serve's log ends:\n%s\n",
                serve.telegram.SentMessages().size() - before, s.held,
                result.err.substr(tail).c_str());
  }
  std::printf(
      "held: %d conversations waiting on the model at once: %s; serve RSS then %.1f MiB (peak "
      "over the run %.1f MiB), %.0f threads; all answered after release: %s; exit %d\n",
      s.held, all_waiting ? "yes" : "NO", rss, peak, threads, answered ? "yes" : "NO", exit_code);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  // The fakes hold a connection per conversation in flight: lift the open-files limit.
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &lim);
  }
  Settings s;
  std::string chats = "200,500";
  std::string pacing = "both";
#ifdef DEPOSITBOT_BIN_DEFAULT
  s.binary = DEPOSITBOT_BIN_DEFAULT;
#endif
  if (const char* bin = std::getenv("DEPOSITBOT_BIN")) s.binary = bin;

  CLI::App app{"drives depositbot serve through the fake Telegram server and prints throughput"};
  app.add_option("--delay-ms", s.delay_ms, "the fake model's delay per call")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();
  app.add_option("--calls", s.calls, "model calls per message (2: a tool call, then text)")
      ->check(CLI::Range(1, 2))
      ->capture_default_str();
  app.add_option("--chats", chats, "chat counts, comma-separated (empty: none)")
      ->capture_default_str();
  app.add_option("--per-chat", s.per_chat, "messages each chat sends at once")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--pacing", pacing, "Telegram send pacing in serve")
      ->check(CLI::IsMember({"both", "on", "off"}))
      ->capture_default_str();
  app.add_option("--held", s.held, "also hold this many conversations on the model at once")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--depositbot", s.binary, "the depositbot binary")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  s.chats.clear();
  std::stringstream list(chats);
  for (std::string item; std::getline(list, item, ',');) {
    int n = std::atoi(item.c_str());
    if (n <= 0) {
      std::fprintf(stderr, "serve_bench: --chats: expected positive counts, got \"%s\"\n",
                   item.c_str());
      return 2;
    }
    s.chats.push_back(n);
  }
  if (s.binary.empty() || !std::filesystem::exists(s.binary)) {
    std::fprintf(stderr, "serve_bench: no depositbot binary (--depositbot PATH): \"%s\"\n",
                 s.binary.c_str());
    return 2;
  }

  std::printf(
      "serve_bench: depositbot serve (defaults), fake Telegram + fake model on loopback, %u "
      "cores; model delay %d ms, %d call(s) per message, %d message(s) per chat\n",
      std::thread::hardware_concurrency(), s.delay_ms, s.calls, s.per_chat);
  if (!s.chats.empty()) {
    std::printf("%-6s %6s %6s %7s %8s %8s %8s %8s %6s  %-20s %8s %7s %11s %10s\n", "pacing",
                "chats", "msgs", "wall s", "msg/s", "p50 ms", "p99 ms", "ideal/s", "ratio",
                "ideal bound by", "RSS MiB", "threads", "commits/msg", "cpu ms/msg");
  }
  std::vector<bool> modes;
  if (pacing != "off") modes.push_back(true);
  if (pacing != "on") modes.push_back(false);
  for (bool paced : modes) {
    for (int c : s.chats) PrintRun(s, RunOnce(s, c, paced));
  }
  if (s.held > 0) RunHeld(s);
  return 0;
}
