// Every seed and every saved crash input of each fuzz target (tests/fuzz/corpus/NAME/) runs
// through that target's entry point in the normal build, so a crash the fuzzer once found
// stays fixed. The entry points are the fuzz sources compiled with DEPOSITBOT_FUZZ_ENTRY
// renamed (tests/reliability.cmake); a property they check aborts the process, which CTest
// reports as a failure naming the input last printed.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "agent/openai_chat_model.h"
#include "common/money.h"
#include "registrar/namecheap_xml.h"

#define DEPOSITBOT_FUZZ_TARGET(name) extern "C" int DepositbotFuzz_##name(const uint8_t*, size_t);
#include "fuzz_targets.inc"
#undef DEPOSITBOT_FUZZ_TARGET

namespace {

using Entry = int (*)(const uint8_t*, size_t);
struct Target {
  const char* name;
  Entry entry;
};
const Target kTargets[] = {
#define DEPOSITBOT_FUZZ_TARGET(name) {#name, &DepositbotFuzz_##name},
#include "fuzz_targets.inc"
#undef DEPOSITBOT_FUZZ_TARGET
};

std::filesystem::path CorpusRoot() {
  const char* src = std::getenv("DEPOSITBOT_SOURCE_DIR");
  return std::filesystem::path(src && *src ? src : ".") / "tests" / "fuzz" / "corpus";
}

int Run(Entry entry, const std::string& bytes) {
  return entry(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

TEST_CASE("every corpus file of every fuzz target runs through its entry point cleanly") {
  int files = 0;
  for (const auto& t : kTargets) {
    auto dir = CorpusRoot() / t.name;
    INFO("target " << t.name << " corpus " << dir.string());
    REQUIRE(std::filesystem::is_directory(dir));
    int here = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir)) {
      if (!f.is_regular_file()) continue;
      std::ifstream in(f.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::fprintf(stderr, "fuzz_regression: %s\n", f.path().c_str());
      CHECK(Run(t.entry, bytes) == 0);
      ++here;
    }
    CHECK(here > 0);
    files += here;
  }
  MESSAGE(files << " corpus files through " << std::size(kTargets) << " targets");
}

TEST_CASE("empty and one-byte inputs are harmless for every target") {
  for (const auto& t : kTargets) {
    CHECK(Run(t.entry, "") == 0);
    for (int b = 0; b < 256; ++b) CHECK(Run(t.entry, std::string(1, static_cast<char>(b))) == 0);
  }
}

// Bugs the fuzzers found, pinned by name as well as by their corpus file.

TEST_CASE("a price conversion beyond 128 bits is refused, not overflowed (decimal/seed-09)") {
  using namespace depositbot;
  Decimal huge{1'000'000'000'000'000, 0};
  auto r = ConvertUsdMicros(1'000'000'000'000'000, huge, huge, Currency{"BHD", 3});
  REQUIRE_FALSE(r);
  CHECK(r.code() == ErrorCode::kInvalid);
  CHECK(*ConvertUsdMicros(10'280'000, Decimal{13505, 1}, Decimal{25, 1}, Currency{"KRW", 0}) ==
        14231);
}

TEST_CASE(
    "absurd usage figures from a model server are clamped, not undefined "
    "(chat_completion/crash-usage-*)") {
  using namespace depositbot;
  TestEnvironment env;
  auto r = ParseChatCompletion(
      R"({"choices":[{"message":{"role":"assistant","content":"x"}}],)"
      R"("usage":{"prompt_tokens":1e300,"completion_tokens":9223372036854775807}})",
      env);
  REQUIRE(r);
  CHECK(r->usage.prompt_tokens == int64_t{1} << 53);
  CHECK(r->usage.completion_tokens == int64_t{1} << 53);
  CHECK(r->usage.total_tokens == int64_t{1} << 54);
  auto negative = ParseChatCompletion(
      R"({"choices":[{"message":{"role":"assistant","content":"x"}}],)"
      R"("usage":{"prompt_tokens":-5,"completion_tokens":2.5,"total_tokens":0}})",
      env);
  REQUIRE(negative);
  CHECK(negative->usage.prompt_tokens == 0);
  CHECK(negative->usage.total_tokens == 2);
}

TEST_CASE(
    "a getList page with huge paging figures ends the listing, not an overflow "
    "(namecheap_xml/crash-list-paging-overflow.xml)") {
  using namespace depositbot;
  auto last = [](const std::string& total, const std::string& current, const std::string& size) {
    auto page = ParseListResponse(
        "<ApiResponse Status=\"OK\"><CommandResponse><DomainGetListResult>"
        "<Domain Name=\"a.com\"/></DomainGetListResult><Paging><TotalItems>" +
        total + "</TotalItems><CurrentPage>" + current + "</CurrentPage><PageSize>" + size +
        "</PageSize></Paging></CommandResponse></ApiResponse>");
    REQUIRE(page);
    return page->last;
  };
  const std::string big = "999999999999999999";  // 18 digits, the most ParseInt reads
  CHECK(last(big, big, big));
  CHECK(last(big, "1", big));
  CHECK_FALSE(last(big, "1", "100"));
  CHECK_FALSE(last("250", "2", "100"));
  CHECK(last("250", "3", "100"));
  CHECK(last("200", "2", "100"));
}
