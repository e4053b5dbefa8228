// serve_bench [--delay-ms 200] [--calls 2] [--chats 200,500] [--per-chat 1]
//             [--pacing both|on|off] [--held N] [--depositbot PATH]
//             [--instances 1|2] [--webhook] [--senders 40] [--db sqlite|postgresql]
//             [--source-dir DIR]
// Drives `depositbot serve` (its defaults: nothing here sets a worker count or a cap) as a real
// process through the fake Telegram Bot API server, with the fake OpenAI-compatible model
// answering every call after --delay-ms. By default one serve in long-polling mode on a SQLite
// file. --webhook runs `serve --webhook` instead: the bench delivers each update to the
// instance's /telegram/webhook from --senders client threads at once (Telegram's webhook
// max_connections, 40 by default), a chat's updates one after another, and delivers again at
// once what was not answered 200 (counted and printed). --instances 2 (implies --webhook) starts
// two serves on one database and delivers the updates to them in turn, as a load balancer would:
// one holds the jobs, each update is handled once, per-chat order holds across them. --db
// postgresql runs on a throwaway PostgreSQL 15 cluster started durable (fsync on) by
// scripts/postgres.sh (under --source-dir, else $DEPOSITBOT_SOURCE_DIR, else the source tree this
// was built from), with a fresh database per run; the cluster stops at exit, also on
// SIGINT/SIGTERM.
// A message costs --calls model calls: with 2, the model first calls manage_deposit (balance),
// then answers in text once it has the tool's result. For each chat count, fresh serves on a
// fresh database first answer one warm-up message each; then every chat sends --per-chat
// messages at once, and the bench waits until every reply reached the fake. Printed per run,
// labelled with the instances, the mode (poll/webhook) and the backend:
//   messages, wall time (first push -> last reply), messages per second, p50/p99 reply latency
//   (push or webhook delivery -> sendMessage accepted by the fake), the ideal rate and the
//   ratio to it, what bounds the ideal, serve's peak RSS, its peak handler threads, durable
//   database commits per message (depositbot_db_commits_total before and after the burst, over
//   the messages) and serve's CPU time per message (the fakes share the same cores; the
//   PostgreSQL server's CPU is not in it). With two instances RSS, threads, commits and CPU are
//   the sums over both.
// The ideal is what a user would see from the outside world alone: every chat at once, a
// chat's messages one after another, bounded only by the model's latency and, with pacing on,
// by Telegram's pacing (~30 messages/s overall, ~1/s per chat):
//   model:  K * C * delay                       (K messages per chat, C calls per message)
//   pacer:  C * delay + max((N - 1) / 30, K - 1) s   (N messages in all)
// "--pacing off" sets DEPOSITBOT_TELEGRAM_PACING=off for serve. (Each instance paces its own
// sends, so with pacing on two instances may send up to twice the 30/s a bot is allowed.)
// --held N (one serve, long polling): a separate run in which the model holds every call until
// N conversations wait on it at once; prints serve's RSS and threads at that moment, then
// releases them and reports whether all N were answered.
// It prints figures and asserts nothing.
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "db/database.h"
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
constexpr char kWebhookSecret[] = "serve-bench-secret";
constexpr int kDeliveryAttempts = 5;

struct Settings {
  std::string binary;
  int delay_ms = 200;
  int calls = 2;
  int per_chat = 1;
  std::vector<int> chats{200, 500};
  int held = 0;
  int instances = 1;
  bool webhook = false;
  int senders = 40;
  std::string db = "sqlite";
  std::string source_dir;
};

// What a run's row is of: "1 poll sqlite", "2 webhook postgresql".
std::string Label(const Settings& s) {
  return std::to_string(s.instances) + (s.webhook ? " webhook " : " poll ") + s.db;
}

struct Ideal {
  double wall_s = 0;
  const char* bound = "";
};

struct Run {
  std::string label;
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
  size_t failed_deliveries = 0;  // webhook POSTs not answered 200 (each delivered again)
  std::string failed_statuses;   // "0 x3, 500 x2" (0: no answer)
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

// The serves alive now, to kill when the bench is interrupted (slot 0: free).
std::array<std::atomic<int>, 4> g_children{};

void Register(int pid) {
  for (auto& slot : g_children) {
    int free = 0;
    if (slot.compare_exchange_strong(free, pid)) return;
  }
}

void Unregister(int pid) {
  for (auto& slot : g_children) {
    int mine = pid;
    slot.compare_exchange_strong(mine, 0);
  }
}

// A throwaway PostgreSQL cluster started durable by scripts/postgres.sh, for the whole bench.
class PostgresCluster {
 public:
  // Starts it; ends the bench with a message when it cannot.
  explicit PostgresCluster(const std::string& script) : script_(script) {
    uri_ = Script("start " + Quoted(dir_) + " --durable");
    if (uri_.empty()) {  // the script said why on stderr
      std::fprintf(stderr, "serve_bench: %s start failed\n", script_.c_str());
      Stop();
      std::exit(1);
    }
    depositbot::Database::Options options;
    options.pool_size = 1;
    auto admin = depositbot::Database::Open(uri_, options);
    if (!admin) {
      std::fprintf(stderr, "serve_bench: cannot open %s: %s\n", uri_.c_str(),
                   admin.error().message.c_str());
      Stop();
      std::exit(1);
    }
    admin_ = std::move(*admin);
  }
  ~PostgresCluster() {
    admin_.reset();
    Stop();
  }
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // A fresh, empty database on the cluster; returns its URI (serve migrates it).
  std::string NewDatabase() {
    const std::string name = "bench_" + std::to_string(++databases_);
    auto lock = admin_->Lock();
    if (auto st = admin_->Exec("CREATE DATABASE " + name); !st) {
      std::fprintf(stderr, "serve_bench: CREATE DATABASE %s: %s\n", name.c_str(),
                   st.error().message.c_str());
      std::exit(1);
    }
    return uri_ + (uri_.find('?') == std::string::npos ? "?" : "&") + "dbname=" + name;
  }

  // Stops the cluster and removes its folder; once, from any thread (also on a signal).
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    Script("stop " + Quoted(dir_));
  }

 private:
  static std::string Quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }

  // postgres.sh with `args`; the first line of its stdout, "" when it failed. Not RunProcess:
  // the server pg_ctl leaves running would inherit RunProcess's stdout pipe (which it does not
  // close in the child) and its EOF would never come. Its stderr goes to the bench's.
  std::string Script(const std::string& args) const {
    const std::string command =
        "PATH=/usr/sbin:/sbin:$PATH /bin/bash " + Quoted(script_) + " " + args;
    FILE* out = popen(command.c_str(), "r");
    if (!out) return "";
    std::string text;
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, out)) text.append(buf, n);
    if (pclose(out) != 0) return "";
    return text.substr(0, text.find('\n'));
  }

  std::string script_;
  std::string dir_ = MakeDir();  // the cluster's (postgres.sh hands it to its owner)
  std::string uri_;
  std::unique_ptr<depositbot::Database> admin_;
  int databases_ = 0;
  std::mutex mu_;
  bool stopped_ = false;
};

PostgresCluster* g_cluster = nullptr;

// Kills the serves still alive and stops the cluster: at exit (std::exit too) and on a signal.
void Cleanup() {
  for (auto& slot : g_children) {
    if (int pid = slot.exchange(0); pid > 0) kill(pid, SIGKILL);
  }
  if (g_cluster) g_cluster->Stop();
}

int g_signal_pipe[2] = {-1, -1};

void OnSignal(int sig) {
  const char c = static_cast<char>(sig);
  (void)!write(g_signal_pipe[1], &c, 1);
}

// SIGINT/SIGTERM clean up (outside the handler, on a thread of their own), then end the bench.
void CleanUpOnSignals() {
  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) return;
  std::thread([] {
    char c = 0;
    while (read(g_signal_pipe[0], &c, 1) != 1) {
    }
    Cleanup();
    _exit(128 + c);
  }).detach();
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
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

struct Instance {
  std::unique_ptr<ChildProcess> process;
  int http_port = 0;
  std::string WebhookUrl() const {
    return "http://127.0.0.1:" + std::to_string(http_port) + "/telegram/webhook";
  }
};

// s.instances serves on one fresh database (a SQLite file in `dir`, or `db_uri`), each having
// answered a warm-up message.
struct Serve {
  FakeLlmServer llm;
  FakeTelegramServer telegram;
  std::string dir = MakeDir();
  std::vector<Instance> instances;
  bool webhook = false;

  Serve(const Settings& s, bool paced, const std::string& db_uri)
      : llm(ModelOptions(s)), webhook(s.webhook) {
    const std::string database = db_uri.empty() ? dir + "/depositbot.db" : db_uri;
    std::map<std::string, std::string> env{{"TELEGRAM_BOT_TOKEN", telegram.token()},
                                           {"TELEGRAM_API_BASE", telegram.url()},
                                           {"ADMIN_IDS", std::to_string(kAdminId)},
                                           {"HTTP_LISTEN", "127.0.0.1:0"},
                                           {"DEPOSITBOT_DB", database},
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
    std::vector<std::string> args{"serve", "--poll-timeout", "1"};
    if (webhook) {
      env["TELEGRAM_WEBHOOK_SECRET"] = kWebhookSecret;
      args = {"serve", "--webhook", "--takeover-seconds", "1"};
    }
    // One after another: the first takes the jobs, the next stands by.
    for (int i = 0; i < s.instances; ++i) {
      Instance& in = instances.emplace_back();
      in.process = std::make_unique<ChildProcess>(s.binary, args, env, dir);
      Register(in.process->pid());
      const std::string line = in.process->ReadUntil("depositbot serving");
      std::smatch m;
      if (line.empty() || !std::regex_search(line, m, std::regex("http port ([0-9]+)"))) {
        Die("serve " + std::to_string(i + 1) + " did not start");
      }
      in.http_port = std::stoi(m[1].str());
    }
    // One message to each first, so start-up (first connections, first model call) is not
    // measured; then a pause so their sends no longer count in the pacer's one-second window.
    for (size_t i = 0; i < instances.size(); ++i) {
      const int64_t chat = kWarmupChat - static_cast<int64_t>(i);
      if (!webhook) {
        telegram.PushMessage(UserFor(chat), chat, "hello");
      } else if (Deliver(i, telegram.BuildMessageUpdate(UserFor(chat), chat, "hello")) != 200) {
        Die("the warm-up update was refused");
      }
      if (!telegram.WaitForSentMessages(i + 1, std::chrono::seconds(30))) {
        Die("no reply to the warm-up message");
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  }
  ~Serve() {
    for (auto& in : instances) Unregister(in.process->pid());
    std::filesystem::remove_all(dir);
  }

  // POSTs `update` to the webhook of instance `i`, as Telegram does; the HTTP status.
  int Deliver(size_t i, const nlohmann::json& update) const {
    return telegram.DeliverViaWebhook(instances[i].WebhookUrl(), kWebhookSecret, update);
  }

  [[noreturn]] void Die(const std::string& why) {
    std::fprintf(stderr, "serve_bench: %s\n", why.c_str());
    for (auto& in : instances) {
      Unregister(in.process->pid());
      in.process->Signal(SIGTERM);
      std::fprintf(stderr, "%s\n", in.process->Wait().err.c_str());
    }
    std::exit(1);
  }

  // Stops every instance; the first non-zero exit code, else 0.
  int Stop() {
    for (auto& in : instances) in.process->Signal(SIGTERM);
    int exit_code = 0;
    for (auto& in : instances) {
      Unregister(in.process->pid());
      const int code = in.process->Wait().exit_code;
      if (exit_code == 0) exit_code = code;
    }
    return exit_code;
  }

  // Summed over the instances: a metric (-1 when one is unreadable), the peak RSS in MiB and
  // the CPU time in milliseconds.
  int64_t MetricSum(const std::string& name) const {
    int64_t sum = 0;
    for (const auto& in : instances) {
      const int64_t v = MetricValue(in.http_port, name);
      if (v < 0) return -1;
      sum += v;
    }
    return sum;
  }
  double PeakRssMib() const {
    double sum = 0;
    for (const auto& in : instances) sum += ProcStatus(in.process->pid(), "VmHWM") / 1024.0;
    return sum;
  }
  double CpuMs() const {
    double sum = 0;
    for (const auto& in : instances) sum += CpuMillis(in.process->pid());
    return sum;
  }
};

// A fresh database for a run: "" (a SQLite file in the run's folder) or a PostgreSQL URI.
std::string NewDatabase() { return g_cluster ? g_cluster->NewDatabase() : ""; }

Run RunOnce(const Settings& s, int chats, bool paced) {
  Serve serve(s, paced, NewDatabase());
  const size_t before = serve.telegram.SentMessages().size();
  const size_t calls_before = serve.llm.RequestCount();
  const int64_t commits_before = serve.MetricSum("depositbot_db_commits_total");
  const double cpu_before = serve.CpuMs();

  Run run;
  run.label = Label(s);
  run.paced = paced;
  run.chats = chats;
  run.ideal = IdealFor(s, chats, paced);
  run.messages = static_cast<size_t>(chats) * s.per_chat;
  // pushed[chat][k]: when the k-th message of the chat was queued.
  std::map<int64_t, std::vector<SteadyClock::time_point>> pushed;
  const auto start = SteadyClock::now();
  if (!serve.webhook) {
    for (int k = 0; k < s.per_chat; ++k) {
      for (int c = 0; c < chats; ++c) {
        const int64_t chat = kFirstChat + c;
        pushed[chat].push_back(SteadyClock::now());
        serve.telegram.PushMessage(UserFor(chat), chat, "hello, message " + std::to_string(k + 1));
      }
    }
  } else {
    // The updates in the order the polling run queues them; update i goes to instance
    // i % instances. Sender t delivers the chats t, t + senders, ..., each chat's updates one
    // after another (as Telegram does), the senders at once; a delivery not answered 200 is made
    // again at once, up to kDeliveryAttempts times.
    std::vector<nlohmann::json> updates;
    for (int k = 0; k < s.per_chat; ++k) {
      for (int c = 0; c < chats; ++c) {
        const int64_t chat = kFirstChat + c;
        pushed[chat].resize(s.per_chat);
        updates.push_back(serve.telegram.BuildMessageUpdate(
            UserFor(chat), chat, "hello, message " + std::to_string(k + 1)));
      }
    }
    std::mutex failed_mu;
    std::map<int, size_t> failed;  // HTTP status (0: no answer) -> deliveries
    std::vector<std::thread> senders;
    const int n_senders = std::min(s.senders, chats);
    for (int t = 0; t < n_senders; ++t) {
      senders.emplace_back([&, t] {
        for (int k = 0; k < s.per_chat; ++k) {
          for (int c = t; c < chats; c += n_senders) {
            const size_t i = static_cast<size_t>(k) * chats + c;
            pushed.at(kFirstChat + c)[k] = SteadyClock::now();  // this sender's chat only
            // Not answered 200: delivered again, as Telegram would (serve drops a duplicate).
            for (int attempt = 0; attempt < kDeliveryAttempts; ++attempt) {
              const int status = serve.Deliver(i % serve.instances.size(), updates[i]);
              if (status == 200) break;
              std::lock_guard<std::mutex> lock(failed_mu);
              ++failed[status];
            }
          }
        }
      });
    }
    for (auto& t : senders) t.join();
    for (const auto& [status, n] : failed) {
      run.failed_deliveries += n;
      if (!run.failed_statuses.empty()) run.failed_statuses += ", ";
      run.failed_statuses += std::to_string(status) + " x" + std::to_string(n);
    }
  }
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(run.ideal.wall_s * 5000) + 30000);
  serve.telegram.WaitForSentMessages(before + run.messages, timeout);

  run.peak_rss_mib = serve.PeakRssMib();
  run.peak_threads = serve.MetricSum("depositbot_handler_threads_peak");
  const int64_t commits_after = serve.MetricSum("depositbot_db_commits_total");
  if (commits_before >= 0 && commits_after >= commits_before) {
    run.commits_per_message =
        static_cast<double>(commits_after - commits_before) / static_cast<double>(run.messages);
  }
  run.cpu_ms_per_message = (serve.CpuMs() - cpu_before) / run.messages;
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
  std::printf("%-20s %-6s %6d %6zu %7.2f %8.1f %8.0f %8.0f ", r.label.c_str(),
              r.paced ? "on" : "off", r.chats, r.messages, r.wall_s, rate, r.p50_ms, r.p99_ms);
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
  if (r.failed_deliveries != 0) {
    std::printf(
        "       ^ %zu webhook deliveries not answered 200 and delivered again (status 0: no "
        "answer): %s\n",
        r.failed_deliveries, r.failed_statuses.c_str());
  }
  if (r.exit_code != 0) std::printf("       ^ serve exited with %d\n", r.exit_code);
  std::fflush(stdout);
}

// --held N: N conversations waiting on the model at once.
void RunHeld(Settings s) {
  s.instances = 1;
  s.webhook = false;
  Serve serve(s, /*paced=*/false, NewDatabase());
  const size_t before = serve.telegram.SentMessages().size();
  serve.llm.Hold();
  for (int c = 0; c < s.held; ++c) {
    serve.telegram.PushMessage(UserFor(kFirstChat + c), kFirstChat + c, "hello");
  }
  const bool all_waiting = serve.llm.WaitForHeld(s.held, std::chrono::seconds(120));
  ChildProcess& process = *serve.instances[0].process;
  const int pid = process.pid();
  const double rss = RssNowMib(pid);
  const double threads = ProcStatus(pid, "Threads");
  serve.llm.Release();
  const bool answered =
      serve.telegram.WaitForSentMessages(before + s.held, std::chrono::seconds(120));
  const double peak = ProcStatus(pid, "VmHWM") / 1024.0;
  Unregister(pid);
  process.Signal(SIGTERM);
  ProcessResult result = process.Wait();
  const int exit_code = result.exit_code;
  if (!answered) {
    const size_t tail = result.err.size() > 3000 ? result.err.size() - 3000 : 0;
    std::printf("sent %zu of %d; serve's log ends:\n%s\n",
                serve.telegram.SentMessages().size() - before, s.held,
                result.err.substr(tail).c_str());
  }
  std::printf(
      "held (one serve, long polling): %d conversations waiting on the model at once: %s; serve "
      "RSS then %.1f MiB (peak "
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
  app.add_option("--instances", s.instances, "serves on one database (2 implies --webhook)")
      ->check(CLI::Range(1, 2))
      ->capture_default_str();
  app.add_flag("--webhook", s.webhook, "serve --webhook; the bench delivers each update");
  app.add_option("--senders", s.senders, "webhook deliveries at once (Telegram max_connections)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--db", s.db, "the database: a SQLite file, or a durable PostgreSQL cluster")
      ->check(CLI::IsMember({"sqlite", "postgresql"}))
      ->capture_default_str();
  app.add_option("--source-dir", s.source_dir,
                 "the source tree, for scripts/postgres.sh (default: $DEPOSITBOT_SOURCE_DIR, "
                 "else the tree this was built from)");
  CLI11_PARSE(app, argc, argv);
  if (s.instances > 1) s.webhook = true;

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

  std::unique_ptr<PostgresCluster> cluster;
  if (s.db == "postgresql") {
    std::string dir = s.source_dir;
    if (const char* env = std::getenv("DEPOSITBOT_SOURCE_DIR"); dir.empty() && env) dir = env;
#ifdef DEPOSITBOT_SOURCE_DIR_DEFAULT
    if (dir.empty()) dir = DEPOSITBOT_SOURCE_DIR_DEFAULT;
#endif
    const std::string script = dir + "/scripts/postgres.sh";
    if (dir.empty() || !std::filesystem::exists(script)) {
      std::fprintf(stderr, "serve_bench: no scripts/postgres.sh under \"%s\" (--source-dir)\n",
                   dir.c_str());
      return 2;
    }
    CleanUpOnSignals();
    std::atexit(Cleanup);
    cluster = std::make_unique<PostgresCluster>(script);
    g_cluster = cluster.get();
  }

  std::printf(
      "serve_bench: depositbot serve (defaults) x%d, %s, on %s, fake Telegram + fake model on "
      "loopback, %u cores; model delay %d ms, %d call(s) per message, %d message(s) per chat\n",
      s.instances,
      s.webhook ? ("webhook (" + std::to_string(s.senders) + " deliveries at once)").c_str()
                : "long polling",
      s.db == "postgresql" ? "PostgreSQL (throwaway cluster, durable)" : "a SQLite file",
      std::thread::hardware_concurrency(), s.delay_ms, s.calls, s.per_chat);
  if (!s.chats.empty()) {
    std::printf("%-20s %-6s %6s %6s %7s %8s %8s %8s %8s %6s  %-20s %8s %7s %11s %10s\n",
                "instances mode db", "pacing", "chats", "msgs", "wall s", "msg/s", "p50 ms",
                "p99 ms", "ideal/s", "ratio", "ideal bound by", "RSS MiB", "threads", "commits/msg",
                "cpu ms/msg");
  }
  std::vector<bool> modes;
  if (pacing != "off") modes.push_back(true);
  if (pacing != "on") modes.push_back(false);
  for (bool paced : modes) {
    for (int c : s.chats) PrintRun(s, RunOnce(s, c, paced));
  }
  if (s.held > 0) RunHeld(s);
  g_cluster = nullptr;
  return 0;  // `cluster` stops here
}
