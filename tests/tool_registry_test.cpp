#include "tools/tool_registry.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"

using namespace depositbot;
using nlohmann::json;

namespace {

struct BalanceArgs {
  std::string action;
  std::optional<int64_t> transaction_id;
};

const ArgSchema<BalanceArgs>& BalanceSchema() {
  static const auto s =
      ArgSchema<BalanceArgs>()
          .Enum("action", &BalanceArgs::action, {"balance"}, {.admin_values = {"confirm"}})
          .OptionalInt("transaction_id", &BalanceArgs::transaction_id, {.min = 1});
  return s;
}

ToolContext User() { return {.user_id = 7, .telegram_id = 7007, .display_name = "Kim"}; }
ToolContext Admin() {
  return {.user_id = 1, .telegram_id = 1001, .display_name = "Op", .is_admin = true};
}

// A registry with: manage_deposit (everyone, echoes who called), reconcile (admin only),
// explode (throws), and a hand-written raw tool.
ToolRegistry MakeRegistry() {
  ToolRegistry r;
  r.Register(MakeTool<BalanceArgs>("manage_deposit", "balances and deposits", BalanceSchema(),
                                   [](const ToolContext& ctx, const BalanceArgs& a) {
                                     if (a.action == "confirm" && !ctx.is_admin) {
                                       return ToolResult::Failure("forbidden", "admins only");
                                     }
                                     return ToolResult::Success({{"user_id", ctx.user_id},
                                                                 {"telegram_id", ctx.telegram_id},
                                                                 {"action", a.action}});
                                   }));
  Tool reconcile = MakeTool<NoArgs>("reconcile", "run a reconciliation", ArgSchema<NoArgs>(),
                                    [](const ToolContext&, const NoArgs&) {
                                      return ToolResult::Success({{"clean", true}});
                                    });
  reconcile.admin_only = true;
  r.Register(std::move(reconcile));
  r.Register(MakeTool<NoArgs>(
      "explode", "always throws", ArgSchema<NoArgs>(),
      [](const ToolContext&, const NoArgs&) -> ToolResult { throw std::runtime_error("boom"); }));
  Tool raw;
  raw.name = "raw";
  raw.description = "hand-written";
  raw.invoke = [](const ToolContext&, const json& args) {
    return ToolResult::Success({{"keys", args.size()}});
  };
  r.Register(std::move(raw));
  return r;
}

json Content(const ToolResult& r) { return json::parse(r.ToModelContent()); }

// Runs `fn` with stderr sent to a temporary file and returns what was written there.
template <typename Fn>
std::string CaptureStderr(Fn fn) {
  std::fflush(stderr);
  std::FILE* tmp = std::tmpfile();
  REQUIRE(tmp != nullptr);
  const int saved = dup(fileno(stderr));
  dup2(fileno(tmp), fileno(stderr));
  fn();
  std::fflush(stderr);
  dup2(saved, fileno(stderr));
  close(saved);
  std::string out;
  std::rewind(tmp);
  for (int c = std::fgetc(tmp); c != EOF; c = std::fgetc(tmp)) out += static_cast<char>(c);
  std::fclose(tmp);
  return out;
}

struct QuietLogs {
  QuietLogs() { SetLogEnabled(false); }
  ~QuietLogs() { SetLogEnabled(true); }
};

}  // namespace

TEST_CASE("a non-admin is offered only non-admin tools, with non-admin parameters") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  json tools = r.Schemas(User());
  REQUIRE(tools.is_array());
  REQUIRE(tools.size() == 3);
  CHECK(tools[0]["type"] == "function");
  CHECK(tools[0]["function"]["name"] == "manage_deposit");
  CHECK(tools[0]["function"]["description"] == "balances and deposits");
  CHECK(tools[0]["function"]["parameters"]["properties"]["action"]["enum"] ==
        json::array({"balance"}));
  CHECK_FALSE(tools.dump().find("reconcile") != std::string::npos);
  CHECK(r.Names(User()) == std::vector<std::string>{"manage_deposit", "explode", "raw"});
}

TEST_CASE("an admin is offered every tool with admin parameters") {
  ToolRegistry r = MakeRegistry();
  json tools = r.Schemas(Admin());
  REQUIRE(tools.size() == 4);
  CHECK(tools[0]["function"]["parameters"]["properties"]["action"]["enum"] ==
        json::array({"balance", "confirm"}));
  CHECK(tools[1]["function"]["name"] == "reconcile");
  CHECK(r.Names(Admin()) ==
        std::vector<std::string>{"manage_deposit", "reconcile", "explode", "raw"});
}

TEST_CASE("a tool without a parameters schema is offered an empty object schema") {
  ToolRegistry r = MakeRegistry();
  json raw = r.Schemas(User())[2]["function"];
  CHECK(raw["name"] == "raw");
  CHECK(raw["parameters"] == json({{"type", "object"},
                                   {"properties", json::object()},
                                   {"required", json::array()},
                                   {"additionalProperties", false}}));
}

TEST_CASE("an empty registry offers an empty tools array") {
  ToolRegistry r;
  CHECK(r.Schemas(User()) == json::array());
  CHECK(r.Names(User()).empty());
}

TEST_CASE("a valid call reaches the handler with the session's user") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  ToolResult res = r.Invoke(User(), "manage_deposit", R"({"action":"balance"})");
  CHECK(res.ok);
  CHECK(Content(res) ==
        json({{"ok", true}, {"user_id", 7}, {"telegram_id", 7007}, {"action", "balance"}}));
}

TEST_CASE("arguments cannot name another user: user_id is an unknown field") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  ToolResult res =
      r.Invoke(User(), "manage_deposit", R"({"action":"balance","user_id":1,"telegram_id":1001})");
  CHECK_FALSE(res.ok);
  json c = Content(res);
  CHECK(c["error"] == "invalid_arguments");
  REQUIRE(c["details"].size() == 2);
  CHECK(c["details"][0]["field"] == "telegram_id");
  CHECK(c["details"][1]["field"] == "user_id");
}

TEST_CASE("a non-admin cannot reach an admin enum value through the registry") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  ToolResult res = r.Invoke(User(), "manage_deposit", R"({"action":"confirm","transaction_id":3})");
  CHECK(res.error_code() == "invalid_arguments");
  ToolResult admin = r.Invoke(Admin(), "manage_deposit", R"({"action":"confirm"})");
  CHECK(admin.ok);
  CHECK(Content(admin)["user_id"] == 1);
}

TEST_CASE("an unknown tool is refused naming the tools available to the caller") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  ToolResult res = r.Invoke(User(), "get_weather", "{}");
  CHECK_FALSE(res.ok);
  json c = Content(res);
  CHECK(c["error"] == "unknown_tool");
  CHECK(c["message"].get<std::string>().find("get_weather") != std::string::npos);
  CHECK(c["details"]["available"] == json::array({"manage_deposit", "explode", "raw"}));
}

TEST_CASE("an admin-only tool called by a non-admin is forbidden") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  ToolResult res = r.Invoke(User(), "reconcile", "{}");
  CHECK_FALSE(res.ok);
  CHECK(res.error_code() == "forbidden");
  // Authority is checked before the arguments, so bad JSON does not change the answer.
  CHECK(r.Invoke(User(), "reconcile", "{oops").error_code() == "forbidden");
  CHECK(r.Invoke(Admin(), "reconcile", "").ok);
}

TEST_CASE("arguments that are not JSON are answered with a short parser message") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  ToolResult res = r.Invoke(User(), "manage_deposit", R"({"action":"balance")");
  CHECK_FALSE(res.ok);
  json c = Content(res);
  CHECK(c["error"] == "invalid_json");
  const std::string message = c["message"];
  CHECK(message.rfind("the arguments are not valid JSON: ", 0) == 0);
  CHECK(message.find("[json.exception") == std::string::npos);
  CHECK(message.size() < 250);
}

TEST_CASE("a number too large for any type is refused as invalid JSON, not thrown") {
  // Found by fuzz_tool_arguments: nlohmann throws out_of_range (not parse_error) for it.
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  ToolResult res = r.Invoke(User(), "manage_deposit", R"({"action":"deposit","amount":5e5555})");
  CHECK_FALSE(res.ok);
  json c = Content(res);
  CHECK(c["error"] == "invalid_json");
  const std::string message = c["message"];
  CHECK(message.rfind("the arguments are not valid JSON: ", 0) == 0);
  CHECK(message.find("[json.exception") == std::string::npos);
}

TEST_CASE("empty or blank arguments text means an empty object") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  CHECK(r.Invoke(User(), "raw", "").ok);
  CHECK(Content(r.Invoke(User(), "raw", " \n\t"))["keys"] == 0);
  // The schema still applies: {} lacks the required action.
  ToolResult res = r.Invoke(User(), "manage_deposit", "");
  CHECK(res.error_code() == "invalid_arguments");
  CHECK(Content(res)["details"][0]["field"] == "action");
}

TEST_CASE("arguments that are JSON but not an object are refused, even for a raw tool") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  for (const char* text : {"[]", "\"balance\"", "null", "42"}) {
    ToolResult res = r.Invoke(User(), "raw", text);
    CHECK(res.error_code() == "invalid_arguments");
    CHECK(Content(res)["details"][0]["field"] == "$");
  }
}

TEST_CASE("oversized arguments are refused without parsing") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  std::string huge = "{\"action\":\"" + std::string(ToolRegistry::kMaxArgumentsBytes, 'x') + "\"}";
  CHECK(r.Invoke(User(), "manage_deposit", huge).error_code() == "arguments_too_large");
}

TEST_CASE("a handler that throws becomes internal_error and does not propagate") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  ToolResult res;
  CHECK_NOTHROW(res = r.Invoke(User(), "explode", "{}"));
  CHECK_FALSE(res.ok);
  CHECK(res.error_code() == "internal_error");
  CHECK(res.ToModelContent().find("boom") == std::string::npos);  // no internals to the model
}

TEST_CASE("already-parsed arguments go through the same checks") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  CHECK(r.InvokeParsed(User(), "manage_deposit", {{"action", "balance"}}).ok);
  CHECK(r.InvokeParsed(User(), "manage_deposit", {{"action", 1}}).error_code() ==
        "invalid_arguments");
  CHECK(r.InvokeParsed(User(), "reconcile", json::object()).error_code() == "forbidden");
}

TEST_CASE("tool results are compact JSON with ok first") {
  ToolResult ok = ToolResult::Success({{"balance", "30,000 KRW"}, {"note", "a b"}});
  CHECK(ok.ToModelContent() == R"({"ok":true,"balance":"30,000 KRW","note":"a b"})");
  CHECK(ToolResult::Success().ToModelContent() == R"({"ok":true})");
  ToolResult bad = ToolResult::Failure("insufficient_funds", "balance too low", {{"need", 5}});
  CHECK(
      bad.ToModelContent() ==
      R"({"ok":false,"details":{"need":5},"error":"insufficient_funds","message":"balance too low"})");
  CHECK(ToolResult::Failure("x", "y").ToModelContent() ==
        R"({"ok":false,"error":"x","message":"y"})");
}

TEST_CASE("the ok flag is the result's, whatever the payload claims") {
  ToolResult r = ToolResult::Success({{"ok", false}, {"n", 1}});
  CHECK(r.ToModelContent() == R"({"ok":true,"n":1})");
  CHECK(ToolResult::Success(json::array({1, 2})).ToModelContent() ==
        R"({"ok":true,"result":[1,2]})");
}

TEST_CASE("invalid UTF-8 in a payload is replaced rather than thrown") {
  ToolResult r = ToolResult::Success({{"name", std::string("KIM\xFF")}});
  std::string content;
  CHECK_NOTHROW(content = r.ToModelContent());
  CHECK(content == "{\"ok\":true,\"name\":\"KIM\xEF\xBF\xBD\"}");
}

TEST_CASE("a ui side effect travels with the result but is not shown to the model") {
  ToolResult r = ToolResult::Success({{"quote_id", 9}})
                     .WithUi(PurchaseQuoteUi{9, "example.com", 1, "12.00 USD", 1767225600});
  REQUIRE(r.ui.has_value());
  REQUIRE(std::holds_alternative<PurchaseQuoteUi>(*r.ui));
  CHECK(std::get<PurchaseQuoteUi>(*r.ui).order_id == 9);
  CHECK(UiEventToJson(*r.ui)["kind"] == "purchase_quote");
  CHECK(r.ToModelContent() == R"({"ok":true,"quote_id":9})");
}

TEST_CASE("a common Error becomes a failure with its code name") {
  ToolResult r = ToolResult::FromError(Error::InsufficientFunds("balance is 10.00 USD"));
  CHECK_FALSE(r.ok);
  CHECK(r.error_code() == "insufficient_funds");
  CHECK(Content(r)["message"] == "balance is 10.00 USD");
}

TEST_CASE("registering a duplicate or badly named tool is a programming error") {
  ToolRegistry r = MakeRegistry();
  auto noop = [](const ToolContext&, const NoArgs&) { return ToolResult::Success(); };
  CHECK_THROWS_AS(r.Register(MakeTool<NoArgs>("raw", "again", ArgSchema<NoArgs>(), noop)),
                  std::logic_error);
  CHECK_THROWS_AS(r.Register(MakeTool<NoArgs>("has space", "", ArgSchema<NoArgs>(), noop)),
                  std::logic_error);
  CHECK_THROWS_AS(r.Register(MakeTool<NoArgs>("", "", ArgSchema<NoArgs>(), noop)),
                  std::logic_error);
  CHECK_THROWS_AS(r.Register(MakeTool<NoArgs>(std::string(65, 'a'), "", ArgSchema<NoArgs>(), noop)),
                  std::logic_error);
  CHECK_NOTHROW(r.Register(MakeTool<NoArgs>(std::string(64, 'a'), "", ArgSchema<NoArgs>(), noop)));
  Tool empty;
  empty.name = "no_invoke";
  CHECK_THROWS_AS(r.Register(std::move(empty)), std::logic_error);
}

TEST_CASE("concurrent calls from many threads each see their own user") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      ToolContext ctx{.user_id = 100 + t, .telegram_id = 200 + t};
      for (int i = 0; i < 200; ++i) {
        ToolResult res = r.Invoke(ctx, "manage_deposit", R"({"action":"balance"})");
        if (!res.ok || res.payload["user_id"] != 100 + t) ++mismatches;
        if (r.Invoke(ctx, "explode", "").error_code() != "internal_error") ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(mismatches == 0);
}

TEST_CASE("a forbidden call and a throwing handler are logged with the tool name") {
  ToolRegistry r = MakeRegistry();
  std::string log = CaptureStderr([&] { (void)r.Invoke(User(), "reconcile", "{}"); });
  CHECK(log.find("event=tool_forbidden") != std::string::npos);
  CHECK(log.find("tool=reconcile") != std::string::npos);
  CHECK(log.find("telegram_id=7007") != std::string::npos);
  log = CaptureStderr([&] { (void)r.Invoke(User(), "explode", "{}"); });
  CHECK(log.find("event=tool_handler_threw") != std::string::npos);
  CHECK(log.find("tool=explode") != std::string::npos);
  CHECK(log.find("what=boom") != std::string::npos);
}

TEST_CASE("invalid UTF-8 in the arguments text is invalid JSON") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  CHECK(r.Invoke(User(), "raw", "{\"a\":\"\xFF\"}").error_code() == "invalid_json");
  CHECK(r.Invoke(User(), "raw", R"({"a":"\ud800"})").error_code() == "invalid_json");
}

TEST_CASE("an unknown field with invalid UTF-8 in its name is still answered as JSON") {
  QuietLogs quiet;
  ToolRegistry r = MakeRegistry();
  json args = {{"action", "balance"}, {std::string("bad\xFFkey") + std::string(100, 'k'), 1}};
  ToolResult res = r.InvokeParsed(User(), "manage_deposit", args);
  CHECK(res.error_code() == "invalid_arguments");
  std::string content;
  CHECK_NOTHROW(content = res.ToModelContent());
  json c = json::parse(content);
  CHECK(c["details"][0]["field"].get<std::string>().size() < 80);
}
