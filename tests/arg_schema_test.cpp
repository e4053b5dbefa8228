#include "tools/arg_schema.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/test_helpers.h"

using namespace depositbot;
using nlohmann::json;

namespace {

struct DepositArgs {
  std::string action;
  std::optional<std::string> amount;
  std::optional<std::string> depositor_name;
  std::optional<int64_t> transaction_id;
  std::optional<int64_t> limit;
  std::optional<std::string> reason;
  std::optional<bool> notify;
};

const ArgSchema<DepositArgs>& DepositSchema() {
  static const auto s =
      ArgSchema<DepositArgs>()
          .Enum("action", &DepositArgs::action,
                {"balance", "account_info", "request_deposit", "history", "cancel"},
                {.admin_values = {"pending", "confirm", "reject"}, .description = "what to do"})
          .OptionalString("amount", &DepositArgs::amount,
                          {.min_length = 1, .max_length = 32, .description = "e.g. 30,000"})
          .OptionalString("depositor_name", &DepositArgs::depositor_name, {.max_length = 64})
          .OptionalInt("transaction_id", &DepositArgs::transaction_id,
                       {.min = 1, .max = std::numeric_limits<int64_t>::max()})
          .OptionalInt("limit", &DepositArgs::limit, {.min = 1, .max = 50})
          .OptionalString("reason", &DepositArgs::reason,
                          {.max_length = 200, .description = "why", .admin_only = true})
          .OptionalBool("notify", &DepositArgs::notify, {.description = "tell the user"});
  return s;
}

struct DomainArgs {
  std::string domain;
  int64_t years = 0;
  bool auto_renew = false;
  std::vector<std::string> nameservers;
  std::optional<std::vector<std::string>> tags;
};

const ArgSchema<DomainArgs>& DomainSchema() {
  static const auto s =
      ArgSchema<DomainArgs>()
          .String("domain", &DomainArgs::domain, {.min_length = 3, .max_length = 20})
          .Int("years", &DomainArgs::years, {.min = 1, .max = 10})
          .Bool("auto_renew", &DomainArgs::auto_renew)
          .StringArray("nameservers", &DomainArgs::nameservers,
                       {.max_items = 3, .max_item_length = 10})
          .OptionalStringArray("tags", &DomainArgs::tags, {.min_items = 1});
  return s;
}

json ValidDomain() {
  return {{"domain", "example.com"},
          {"years", 2},
          {"auto_renew", true},
          {"nameservers", {"ns1.a.com", "ns2.a.com"}}};
}

// The problems reported for `args`, as "field: problem" lines.
template <typename Args>
std::vector<FieldProblem> Problems(const ArgSchema<Args>& schema, const json& args,
                                   bool for_admin = false) {
  auto r = schema.Parse(args, for_admin);
  REQUIRE_FALSE(r.ok());
  return r.error().problems();
}

const FieldProblem* ProblemFor(const std::vector<FieldProblem>& problems, std::string_view f) {
  for (const auto& p : problems) {
    if (p.field == f) return &p;
  }
  return nullptr;
}

using depositbot::testing::Contains;

}  // namespace

TEST_CASE("the schema for a non-admin hides admin enum values and admin-only fields") {
  json s = DepositSchema().JsonSchema(false);
  CHECK(s["type"] == "object");
  CHECK(s["additionalProperties"] == false);
  CHECK(s["required"] == json::array({"action"}));
  CHECK(s["properties"]["action"]["enum"] ==
        json::array({"balance", "account_info", "request_deposit", "history", "cancel"}));
  CHECK(s["properties"]["action"]["description"] == "what to do");
  CHECK_FALSE(s["properties"].contains("reason"));
  CHECK(s["properties"]["amount"] == json({{"type", "string"},
                                           {"minLength", 1},
                                           {"maxLength", 32},
                                           {"description", "e.g. 30,000"}}));
  CHECK(s["properties"]["limit"] == json({{"type", "integer"}, {"minimum", 1}, {"maximum", 50}}));
  CHECK(s["properties"]["notify"]["type"] == "boolean");
  CHECK_FALSE(Contains(s.dump(), "confirm"));
}

TEST_CASE("the schema for an admin offers admin enum values and admin-only fields") {
  json s = DepositSchema().JsonSchema(true);
  CHECK(s["properties"]["action"]["enum"] ==
        json::array({"balance", "account_info", "request_deposit", "history", "cancel", "pending",
                     "confirm", "reject"}));
  CHECK(s["properties"]["reason"]["maxLength"] == 200);
  CHECK(s["required"] == json::array({"action"}));
}

TEST_CASE("array, bool and required fields appear in the schema") {
  json s = DomainSchema().JsonSchema(false);
  CHECK(s["required"] == json::array({"domain", "years", "auto_renew", "nameservers"}));
  CHECK(s["properties"]["nameservers"] == json({{"type", "array"},
                                                {"items", {{"type", "string"}, {"maxLength", 10}}},
                                                {"maxItems", 3}}));
  CHECK(s["properties"]["tags"]["minItems"] == 1);
  CHECK(s["properties"]["years"]["minimum"] == 1);
}

TEST_CASE("valid arguments fill the struct") {
  auto r = DepositSchema().Parse({{"action", "request_deposit"},
                                  {"amount", "30,000"},
                                  {"depositor_name", "KIM MINJI"},
                                  {"limit", 10},
                                  {"notify", false}},
                                 false);
  REQUIRE(r.ok());
  CHECK(r->action == "request_deposit");
  CHECK(r->amount == "30,000");
  CHECK(r->depositor_name == "KIM MINJI");
  CHECK(r->limit == 10);
  CHECK(r->notify == false);
  CHECK_FALSE(r->transaction_id.has_value());
  CHECK_FALSE(r->reason.has_value());

  auto d = DomainSchema().Parse(ValidDomain(), false);
  REQUIRE(d.ok());
  CHECK(d->domain == "example.com");
  CHECK(d->years == 2);
  CHECK(d->auto_renew);
  CHECK(d->nameservers == std::vector<std::string>{"ns1.a.com", "ns2.a.com"});
  CHECK_FALSE(d->tags.has_value());
}

TEST_CASE("an admin may use admin values and admin-only fields") {
  auto r = DepositSchema().Parse(
      {{"action", "confirm"}, {"transaction_id", 42}, {"reason", "seen in bank"}}, true);
  REQUIRE(r.ok());
  CHECK(r->action == "confirm");
  CHECK(r->transaction_id == 42);
  CHECK(r->reason == "seen in bank");
}

TEST_CASE("a missing required field is reported with what it expects") {
  auto p = Problems(DepositSchema(), json::object());
  REQUIRE(p.size() == 1);
  CHECK(p[0].field == "action");
  CHECK(Contains(p[0].problem, "is required"));
  CHECK(Contains(p[0].problem, "\"balance\""));
}

TEST_CASE("null for a required field is refused") {
  auto p = Problems(DepositSchema(), {{"action", nullptr}});
  REQUIRE(p.size() == 1);
  CHECK(p[0].field == "action");
  CHECK(Contains(p[0].problem, "must not be null"));
}

TEST_CASE("null for an optional field means absent") {
  auto r = DepositSchema().Parse({{"action", "balance"}, {"amount", nullptr}, {"limit", nullptr}},
                                 false);
  REQUIRE(r.ok());
  CHECK_FALSE(r->amount.has_value());
  CHECK_FALSE(r->limit.has_value());
}

TEST_CASE("a number where a string belongs is a wrong type, not converted") {
  auto p = Problems(DepositSchema(), {{"action", "request_deposit"}, {"amount", 30000}});
  REQUIRE(p.size() == 1);
  CHECK(p[0].field == "amount");
  CHECK(p[0].problem == "must be a string of 1 to 32 characters, got integer");
}

TEST_CASE("a string or a fraction where an integer belongs is a wrong type") {
  auto p = Problems(DepositSchema(), {{"action", "history"}, {"limit", "12"}});
  REQUIRE(p.size() == 1);
  CHECK(p[0].problem == "must be an integer from 1 to 50, got string");

  p = Problems(DepositSchema(), {{"action", "history"}, {"limit", 3.5}});
  REQUIRE(p.size() == 1);
  CHECK(p[0].problem == "must be an integer from 1 to 50, got number 3.5");

  p = Problems(DepositSchema(), {{"action", "history"}, {"limit", true}});
  REQUIRE(p.size() == 1);
  CHECK(Contains(p[0].problem, "got boolean"));
}

TEST_CASE("an integral number written with a fraction is accepted exactly") {
  auto r = DepositSchema().Parse({{"action", "history"}, {"limit", 12.0}}, false);
  REQUIRE(r.ok());
  CHECK(r->limit == 12);
  auto big = DepositSchema().Parse({{"action", "cancel"}, {"transaction_id", 1e18}}, false);
  REQUIRE_FALSE(big.ok());  // beyond 2^53 a double may not be the integer the model meant
  CHECK(Contains(big.error().problems()[0].problem, "got number"));
}

TEST_CASE("a wrong type for a bool or an array is reported") {
  json a = ValidDomain();
  a["auto_renew"] = "yes";
  a["nameservers"] = "ns1.a.com";
  auto p = Problems(DomainSchema(), a);
  REQUIRE(p.size() == 2);
  REQUIRE(ProblemFor(p, "auto_renew"));
  CHECK(ProblemFor(p, "auto_renew")->problem == "must be true or false, got string");
  REQUIRE(ProblemFor(p, "nameservers"));
  CHECK(Contains(ProblemFor(p, "nameservers")->problem, "must be an array of at most 3 strings"));
}

TEST_CASE("an array item of the wrong type or length names its index") {
  json a = ValidDomain();
  a["nameservers"] = {"ns1.a.com", 7, "much-too-long.example"};
  auto p = Problems(DomainSchema(), a);
  REQUIRE(p.size() == 2);
  REQUIRE(ProblemFor(p, "nameservers[1]"));
  CHECK(Contains(ProblemFor(p, "nameservers[1]")->problem, "got integer"));
  REQUIRE(ProblemFor(p, "nameservers[2]"));
  CHECK(Contains(ProblemFor(p, "nameservers[2]")->problem, "at most 10 characters (got 21"));
}

TEST_CASE("too many or too few array items are refused") {
  json a = ValidDomain();
  a["nameservers"] = {"a", "b", "c", "d"};
  auto p = Problems(DomainSchema(), a);
  REQUIRE(p.size() == 1);
  CHECK(Contains(p[0].problem, "(got 4 items)"));

  json b = ValidDomain();
  b["tags"] = json::array();
  p = Problems(DomainSchema(), b);
  REQUIRE(p.size() == 1);
  CHECK(p[0].field == "tags");
  CHECK(Contains(p[0].problem, "1 to 20 strings"));
}

TEST_CASE("an unknown field is refused and the allowed fields are named") {
  auto p = Problems(DepositSchema(), {{"action", "balance"}, {"user_id", 7}});
  REQUIRE(p.size() == 1);
  CHECK(p[0].field == "user_id");
  CHECK(Contains(p[0].problem, "is not allowed"));
  CHECK(Contains(p[0].problem, "action, amount"));
  CHECK_FALSE(Contains(p[0].problem, "reason"));  // admin-only fields are not advertised
}

TEST_CASE("a non-admin sending an admin-only field is told it is not allowed") {
  auto p = Problems(DepositSchema(), {{"action", "balance"}, {"reason", "x"}});
  REQUIRE(p.size() == 1);
  CHECK(p[0].field == "reason");
  CHECK(Contains(p[0].problem, "is not allowed"));
}

TEST_CASE("a non-admin using an admin enum value gets the same answer as for any wrong value") {
  auto admin_value = Problems(DepositSchema(), {{"action", "confirm"}});
  auto nonsense = Problems(DepositSchema(), {{"action", "steal"}});
  REQUIRE(admin_value.size() == 1);
  CHECK(admin_value[0].field == "action");
  CHECK(Contains(admin_value[0].problem, "value \"confirm\" is not allowed"));
  CHECK_FALSE(Contains(admin_value[0].problem, "\"reject\""));
  CHECK(Contains(nonsense[0].problem, "value \"steal\" is not allowed"));
}

TEST_CASE("an integer out of range is refused with the range") {
  auto p = Problems(DepositSchema(), {{"action", "history"}, {"limit", 51}});
  REQUIRE(p.size() == 1);
  CHECK(p[0].problem == "must be an integer from 1 to 50 (got 51)");
  p = Problems(DepositSchema(), {{"action", "cancel"}, {"transaction_id", 0}});
  CHECK(p[0].problem == "must be an integer of at least 1 (got 0)");
  p = Problems(DepositSchema(), {{"action", "cancel"}, {"transaction_id", UINT64_MAX}});
  CHECK(p[0].problem == "must be an integer of at least 1 (got 18446744073709551615)");
}

TEST_CASE("a string too long or too short is refused, counting characters not bytes") {
  auto p =
      Problems(DepositSchema(), {{"action", "request_deposit"}, {"amount", std::string(33, '9')}});
  REQUIRE(p.size() == 1);
  CHECK(p[0].problem == "must be a string of 1 to 32 characters (got 33 characters)");

  p = Problems(DepositSchema(), {{"action", "request_deposit"}, {"amount", ""}});
  CHECK(p[0].problem == "must not be empty");

  std::string hangul;
  for (int i = 0; i < 64; ++i) hangul += "\xEA\xB9\x80";  // 64 x U+AE40, 192 bytes
  auto r =
      DepositSchema().Parse({{"action", "request_deposit"}, {"depositor_name", hangul}}, false);
  CHECK(r.ok());
  p = Problems(DomainSchema(), [] {
    json a = ValidDomain();
    a["domain"] = "ab";
    return a;
  }());
  CHECK(p[0].problem == "must be a string of 3 to 20 characters (got 2 characters)");
}

TEST_CASE("invalid UTF-8 in a string is refused") {
  for (std::string bad : {std::string("KIM\xFFMINJI"), std::string("\xC0\xAF"),
                          std::string("\xED\xA0\x80"), std::string("abc\xE2\x82")}) {
    auto p = Problems(DepositSchema(), {{"action", "request_deposit"}, {"depositor_name", bad}});
    REQUIRE(p.size() == 1);
    CHECK(p[0].field == "depositor_name");
    CHECK(p[0].problem == "must be valid UTF-8 text");
  }
  auto p = Problems(DepositSchema(),
                    {{"action", "request_deposit"}, {"depositor_name", std::string("a\0b", 3)}});
  CHECK(p[0].problem == "must not contain NUL characters");
}

TEST_CASE("arguments that are not an object are refused as a whole") {
  for (const json& args : {json::array({1}), json("balance"), json(nullptr), json(3)}) {
    auto p = Problems(DepositSchema(), args);
    REQUIRE(p.size() == 1);
    CHECK(p[0].field == "$");
    CHECK(Contains(p[0].problem, "must be a JSON object"));
  }
}

TEST_CASE("all problems are reported together") {
  auto p = Problems(DepositSchema(),
                    {{"amount", 5}, {"limit", 0}, {"bogus", 1}, {"depositor_name", false}});
  CHECK(p.size() == 5);
  for (auto f : {"action", "amount", "limit", "bogus", "depositor_name"}) {
    CHECK_MESSAGE(ProblemFor(p, f) != nullptr, f);
  }
}

TEST_CASE("a flood of bad fields is capped in the report") {
  json args = {{"action", "balance"}};
  for (int i = 0; i < 100; ++i) args["f" + std::to_string(i)] = i;
  auto p = Problems(DepositSchema(), args);
  CHECK(p.size() == 21);
  CHECK(p.back().field == "$");
  CHECK(Contains(p.back().problem, "80 more problems"));
}

TEST_CASE("a validation error becomes the JSON sent to the model and a common Error") {
  auto r = DepositSchema().Parse({{"action", "balance"}, {"amount", 1}}, false);
  REQUIRE_FALSE(r.ok());
  json j = r.error().ToJson();
  CHECK(j["ok"] == false);
  CHECK(j["error"] == "invalid_arguments");
  CHECK(j["details"] == json::array({{{"field", "amount"},
                                      {"problem",
                                       "must be a string of 1 to 32 characters, got "
                                       "integer"}}}));
  Error e = r.error().ToError();
  CHECK(e.code == ErrorCode::kInvalid);
  CHECK(e.message == "amount: must be a string of 1 to 32 characters, got integer");
  auto as_result = DepositSchema().Parse({{"action", "balance"}}, false);
  Result<DepositArgs> converted = std::move(as_result).ToResult();
  CHECK(converted.ok());
}

TEST_CASE("malformed declarations are programming errors") {
  struct A {
    std::string s;
    std::optional<std::string> o;
    std::optional<int64_t> i;
  };
  CHECK_THROWS_AS(ArgSchema<A>().String("s", &A::s).OptionalString("s", &A::o), std::logic_error);
  CHECK_THROWS_AS(ArgSchema<A>().OptionalInt("i", &A::i, {.min = 5, .max = 1}), std::logic_error);
  CHECK_THROWS_AS(ArgSchema<A>().String("s", &A::s, {.admin_only = true}), std::logic_error);
  CHECK_THROWS_AS(ArgSchema<A>().Enum("s", &A::s, {}), std::logic_error);
  CHECK_THROWS_AS(ArgSchema<A>().Enum("s", &A::s, {"a"}, {.admin_values = {"a"}}),
                  std::logic_error);
  CHECK_THROWS_AS(ArgSchema<A>().String("bad name", &A::s), std::logic_error);
}

TEST_CASE("a tool without arguments accepts only an empty object") {
  ArgSchema<NoArgs> none;
  CHECK(none.JsonSchema(false) == json({{"type", "object"},
                                        {"properties", json::object()},
                                        {"required", json::array()},
                                        {"additionalProperties", false}}));
  CHECK(none.Parse(json::object(), false).ok());
  auto r = none.Parse({{"x", 1}}, false);
  REQUIRE_FALSE(r.ok());
  CHECK(Contains(r.error().problems()[0].problem, "takes no arguments"));
}
