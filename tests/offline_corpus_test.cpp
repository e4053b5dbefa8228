// The offline model's phrase corpus (issue 16): tests/data/offline_corpus.json lists how people
// write to the bot in English and Korean — typos, informal forms, amount and name in any order —
// each with the tool call or the question it must produce. A phrasing with "after" is the reply
// to the question the "after" message got: the half-given request is completed.
//
// Coverage: running this binary prints every phrasing with its outcome, one per line
//   build-test/tests/offline_corpus_test
// ("ok" or "FAIL", the phrasing, then the call, question, help or "not understood").
#include <doctest/doctest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "agent/offline_intent.h"

using namespace depositbot;
using nlohmann::json;

namespace {

std::string Outcome(const OfflineIntent& i) {
  switch (i.kind) {
    case OfflineIntent::Kind::kCall:
      return i.tool + " " + i.args.dump();
    case OfflineIntent::Kind::kQuestion:
      return "asks for " + i.missing + ": " + i.question;
    case OfflineIntent::Kind::kHelp:
      return "help";
    case OfflineIntent::Kind::kNone:
      break;
  }
  return "not understood";
}

bool Matches(const OfflineIntent& got, const json& expect) {
  if (expect.is_string() && expect == "none") return got.kind == OfflineIntent::Kind::kNone;
  if (expect.contains("call")) {
    return got.kind == OfflineIntent::Kind::kCall && got.tool == expect["call"] &&
           got.args == expect["args"];
  }
  if (expect.contains("ask")) {
    return got.kind == OfflineIntent::Kind::kQuestion && got.missing == expect["ask"];
  }
  if (expect.contains("help")) return got.kind == OfflineIntent::Kind::kHelp;
  return false;
}

}  // namespace

TEST_CASE("the offline model understands every phrasing of the corpus, in English and Korean") {
  std::ifstream in(DEPOSITBOT_CORPUS_PATH);
  REQUIRE(in);
  const json corpus = json::parse(in);
  REQUIRE(corpus.is_array());
  CHECK(corpus.size() >= 150);
  size_t passed = 0, korean = 0;
  std::map<std::string, size_t> per_kind;
  for (const auto& entry : corpus) {
    const std::string say = entry.at("say");
    OfflineContext context;
    context.admin = entry.value("admin", false);
    if (entry.contains("after")) {
      context.previous_user = entry["after"];
      OfflineIntent first = UnderstandMessage(context.previous_user, {"", "", context.admin});
      CAPTURE(context.previous_user);
      CHECK(first.kind == OfflineIntent::Kind::kQuestion);  // the question this phrasing answers
      context.previous_assistant = first.question;
    }
    OfflineIntent got = UnderstandMessage(say, context);
    const bool ok = Matches(got, entry.at("expect"));
    passed += ok;
    korean += HasHangul(say);
    const json& e = entry["expect"];
    per_kind[e.is_string() ? "not understood"
             : e.contains("call")
                 ? std::string(e["call"]) +
                       (e["args"].contains("action") ? "." + std::string(e["args"]["action"]) : "")
             : e.contains("ask") ? "asks for " + std::string(e["ask"])
                                 : "help"]++;
    std::cout << (ok ? "ok   " : "FAIL ") << say
              << (entry.contains("after") ? "   (after \"" + context.previous_user + "\")" : "")
              << "\n       -> " << Outcome(got) << "\n";
    CAPTURE(say);
    CAPTURE(Outcome(got));
    CHECK_MESSAGE(ok, "expected " << entry["expect"].dump());
  }
  std::cout << "\n"
            << passed << " of " << corpus.size() << " phrasings understood (" << korean
            << " in Korean)\n";
  for (const auto& [kind, n] : per_kind) std::cout << "  " << n << "  " << kind << "\n";
}
