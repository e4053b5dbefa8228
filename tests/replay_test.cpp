// The fixture format, the replay runner (in-process) and `depositbot replay` as a real process.
#include "app/replay.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "app/fixture.h"
#include "common/log.h"
#include "registrar/fixture_registrar.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using nlohmann::json;

namespace {

using depositbot::testing::Contains;

std::string SourceDir() {
  const char* dir = std::getenv("DEPOSITBOT_SOURCE_DIR");
  return dir ? dir : ".";
}

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  return json::parse(in);
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  REQUIRE(out);
  out << text;
}

struct Run {
  int exit_code = -1;
  std::string out;
};

// Runs the depositbot binary in `dir` with extra environment; stdout captured, stderr dropped.
Run Depositbot(const std::string& dir, std::vector<std::string> args,
               std::vector<std::pair<std::string, std::string>> env = {}) {
  const char* bin = std::getenv("DEPOSITBOT_BIN");
  REQUIRE(bin);
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(out[0]);
    dup2(out[1], 1);
    FILE* null = std::fopen("/dev/null", "w");
    if (null) dup2(fileno(null), 2);
    if (chdir(dir.c_str()) != 0) _exit(126);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv{const_cast<char*>(bin)};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin, argv.data());
    _exit(127);
  }
  close(out[1]);
  Run r;
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;)
    r.out.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A small valid fixture the tests below bend one way or another.
json BalanceFixture() {
  return json::parse(R"({
    "name": "unit/balance",
    "users": [{"telegram_id": 1001, "name": "Alice", "balance": "50.00"}],
    "turns": [{
      "from": 1001, "say": "balance?",
      "model": [{"tool_calls": [{"name": "manage_deposit", "arguments": {"action": "balance"}}]},
                "You have 50.00 USD."],
      "expect": {"reply": "You have 50.00 USD.", "calls": [{"name": "manage_deposit", "ok": true}]}
    }],
    "expect_end": {"balances": {"Alice": "50.00"}, "reconciliation": "clean"}
  })");
}

ReplayResult ReplayJson(const json& j) {
  auto f = ParseFixture(j);
  REQUIRE_MESSAGE(f.ok(), (f.ok() ? "" : f.error().message));
  return ReplayFixture(*f);
}

struct QuietLogs {
  QuietLogs() { SetLogEnabled(false); }
  ~QuietLogs() { SetLogEnabled(true); }
};

// BalanceFixture bent one way; ParseFixture must refuse it with `says` at `path`.
struct BentFixture {
  const char* what;
  std::function<void(json&)> change;
  const char* path;
};

void ExpectRefusedAt(const std::vector<BentFixture>& cases, const std::string& says) {
  for (const auto& c : cases) {
    CAPTURE(c.what);
    json j = BalanceFixture();
    c.change(j);
    auto f = ParseFixture(j);
    REQUIRE_FALSE(f.ok());
    CAPTURE(f.error().message);
    CHECK(Contains(f.error().message, std::string(c.path) + says));
  }
}

}  // namespace

TEST_CASE("the fixture library holds at least 30 conversations and every one replays clean") {
  QuietLogs quiet;
  auto files = FindFixtureFiles({SourceDir() + "/fixtures"});
  REQUIRE(files.ok());
  CHECK(files->size() >= 30);
  for (const auto& file : *files) {
    ReplayResult r = ReplayFile(file);
    CHECK_MESSAGE(r.passed, file << "\n" << r.report);
  }
}

TEST_CASE("a copy with one altered expectation fails with a diff pointing at that turn") {
  std::string dir = testing::MakeTempDir();
  json j =
      ReadJson(SourceDir() + "/fixtures/domains/purchase-timeout-then-recovery-registers.json");
  REQUIRE(j["turns"].size() == 3);
  j["turns"][2]["expect"]["recovery"]["registered"] = 0;  // it does register
  WriteFile(dir + "/altered.json", j.dump(2));

  SUBCASE("in-process") {
    QuietLogs quiet;
    ReplayResult r = ReplayFile(dir + "/altered.json");
    CHECK_FALSE(r.passed);
    CHECK(r.failed_turn == 3);
    CHECK(Contains(r.report, "turn 3 of 3 ($.turns[2]) — the recovery job ran"));
    CHECK(Contains(r.report, "recovery.registered: expected 0, got 1"));
  }
  SUBCASE("the binary") {
    Run run = Depositbot(dir, {"replay", dir + "/altered.json"});
    CHECK(run.exit_code == 1);
    CHECK(Contains(run.out, "FAIL domains/purchase-timeout-then-recovery-registers ("));
    CHECK(Contains(run.out, dir + "/altered.json"));
    CHECK(Contains(run.out, "turn 3 of 3"));
    CHECK(Contains(run.out, "recovery.registered: expected 0, got 1"));
    CHECK(Contains(run.out, "0 passed, 1 failed"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("the diff names who said what, the expected and the actual reply") {
  QuietLogs quiet;
  json j = BalanceFixture();
  j["turns"][0]["expect"]["reply"] = "You have 51.00 USD.";
  ReplayResult r = ReplayJson(j);
  CHECK_FALSE(r.passed);
  CHECK(r.failed_turn == 1);
  CHECK(Contains(r.report, "Alice (1001) said: \"balance?\""));
  CHECK(Contains(r.report, "reply: expected \"You have 51.00 USD.\""));
  CHECK(Contains(r.report, "got      \"You have 50.00 USD.\""));
  CHECK(Contains(r.report, "[0] manage_deposit {\"action\":\"balance\"} -> ok"));
}

TEST_CASE("replay stops at the first turn that differs and skips the end expectations") {
  QuietLogs quiet;
  json j = BalanceFixture();
  j["turns"][0]["expect"]["calls"][0]["name"] = "check_domain";
  j["turns"].push_back(j["turns"][0]);  // would differ too
  j["expect_end"]["balances"]["Alice"] = "1.00";
  ReplayResult r = ReplayJson(j);
  CHECK(r.failed_turn == 1);
  CHECK(Contains(r.report, "calls[0].name: expected \"check_domain\", got \"manage_deposit\""));
  CHECK_FALSE(Contains(r.report, "turn 2"));
  CHECK_FALSE(Contains(r.report, "expect_end"));
}

TEST_CASE("a failing end expectation is reported after the last turn") {
  QuietLogs quiet;
  json j = BalanceFixture();
  j["expect_end"]["balances"]["Alice"] = "49.99";
  j["expect_end"]["ledger"] = {{"deposit/confirmed", 2}};
  ReplayResult r = ReplayJson(j);
  CHECK_FALSE(r.passed);
  CHECK(r.failed_turn == 0);
  CHECK(Contains(r.report, "after the last turn (expect_end)"));
  CHECK(Contains(r.report, "balances.1001 (Alice): expected 49.99 USD, got 50.00 USD"));
  CHECK(Contains(r.report, "ledger.deposit/confirmed: expected 2 rows, got 1"));
}

TEST_CASE("a scripted reply the code never asked for is a failure") {
  QuietLogs quiet;
  json j = BalanceFixture();
  j["turns"][0]["model"].push_back("an extra reply");
  ReplayResult r = ReplayJson(j);
  CHECK_FALSE(r.passed);
  CHECK(r.failed_turn == 1);
  CHECK(Contains(r.report,
                 "has 3 replies but the code asked for only 2; reply #3 (\"an extra "
                 "reply\") was never asked for"));
}

TEST_CASE("a slash command does not consume scripted replies, so replies given to it are unused") {
  QuietLogs quiet;
  json j = BalanceFixture();
  j["turns"][0]["say"] = "/balance";
  j["turns"][0]["expect"] = json::object();
  ReplayResult r = ReplayJson(j);
  CHECK_FALSE(r.passed);
  CHECK(Contains(r.report, "has 2 replies but the code asked for only 0"));
}

TEST_CASE("a model request the fixture has no reply for is a failure") {
  QuietLogs quiet;
  json j = BalanceFixture();
  j["turns"][0]["model"].erase(1);
  j["turns"][0].erase("expect");
  ReplayResult r = ReplayJson(j);
  CHECK_FALSE(r.passed);
  CHECK(Contains(r.report, "the code asked the model for reply #2 of this turn"));
  CHECK(Contains(r.report, "scripted model has no reply for that request"));
}

TEST_CASE("a registrar question the fixture does not answer is a failure") {
  QuietLogs quiet;
  json j = BalanceFixture();
  j["registrar"] = {{"prices", {{"com", "10.28"}}}};
  j["turns"][0] = {{"from", 1001}, {"say", "/domain unlisted-name.com"}};
  ReplayResult r = ReplayJson(j);
  CHECK_FALSE(r.passed);
  CHECK(Contains(r.report, "registrar: the registrar was asked about unlisted-name.com"));
}

TEST_CASE("malformed fixtures are refused with the JSON path, not a crash") {
  json j = BalanceFixture();
  SUBCASE("an unknown key") {
    j["turns"][0]["expect"]["calls"][0]["argumnets"] = json::object();
    auto f = ParseFixture(j);
    REQUIRE_FALSE(f.ok());
    CHECK(Contains(f.error().message, "$.turns[0].expect.calls[0]: unknown key \"argumnets\""));
  }
  SUBCASE("a wrong type") {
    j["users"][0]["telegram_id"] = "1001";
    auto f = ParseFixture(j);
    REQUIRE_FALSE(f.ok());
    CHECK(
        Contains(f.error().message, "$.users[0].telegram_id: expected an integer, found a string"));
  }
  SUBCASE("an amount that does not parse") {
    j["expect_end"]["balances"]["Alice"] = "fifty";
    auto f = ParseFixture(j);
    REQUIRE_FALSE(f.ok());
    CHECK(Contains(f.error().message, "$.expect_end.balances.Alice"));
  }
  SUBCASE("a speaker the fixture does not list") {
    j["turns"][0]["from"] = 4242;
    auto f = ParseFixture(j);
    REQUIRE_FALSE(f.ok());
    CHECK(Contains(f.error().message, "$.turns[0].from: no user with telegram_id 4242"));
  }
  SUBCASE("a model reply the scripted model would refuse") {
    j["turns"][0]["model"][0] = 17;
    auto f = ParseFixture(j);
    REQUIRE_FALSE(f.ok());
    CHECK(Contains(f.error().message, "$.turns[0].model[0]"));
  }
  SUBCASE("an invalid regular expression") {
    j["turns"][0]["expect"]["reply_matches"] = "([unclosed";
    auto f = ParseFixture(j);
    REQUIRE_FALSE(f.ok());
    CHECK(Contains(f.error().message, "$.turns[0].expect.reply_matches"));
  }
  SUBCASE("a fair-use setting out of its range") {
    j["settings"]["fair_use"] = {{"message_burst", 0}};
    auto f = ParseFixture(j);
    REQUIRE_FALSE(f.ok());
    CHECK(Contains(f.error().message,
                   "$.settings.fair_use.message_burst: must be between 1 and 100000"));
  }
  SUBCASE("model replies on a button press") {
    j["turns"][0] = {{"from", 1001}, {"press", "confirm_purchase"}, {"model", json::array()}};
    auto f = ParseFixture(j);
    REQUIRE_FALSE(f.ok());
    CHECK(Contains(f.error().message, "$.turns[0].model: only a \"say\" turn reaches the model"));
  }
}

TEST_CASE("an integer past the int64 range is refused naming its path, not wrapped to -1") {
  // nlohmann reads 18446744073709551615 as an unsigned integer; read as int64_t it was -1, so an
  // adjustment of that many minor units started the books 0.01 down.
  const uint64_t past = 18'446'744'073'709'551'615u;
  ExpectRefusedAt(
      {
          {"an adjustment in minor units",
           [&](json& j) {
             j["users"][0]["ledger"] = json::array({{{"type", "adjustment"}, {"amount", past}}});
             j["users"][0].erase("balance");
           },
           "$.users[0].ledger[0].amount"},
          {"a Telegram id", [&](json& j) { j["users"][0]["telegram_id"] = past; },
           "$.users[0].telegram_id"},
          {"a start time", [&](json& j) { j["settings"]["start"] = past; }, "$.settings.start"},
          {"a speaker", [&](json& j) { j["turns"][0]["from"] = past; }, "$.turns[0].from"},
      },
      ": is past the largest integer");
}

TEST_CASE("the binary reports a file that is not JSON as a failed fixture naming the file") {
  std::string dir = testing::MakeTempDir();
  WriteFile(dir + "/broken.json", "{\"users\": [");
  WriteFile(dir + "/huge.json", R"({"users": [], "turns": [{"advance_seconds": 1e999}]})");
  WriteFile(dir + "/bad-key.json",
            R"({"users": [], "turns": [{"advance_seconds": 1}], "extra": 1})");
  Run run = Depositbot(dir, {"replay", dir});
  CHECK(run.exit_code == 1);
  CHECK(Contains(run.out, "FAIL broken"));
  CHECK(Contains(run.out, dir + "/broken.json: not valid JSON"));
  CHECK(Contains(run.out, dir + "/huge.json: not valid JSON"));  // a number no double holds
  CHECK(Contains(run.out, "FAIL bad-key"));
  CHECK(Contains(run.out, "$: unknown key \"extra\""));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a fixture file with a key written twice in one object is refused naming the key") {
  // Read as JSON, the second "expect" would replace the first and drop its checks unseen.
  std::string dir = testing::MakeTempDir();
  const std::string path = dir + "/twice.json";
  WriteFile(path, R"({"users": [{"telegram_id": 1001, "name": "Alice"}],
    "turns": [{"from": 1001, "say": "hi", "model": ["Hello."],
               "expect": {"reply": "Goodbye."}, "expect": {"ok": true}}]})");
  auto f = LoadFixture(path);
  REQUIRE_FALSE(f.ok());
  CHECK(f.error().message == path + ": the key \"expect\" appears twice in one object");
  // The same key in two different objects is no repetition.
  WriteFile(path, R"({"users": [{"telegram_id": 1001, "name": "Alice"}],
    "turns": [{"from": 1001, "say": "hi", "model": ["Hello."], "expect": {"ok": true}},
              {"from": 1001, "say": "hi", "model": ["Hello."], "expect": {"ok": true}}]})");
  CHECK(LoadFixture(path).ok());
  std::filesystem::remove_all(dir);
}

TEST_CASE("replay needs no database and no configuration, and exits 0 when all pass") {
  std::string dir = testing::MakeTempDir();
  WriteFile(dir + "/ok.json", BalanceFixture().dump());
  // A database path that cannot be opened and a configuration `serve` would refuse.
  Run run = Depositbot(dir, {"replay", dir},
                       {{"DEPOSITBOT_DB", "/nonexistent/dir/depositbot.db"},
                        {"CURRENCY", "NOPE"},
                        {"LLM_BASE_URL", "http://192.0.2.1:9"}});
  CHECK(run.exit_code == 0);
  CHECK(Contains(run.out, "PASS unit/balance ("));
  CHECK(Contains(run.out, "1 passed, 0 failed"));
  CHECK_FALSE(std::filesystem::exists(dir + "/depositbot.db"));

  SUBCASE("--filter selects by name") {
    Run none = Depositbot(dir, {"replay", "--filter", "no-such-fixture", dir});
    CHECK(none.exit_code == 2);
    CHECK(Contains(none.out, "no fixtures selected"));
  }
  SUBCASE("a missing path") {
    Run missing = Depositbot(dir, {"replay", dir + "/missing"});
    CHECK(missing.exit_code == 2);
    CHECK(Contains(missing.out, "no such file or folder"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("the fixture registrar plays create outcomes and getInfo answers in order") {
  FixtureRegistrar::Script script;
  script.prices["com"] = {10'280'000, 180'000};
  FixtureRegistrar::DomainScript d;
  d.available = true;
  FixtureRegistrar::CreateAnswer timeout;
  timeout.outcome = FixtureRegistrar::CreateAnswer::Outcome::kTimeout;
  timeout.registered = true;
  d.create = {timeout};
  d.info = {FixtureRegistrar::InfoAnswer::kUnavailable, FixtureRegistrar::InfoAnswer::kAuto};
  script.domains["late-answer.com"] = d;
  FixtureRegistrar::DomainScript refused;
  refused.available = true;
  FixtureRegistrar::CreateAnswer failure;
  failure.outcome = FixtureRegistrar::CreateAnswer::Outcome::kFailure;
  failure.error_number = 3019166;
  failure.message = "Domain not available";
  refused.create = {failure};
  script.domains["refused-name.com"] = refused;
  FixtureRegistrar r(script);

  auto price = r.Price("com", 2);
  REQUIRE(price);
  CHECK(price->total_usd_micros == 2 * (10'280'000 + 180'000));

  auto created = r.Create({"late-answer.com", 1, 0});
  REQUIRE_FALSE(created);
  CHECK(created.error().OutcomeUnknown());
  auto first = r.GetInfo("late-answer.com");
  REQUIRE_FALSE(first);
  CHECK(first.error().kind == RegistrarFailure::Kind::kTransport);
  auto second = r.GetInfo("late-answer.com");
  REQUIRE(second);
  CHECK(second->is_ours);
  auto check = r.Check({"late-answer.com"});
  REQUIRE(check);
  CHECK_FALSE(check->front().available);  // ours now

  auto definite = r.Create({"refused-name.com", 1, 0});
  REQUIRE_FALSE(definite);
  CHECK(definite.error().Definite());
  CHECK(definite.error().kind == RegistrarFailure::Kind::kDomainNotAvailable);
  CHECK(definite.error().number == 3019166);
  auto info = r.GetInfo("refused-name.com");
  REQUIRE_FALSE(info);
  CHECK(info.error().kind == RegistrarFailure::Kind::kNotFound);

  CHECK(r.creates() == 2);
  CHECK(r.Registered() == std::vector<std::string>{"late-answer.com"});
  CHECK(r.Gaps().empty());
  (void)r.Price("dev", 1);
  REQUIRE(r.Gaps().size() == 1);
  CHECK(Contains(r.Gaps()[0], ".dev"));
}

TEST_CASE("a fixture time that would overflow the fixed clock is refused naming its path") {
  ExpectRefusedAt(
      {
          {"start past 9999",
           [](json& j) { j["settings"]["start"] = int64_t{9'223'372'036'854'775}; },
           "$.settings.start"},
          {"start before 1970", [](json& j) { j["settings"]["start"] = -1; }, "$.settings.start"},
          {"quote ttl past a year",
           [](json& j) { j["settings"]["quote_ttl_seconds"] = int64_t{9'223'372'036'854'775'807}; },
           "$.settings.quote_ttl_seconds"},
          {"advance past a year",
           [](json& j) {
             j["turns"].push_back(json{{"advance_seconds", int64_t{9'223'372'036'854'775}}});
           },
           "$.turns[1].advance_seconds"},
          {"recovery age past a year",
           [](json& j) {
             j["turns"].push_back(
                 json{{"run", "recovery"}, {"min_age_seconds", int64_t{31'536'001}}});
           },
           "$.turns[1].min_age_seconds"},
      },
      "");
  json year = BalanceFixture();
  year["settings"]["quote_ttl_seconds"] = 31'536'000;
  year["turns"].push_back(json{{"advance_seconds", 31'536'000}});
  CHECK(ParseFixture(year).ok());
}
