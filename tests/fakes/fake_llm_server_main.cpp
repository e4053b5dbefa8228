// fake_llm_server_main --port N [--script FILE] [--api-key KEY] [--delay-ms MS]
//                      [--requests-out FILE]
//
// Runs FakeLlmServer on 127.0.0.1:N (0: any free port) for end-to-end tests that start
// `depositbot` as a process. FILE holds a JSON array of replies played in order (see
// FakeLlmReply::FromScript); once it runs out every request gets the text
// "(script exhausted)". Prints "listening on PORT" on stdout when ready; stops on
// SIGINT/SIGTERM, then (with --requests-out) writes every request body it received to FILE
// as a JSON array, so a test can assert what the bot sent.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "tests/fakes/fake_llm_server.h"

namespace {

int Usage(const char* why) {
  std::fprintf(stderr,
               "fake_llm_server_main: %s\n"
               "usage: fake_llm_server_main --port N [--script FILE] [--api-key KEY] "
               "[--delay-ms MS] [--requests-out FILE]\n",
               why);
  return 2;
}

bool ParseInt(const std::string& s, int& out) {
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < 0 || v > 1000000) return false;
  out = static_cast<int>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using depositbot::testing::FakeLlmReply;
  using depositbot::testing::FakeLlmServer;

  FakeLlmServer::Options options;
  options.default_reply = FakeLlmReply::Text("(script exhausted)");
  std::string script_path;
  std::string requests_path;
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return Usage(("missing value after " + arg).c_str());
    std::string value = argv[++i];
    int n = 0;
    if (arg == "--port") {
      if (!ParseInt(value, n) || n > 65535) return Usage("--port needs 0..65535");
      options.port = n;
      have_port = true;
    } else if (arg == "--script") {
      script_path = value;
    } else if (arg == "--requests-out") {
      requests_path = value;
    } else if (arg == "--api-key") {
      options.api_key = value;
    } else if (arg == "--delay-ms") {
      if (!ParseInt(value, n)) return Usage("--delay-ms needs a number of milliseconds");
      options.delay = std::chrono::milliseconds(n);
    } else {
      return Usage(("unknown option " + arg).c_str());
    }
  }
  if (!have_port) return Usage("--port is required");

  std::vector<FakeLlmReply> replies;
  if (!script_path.empty()) {
    std::ifstream in(script_path);
    if (!in) return Usage(("cannot read " + script_path).c_str());
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json script = nlohmann::json::parse(text.str(), nullptr, false);
    if (!script.is_array()) return Usage("the script must be a JSON array of replies");
    for (size_t i = 0; i < script.size(); ++i) {
      auto reply = FakeLlmReply::FromScript(script[i]);
      if (!reply) {
        std::string why = "script reply #" + std::to_string(i + 1) + ": " + reply.error().message;
        return Usage(why.c_str());
      }
      replies.push_back(std::move(*reply));
    }
  }

  // Block the stop signals before the server starts its threads, so that only sigwait below
  // receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    FakeLlmServer server(options);
    for (FakeLlmReply& r : replies) server.Enqueue(std::move(r));
    std::cout << "listening on " << server.port() << std::endl;
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (!requests_path.empty()) {
      nlohmann::json all = nlohmann::json::array();
      for (const auto& r : server.Requests()) {
        all.push_back(r.json.is_discarded() ? nlohmann::json(r.body) : r.json);
      }
      std::ofstream out(requests_path);
      out << all.dump(2) << "\n";
      if (!out) {
        std::fprintf(stderr, "fake_llm_server_main: cannot write %s\n", requests_path.c_str());
        return 1;
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake_llm_server_main: %s\n", e.what());
    return 1;
  }
  return 0;
}
