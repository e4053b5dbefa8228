#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "app/fixture.h"
#include "common/result.h"

namespace depositbot {

struct ReplayOptions {
  bool verbose = false;  // also describe every turn of a passing fixture
};

// What replaying one fixture came to.
struct ReplayResult {
  std::string name;
  std::string file;
  bool passed = false;
  // The first turn that differed, counting from 1; 0 when the failure is not a turn's (the
  // file, the starting state or the end expectations).
  int failed_turn = 0;
  // For a failure: where, who did what, and each expectation as expected vs actual, one
  // indented line each. Empty when passed (unless verbose).
  std::string report;
  int64_t elapsed_ms = 0;
};

// Replays one fixture: a fresh in-memory database, a fixed clock at settings.start, the
// production tools, agent and rule-based model for slash commands, a ScriptedChatModel holding
// each turn's replies and a FixtureRegistrar — no network, no configuration. Stops at the first
// turn that differs from its expectations; the end expectations are checked only when every
// turn held. A model reply the turn did not use, a model request the turn had no reply for and
// a registrar question the fixture does not answer are differences too. Never throws for a bad
// fixture or a failing expectation.
ReplayResult ReplayFixture(const Fixture& fixture, const ReplayOptions& options = {});

// LoadFixture + ReplayFixture; a file that does not load is a failed result naming it.
ReplayResult ReplayFile(const std::string& path, const ReplayOptions& options = {});

// The fixture files under `paths`: a file is taken as given, a folder is searched recursively
// for *.json; sorted within each folder. A path that does not exist is kNotFound.
Result<std::vector<std::string>> FindFixtureFiles(const std::vector<std::string>& paths);

struct ReplayCommandOptions {
  ReplayOptions replay;
  std::string filter;  // only fixtures whose name or path contains this
};

// `depositbot replay`: one line per fixture ("PASS name (3 ms)" / "FAIL name (3 ms)" followed by
// its report) and a summary line, on `out`. Returns the exit status: 0 when every fixture
// passed, 1 when one failed, 2 when a path is missing or nothing was selected.
int RunReplayCommand(const std::vector<std::string>& paths, const ReplayCommandOptions& options,
                     std::ostream& out);

}  // namespace depositbot
