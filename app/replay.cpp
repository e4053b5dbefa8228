#include "app/replay.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <ostream>

#include "app/replay_checks.h"
#include "app/replay_stack.h"
#include "app/replay_steps.h"

namespace depositbot {
namespace {

// One fixture's replay: wiring (ReplayStack), the turns (TurnRunner), the expectations
// (ExpectationChecker); stops at the first turn that differs.
ReplayResult Replay(const Fixture& fixture, const ReplayOptions& options) {
  ReplayResult out;
  out.name = fixture.name;
  out.file = fixture.file;
  ReplayStack stack(fixture);
  if (auto st = stack.Build(fixture); !st) {
    out.report = "  starting state: " + st.error().message + "\n";
    return out;
  }
  TurnRunner runner(stack);
  ExpectationChecker checker(stack, fixture.settings);
  for (size_t i = 0; i < fixture.turns.size(); ++i) {
    const FixtureTurn& t = fixture.turns[i];
    std::vector<std::string> diffs;
    StepResult actual = runner.Run(t, diffs);
    checker.CheckTurn(t.expect, actual, diffs);
    std::string header = "turn " + std::to_string(i + 1) + " of " +
                         std::to_string(fixture.turns.size()) + " (" + t.path + ") — " +
                         runner.Describe(t);
    if (!diffs.empty()) {
      out.failed_turn = static_cast<int>(i + 1);
      out.report += "  " + header + "\n";
      for (const auto& d : diffs) out.report += "    " + d + "\n";
      out.report += DescribeHappened(actual);
      return out;
    }
    if (options.verbose) out.report += "  " + header + "\n" + DescribeHappened(actual);
  }
  std::vector<std::string> diffs;
  checker.CheckBooks(fixture.end, diffs, "");
  if (!diffs.empty()) {
    out.report += "  after the last turn (expect_end)\n";
    for (const auto& d : diffs) out.report += "    " + d + "\n";
    return out;
  }
  out.passed = true;
  return out;
}

}  // namespace

ReplayResult ReplayFixture(const Fixture& fixture, const ReplayOptions& options) {
  auto started = std::chrono::steady_clock::now();
  ReplayResult r;
  try {
    r = Replay(fixture, options);
  } catch (const std::exception& e) {
    // A bug in the code under replay, not in the fixture: still one failed line, not a crash.
    r.name = fixture.name;
    r.file = fixture.file;
    r.passed = false;
    r.report = std::string("  the replay threw: ") + e.what() + "\n";
  }
  r.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count();
  return r;
}

ReplayResult ReplayFile(const std::string& path, const ReplayOptions& options) {
  auto fixture = LoadFixture(path);
  if (!fixture) {
    ReplayResult r;
    r.name = std::filesystem::path(path).stem().string();
    r.file = path;
    r.report = "  " + fixture.error().message + "\n";
    return r;
  }
  return ReplayFixture(*fixture, options);
}

Result<std::vector<std::string>> FindFixtureFiles(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (fs::recursive_directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().extension() == ".json") {
          found.push_back(it->path().string());
        }
      }
      if (ec) return Error::Unavailable(p + ": " + ec.message());
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      out.push_back(p);
    } else {
      return Error::NotFound(p + ": no such file or folder");
    }
  }
  return out;
}

int RunReplayCommand(const std::vector<std::string>& paths, const ReplayCommandOptions& options,
                     std::ostream& out) {
  auto files = FindFixtureFiles(paths);
  if (!files) {
    out << "replay: " << files.error().message << "\n";
    return 2;
  }
  int passed = 0, failed = 0;
  for (const auto& file : *files) {
    auto fixture = LoadFixture(file);
    std::string name = fixture ? fixture->name : std::filesystem::path(file).stem().string();
    if (!options.filter.empty() && name.find(options.filter) == std::string::npos &&
        file.find(options.filter) == std::string::npos) {
      continue;
    }
    ReplayResult r;
    if (fixture) {
      r = ReplayFixture(*fixture, options.replay);
    } else {
      r.name = name;
      r.file = file;
      r.report = "  " + fixture.error().message + "\n";
    }
    out << (r.passed ? "PASS " : "FAIL ") << r.name << " (" << r.elapsed_ms << " ms)\n";
    if (!r.passed) {
      out << "  " << r.file << "\n";
    }
    if (!r.passed || options.replay.verbose) out << r.report;
    (r.passed ? passed : failed)++;
  }
  if (passed + failed == 0) {
    out << "replay: no fixtures selected\n";
    return 2;
  }
  out << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace depositbot
