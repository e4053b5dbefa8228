// fake_telegram_server_main --port N [--token T] [--sent-out FILE]
//
// Runs FakeTelegramServer on 127.0.0.1:N (0: any free port) for end-to-end tests and
// benchmarks that start `depositbot serve` as a process (TELEGRAM_API_BASE=http://127.0.0.1:N,
// TELEGRAM_BOT_TOKEN=T). Queue updates with POST /_fake/updates and read what the bot sent
// with GET /_fake/sent (see FakeTelegramServer). Prints "listening on PORT" on stdout when
// ready; stops on SIGINT/SIGTERM, then (with --sent-out) writes the sent messages to FILE as a
// JSON array.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "tests/fakes/fake_telegram_server.h"

namespace {

int Usage(const char* why) {
  std::fprintf(stderr,
               "fake_telegram_server_main: %s\n"
               "usage: fake_telegram_server_main --port N [--token T] [--sent-out FILE]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using depositbot::testing::FakeTelegramServer;

  FakeTelegramServer::Options options;
  std::string sent_path;
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return Usage(("missing value after " + arg).c_str());
    std::string value = argv[++i];
    if (arg == "--port") {
      char* end = nullptr;
      long port = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || port < 0 || port > 65535) {
        return Usage("--port needs 0..65535");
      }
      options.port = static_cast<int>(port);
      have_port = true;
    } else if (arg == "--token") {
      if (value.empty()) return Usage("--token must not be empty");
      options.token = value;
    } else if (arg == "--sent-out") {
      sent_path = value;
    } else {
      return Usage(("unknown option " + arg).c_str());
    }
  }
  if (!have_port) return Usage("--port is required");

  // Block the stop signals before the server starts its threads, so that only sigwait below
  // receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    FakeTelegramServer server(options);
    std::cout << "listening on " << server.port() << std::endl;
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (!sent_path.empty()) {
      nlohmann::json all = nlohmann::json::array();
      for (const auto& m : server.SentMessages()) {
        all.push_back({{"message_id", m.message_id},
                       {"chat_id", m.chat_id},
                       {"text", m.text},
                       {"parse_mode", m.parse_mode},
                       {"reply_markup", m.reply_markup}});
      }
      std::ofstream out(sent_path);
      out << all.dump(2) << "\n";
      if (!out) {
        std::fprintf(stderr, "fake_telegram_server_main: cannot write %s\n", sent_path.c_str());
        return 1;
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake_telegram_server_main: %s\n", e.what());
    return 1;
  }
  return 0;
}
