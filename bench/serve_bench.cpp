// serve_bench [--delay-ms 200] [--workers 8] [--chats 1,50,500] [--per-chat 1]
//             [--pacing both|on|off] [--depositbot PATH]
// Drives `depositbot serve` as a real process through the fake Telegram Bot API server, with
// the fake OpenAI-compatible model answering every call after a fixed delay. For each chat
// count, a fresh serve (fresh database) first answers one warm-up message; then every chat
// sends --per-chat plain messages at once (each is one model call and one sendMessage), and
// the bench waits until every reply reached the fake. Printed per run:
//   messages, wall time (first push -> last reply), messages handled per second,
//   p50/p99 reply latency (push -> sendMessage accepted by the fake),
//   the ideal rate and the ratio to it, what bounds the ideal, and the peak RSS of serve.
// The ideal is the shortest possible wall time for the burst:
//   model:  max(K, ceil(N / workers)) * delay  (K messages of a chat run one after another)
//   pacer:  delay + max(floor((N - 1) / 30), K - 1) s  (~30 sends/s overall, 1/s per chat)
// with N messages, K per chat; the pacer term only when pacing is on. "--pacing off" sets
// DEPOSITBOT_TELEGRAM_PACING=off for serve, showing the dispatcher's own capacity.
// It prints figures and asserts nothing.
#include <signal.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
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
  int workers = 8;
  int per_chat = 1;
  std::vector<int> chats{1, 50, 500};
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
  const double delay = s.delay_ms / 1000.0;
  const int64_t n = static_cast<int64_t>(chats) * s.per_chat;
  const int64_t rounds = std::max<int64_t>(s.per_chat, (n + s.workers - 1) / s.workers);
  Ideal ideal{rounds * delay, "model delay x workers"};
  if (paced) {
    double global = delay + static_cast<double>((n - 1) / kGlobalSendsPerSecond);
    double per_chat = delay + (s.per_chat - 1);
    if (global > ideal.wall_s && global >= per_chat) ideal = {global, "pacer 30/s overall"};
    if (per_chat > ideal.wall_s && per_chat > global) ideal = {per_chat, "pacer 1/s per chat"};
  }
  return ideal;
}

// VmHWM (peak resident set) of a live process, in MiB; 0 when unreadable.
double PeakRssMib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
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

Run RunOnce(const Settings& s, int chats, bool paced) {
  FakeLlmServer::Options lo;
  lo.delay = std::chrono::milliseconds(s.delay_ms);
  lo.default_reply = FakeLlmReply::Text("Noted, thank you.");
  FakeLlmServer llm(lo);
  FakeTelegramServer telegram;
  const std::string dir = MakeDir();
  std::map<std::string, std::string> env{{"TELEGRAM_BOT_TOKEN", telegram.token()},
                                         {"TELEGRAM_API_BASE", telegram.url()},
                                         {"ADMIN_IDS", std::to_string(kAdminId)},
                                         {"HTTP_LISTEN", "127.0.0.1:0"},
                                         {"DEPOSITBOT_DB", dir + "/depositbot.db"},
                                         {"LLM_BASE_URL", llm.url()},
                                         {"LLM_API_KEY", "sk-bench"},
                                         {"RECONCILE_INTERVAL_SECONDS", "0"}};
  if (!paced) env["DEPOSITBOT_TELEGRAM_PACING"] = "off";
  ChildProcess serve(
      s.binary, {"serve", "--poll-timeout", "1", "--workers", std::to_string(s.workers)}, env, dir);
  if (serve.ReadUntil("depositbot serving").empty()) {
    std::fprintf(stderr, "serve_bench: serve did not start:\n%s\n", serve.Wait().err.c_str());
    std::exit(1);
  }

  // One message first, so start-up (first connections, first model call) is not measured;
  // then a pause so its send no longer counts in the pacer's one-second window.
  telegram.PushMessage(UserFor(kWarmupChat), kWarmupChat, "hello");
  if (!telegram.WaitForSentMessages(1, std::chrono::seconds(30))) {
    std::fprintf(stderr, "serve_bench: no reply to the warm-up message\n%s\n",
                 serve.Wait().err.c_str());
    std::exit(1);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const size_t before = telegram.SentMessages().size();
  const size_t calls_before = llm.RequestCount();

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
      telegram.PushMessage(UserFor(chat), chat, "hello, message " + std::to_string(k + 1));
    }
  }
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(run.ideal.wall_s * 5000) + 30000);
  telegram.WaitForSentMessages(before + run.messages, timeout);

  run.peak_rss_mib = PeakRssMib(serve.pid());
  run.model_calls = llm.RequestCount() - calls_before;
  serve.Signal(SIGTERM);
  run.exit_code = serve.Wait().exit_code;

  // The replies of a chat arrive in its messages' order (the dispatcher keeps it).
  std::map<int64_t, size_t> answered;
  std::vector<double> latencies;
  SteadyClock::time_point last = start;
  for (const auto& m : telegram.SentMessages()) {
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
  std::filesystem::remove_all(dir);
  return run;
}

void PrintRun(const Run& r) {
  const double rate = r.wall_s > 0 ? r.replies / r.wall_s : 0;
  std::printf("%-6s %6d %6zu %7.2f %8.1f %8.0f %8.0f ", r.paced ? "on" : "off", r.chats, r.messages,
              r.wall_s, rate, r.p50_ms, r.p99_ms);
  if (r.ideal.wall_s > 0) {
    const double ideal_rate = r.messages / r.ideal.wall_s;
    std::printf("%8.1f %6.2f  %-22s", ideal_rate, rate / ideal_rate, r.ideal.bound);
  } else {  // --delay-ms 0 without pacing: nothing in the model sets a bound
    std::printf("%8s %6s  %-22s", "-", "-", "none (delay 0)");
  }
  std::printf(" %8.1f\n", r.peak_rss_mib);
  if (r.replies != r.messages) {
    std::printf("       ^ only %zu of %zu replies arrived in time\n", r.replies, r.messages);
  }
  if (r.model_calls != r.messages) {
    std::printf("       ^ %zu model calls for %zu messages\n", r.model_calls, r.messages);
  }
  if (r.exit_code != 0) std::printf("       ^ serve exited with %d\n", r.exit_code);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  std::string chats = "1,50,500";
  std::string pacing = "both";
#ifdef DEPOSITBOT_BIN_DEFAULT
  s.binary = DEPOSITBOT_BIN_DEFAULT;
#endif
  if (const char* bin = std::getenv("DEPOSITBOT_BIN")) s.binary = bin;

  CLI::App app{"drives depositbot serve through the fake Telegram server and prints throughput"};
  app.add_option("--delay-ms", s.delay_ms, "the fake model's delay per call")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();
  app.add_option("--workers", s.workers, "serve --workers")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--chats", chats, "chat counts, comma-separated")->capture_default_str();
  app.add_option("--per-chat", s.per_chat, "messages each chat sends at once")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--pacing", pacing, "Telegram send pacing in serve")
      ->check(CLI::IsMember({"both", "on", "off"}))
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
      "serve_bench: depositbot serve, fake Telegram + fake model on loopback; model delay %d ms, "
      "%d workers, %d message(s) per chat\n",
      s.delay_ms, s.workers, s.per_chat);
  // The fakes use cpp-httplib's default pool: max(8, cores - 1) requests at once.
  const unsigned cores = std::thread::hardware_concurrency();
  const int pool = static_cast<int>(std::max(8u, cores > 0 ? cores - 1 : 0u));
  if (s.workers > pool) {
    std::printf(
        "note: the fake model server answers at most %d calls at once (cpp-httplib's "
        "pool), so the model term of the ideal is not reachable with %d workers\n",
        pool, s.workers);
  }
  std::printf("%-6s %6s %6s %7s %8s %8s %8s %8s %6s  %-22s %8s\n", "pacing", "chats", "msgs",
              "wall s", "msg/s", "p50 ms", "p99 ms", "ideal/s", "ratio", "ideal bound by",
              "RSS MiB");
  std::vector<bool> modes;
  if (pacing != "off") modes.push_back(true);
  if (pacing != "on") modes.push_back(false);
  for (bool paced : modes) {
    for (int c : s.chats) PrintRun(RunOnce(s, c, paced));
  }
  return 0;
}
