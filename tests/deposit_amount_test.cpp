// Amounts in other locale formats, end to end through the agent: the /deposit command and a
// plain-language announcement (offline model), and an LLM's manage_deposit call. An amount
// that can be read more than one way is asked about and records nothing.
#include <doctest/doctest.h>

#include <memory>

#include "agent/agent.h"
#include "agent/rule_based_model.h"
#include "agent/scripted_chat_model.h"
#include "db/conversation_repository.h"
#include "db/deposit_repository.h"
#include "db/user_repository.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/test_helpers.h"
#include "tools/manage_deposit.h"
#include "tools/tool_registry.h"

using namespace depositbot;
using namespace depositbot::testing;
using nlohmann::json;

namespace {

// A deposit desk in one currency. `offline` runs without an LLM (every message goes to the
// rule-based model); `with_llm` sends plain text to a scripted model, commands to the rules.
struct Desk {
  TestDb t;
  UserRepository users{t.db(), t.clock()};
  DepositRepository deposits{t.db(), t.clock()};
  ConversationRepository conversations{t.db(), t.clock()};
  ToolRegistry tools;
  RuleBasedModel rules;
  ScriptedChatModel scripted;
  std::unique_ptr<Agent> offline;
  std::unique_ptr<Agent> with_llm;
  ToolContext user;

  explicit Desk(const char* code) {
    DepositToolOptions o;
    o.currency = *Currency::FromCode(code);
    tools.Register(MakeManageDepositTool(deposits, users, o));
    Agent::Options a;
    a.currency_code = code;
    offline = std::make_unique<Agent>(rules, rules, tools, conversations, a);
    with_llm = std::make_unique<Agent>(scripted, rules, tools, conversations, a);
    auto u = users.FindOrCreate(1001, "Customer");
    user = ToolContext{u->id, 1001, "Customer", false};
  }

  TurnResult Say(const std::string& text) { return offline->Handle(user, 1001, text); }

  std::vector<DepositTransaction> Ledger() { return *deposits.History(user.user_id, 50); }
};

}  // namespace

TEST_CASE("/deposit 30.000 KIM MINJI in KRW asks which amount was meant and records nothing") {
  Desk d("KRW");
  auto turn = d.Say("/deposit 30.000 KIM MINJI");
  INFO(turn.reply);
  CHECK(Contains(turn.reply, "Did you mean 30,000 KRW or 30 KRW?"));
  CHECK(turn.ui.empty());
  REQUIRE(turn.calls.size() == 1);
  CHECK_FALSE(turn.calls[0].result.ok);
  CHECK(d.Ledger().empty());
}

TEST_CASE("\"I sent 30.000 won as KIM MINJI\" in KRW asks and records nothing") {
  Desk d("KRW");
  auto turn = d.Say("I sent 30.000 won as KIM MINJI");
  INFO(turn.reply);
  REQUIRE(turn.calls.size() == 1);
  CHECK(json::parse(turn.calls[0].arguments)["amount"] == "30.000 won");
  CHECK(Contains(turn.reply, "Did you mean 30,000 KRW or 30 KRW?"));
  CHECK(d.Ledger().empty());
}

TEST_CASE("after the question, the amount written plainly is recorded once") {
  Desk d("KRW");
  d.Say("/deposit 30.000 KIM MINJI");
  auto turn = d.Say("/deposit 30000 KIM MINJI");
  CHECK(Contains(turn.reply, "Deposit #1 of 30,000 KRW from KIM MINJI"));
  auto rows = d.Ledger();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].amount == 30000);
}

TEST_CASE("/deposit 1 000 HANS in EUR records 1,000.00 EUR from HANS, not 1.00 from \"000 HANS\"") {
  Desk d("EUR");
  auto turn = d.Say("/deposit 1 000 HANS");
  INFO(turn.reply);
  CHECK(Contains(turn.reply, "Deposit #1 of 1,000.00 EUR from HANS is recorded"));
  auto rows = d.Ledger();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].amount == 100000);
  CHECK(rows[0].depositor_name == std::optional<std::string>("HANS"));
}

TEST_CASE("/deposit with a no-break space inside the amount reads it as one number") {
  Desk d("EUR");
  auto turn = d.Say(
      "/deposit 1\xE2\x80\xAF"
      "000,50 HANS MUELLER");
  CHECK(Contains(turn.reply, "1,000.50 EUR from HANS MUELLER"));
  REQUIRE(d.Ledger().size() == 1);
  CHECK(d.Ledger()[0].amount == 100050);
}

TEST_CASE("/deposit 1.000 HANS in EUR asks and records nothing") {
  Desk d("EUR");
  for (const char* text : {"/deposit 1.000 HANS", "/deposit 1,000 HANS"}) {
    CAPTURE(text);
    auto turn = d.Say(text);
    CHECK(Contains(turn.reply, "Did you mean 1,000.00 EUR or 1.00 EUR?"));
    CHECK(Contains(turn.reply, "Usage: /deposit AMOUNT NAME"));
  }
  CHECK(d.Ledger().empty());
}

TEST_CASE("/deposit 30,000 won KIM MINJI keeps the currency word out of the depositor name") {
  Desk d("KRW");
  auto turn = d.Say("/deposit 30,000 won KIM MINJI");
  CHECK(Contains(turn.reply, "Deposit #1 of 30,000 KRW from KIM MINJI"));
  auto bin = d.Say("/deposit 50000 WON BIN");
  CHECK(Contains(bin.reply, "of 50,000 KRW from WON BIN"));
}

TEST_CASE("/deposit with two numbers before the name is refused, not split") {
  Desk d("EUR");
  auto turn = d.Say("/deposit 10 20 HANS");
  CHECK(Contains(turn.reply, "more than one number"));
  CHECK(d.Ledger().empty());
}

TEST_CASE("/deposit 30.5 KIM in KRW is refused: KRW has no fractions") {
  Desk d("KRW");
  auto turn = d.Say("/deposit 30.5 KIM");
  CHECK(Contains(turn.reply, "KRW has no fractions"));
  CHECK(d.Ledger().empty());
}

TEST_CASE("an amount in another currency than the desk's is refused, not converted") {
  Desk d("KRW");
  auto turn = d.Say("/deposit $30 KIM MINJI");
  CHECK(Contains(turn.reply, "deposits are kept in KRW"));
  CHECK(d.Ledger().empty());
}

TEST_CASE("an LLM's manage_deposit call with an ambiguous amount gets a question, not a guess") {
  Desk d("KRW");
  auto script = ScriptedChatModel::ParseScript(json::array(
      {{{"tool_calls",
         {{{"name", "manage_deposit"},
           {"arguments",
            {{"action", "request_deposit"}, {"amount", "30.000"}, {"depositor_name", "KIM"}}}}}}},
       "Did you mean 30,000 KRW or 30 KRW?"}));
  REQUIRE(script);
  for (auto& r : *script) d.scripted.Enqueue(std::move(r));
  auto turn = d.with_llm->Handle(d.user, 1001, "I sent 30.000 as KIM");
  REQUIRE(turn.calls.size() == 1);
  const ToolResult& r = turn.calls[0].result;
  CHECK_FALSE(r.ok);
  CHECK(r.error_code() == "invalid");
  CHECK(r.payload["question"] == true);
  CHECK(r.payload["readings"] == json::array({"30,000 KRW", "30 KRW"}));
  CHECK(Contains(r.payload["message"].get<std::string>(), "Did you mean 30,000 KRW or 30 KRW?"));
  CHECK(d.Ledger().empty());
}

TEST_CASE("an LLM's amount given as a JSON number is refused as an argument, never read") {
  Desk d("EUR");
  // 1.000 in JSON is the number 1: the user's separator is already lost, so it is not taken.
  auto script = ScriptedChatModel::ParseScript(json::parse(R"([
      {"tool_calls": [{"name": "manage_deposit",
                       "arguments": {"action": "request_deposit", "amount": 1.000,
                                     "depositor_name": "HANS"}}]},
      "Please tell me the amount again."])"));
  REQUIRE(script);
  for (auto& r : *script) d.scripted.Enqueue(std::move(r));
  auto turn = d.with_llm->Handle(d.user, 1001, "I sent 1.000 as HANS");
  REQUIRE(turn.calls.size() == 1);
  CHECK(turn.calls[0].result.error_code() == "invalid_arguments");
  CHECK(d.Ledger().empty());
}
