#include <doctest/doctest.h>

#include "tests/agent_fixture.h"

using namespace depositbot;
using namespace depositbot::testing;
using nlohmann::json;

namespace {

// What the offline model makes of `text` for a user (or admin) offered the
// registered tools plus stand-ins for the domain tools.
struct Interpretation {
  std::string tool;  // empty when it answered in text
  json args;
  std::string text;
};

Interpretation Interpret(const std::string& text, bool admin = false) {
  AgentFixture f;
  ToolContext ctx = admin ? f.admin : f.alice;
  ChatRequest req;
  req.messages.push_back(ChatMessage::User(text));
  nlohmann::json tools = f.tools.Schemas(ctx);
  for (const char* name : {"check_domain", "register_domain", "list_domains"}) {
    tools.push_back({{"type", "function"}, {"function", {{"name", name}}}});
  }
  req.SetTools(std::move(tools));
  RuleBasedModel m;
  auto r = m.Complete(req);
  REQUIRE(r);
  Interpretation out;
  if (!r->message.tool_calls.empty()) {
    out.tool = r->message.tool_calls[0].name;
    out.args = json::parse(r->message.tool_calls[0].arguments);
    CHECK(IsPortableToolCallId(r->message.tool_calls[0].id));
  }
  out.text = r->message.content;
  return out;
}

}  // namespace

TEST_CASE("/balance and balance phrases call manage_deposit balance") {
  for (const char* text : {"/balance", "/balance@depositbot", "what's my balance",
                           "How much money do I have?", "잔액 알려줘"}) {
    CAPTURE(text);
    auto i = Interpret(text);
    CHECK(i.tool == "manage_deposit");
    CHECK(i.args["action"] == "balance");
  }
}

TEST_CASE("/deposit AMOUNT NAME requests a deposit with the amount text as typed") {
  auto i = Interpret("/deposit 30000 KIM MINJI");
  CHECK(i.tool == "manage_deposit");
  CHECK(i.args ==
        json{{"action", "request_deposit"}, {"amount", "30000"}, {"depositor_name", "KIM MINJI"}});
}

TEST_CASE("\"I sent 30,000 as Kim Minji\" requests a deposit") {
  auto i = Interpret("I sent 30,000 as Kim Minji.");
  CHECK(i.tool == "manage_deposit");
  CHECK(i.args["action"] == "request_deposit");
  CHECK(i.args["amount"] == "30,000");
  CHECK(i.args["depositor_name"] == "Kim Minji");
  auto j = Interpret("I transferred $12.50 under the name John Smith");
  CHECK(j.args["amount"] == "$12.50");
  CHECK(j.args["depositor_name"] == "John Smith");
}

TEST_CASE("/deposit without a name or amount answers with the usage") {
  for (const char* text : {"/deposit", "/deposit 30000"}) {
    CAPTURE(text);
    auto i = Interpret(text);
    CHECK(i.tool.empty());
    CHECK(i.text.find("Usage: /deposit AMOUNT NAME") != std::string::npos);
  }
}

TEST_CASE("/history, /history N and history phrases list transactions") {
  CHECK(Interpret("/history").args == json{{"action", "history"}});
  CHECK(Interpret("/history 5").args == json{{"action", "history"}, {"limit", 5}});
  CHECK(Interpret("/history 500").text.find("Usage") != std::string::npos);
  CHECK(Interpret("show my transactions").args["action"] == "history");
}

TEST_CASE("/cancel ID cancels; without a number it explains") {
  CHECK(Interpret("/cancel 12").args == json{{"action", "cancel"}, {"transaction_id", 12}});
  CHECK(Interpret("/cancel #12").args["transaction_id"] == 12);
  CHECK(Interpret("please cancel deposit 7").args["transaction_id"] == 7);
  auto i = Interpret("/cancel abc");
  CHECK(i.tool.empty());
  CHECK(i.text.find("Usage: /cancel ID") != std::string::npos);
}

TEST_CASE("admin commands map to pending, confirm and reject") {
  CHECK(Interpret("/pending", true).args == json{{"action", "pending"}});
  CHECK(Interpret("/confirm 12", true).args == json{{"action", "confirm"}, {"transaction_id", 12}});
  CHECK(Interpret("/reject 12 no transfer arrived", true).args ==
        json{{"action", "reject"}, {"transaction_id", 12}, {"reason", "no transfer arrived"}});
  CHECK(Interpret("/reject 12", true).args == json{{"action", "reject"}, {"transaction_id", 12}});
  CHECK(Interpret("show pending deposits", true).args["action"] == "pending");
}

TEST_CASE("/confirm or /reject without an id explains instead of guessing") {
  CHECK(Interpret("/confirm", true).text.find("Usage: /confirm ID") != std::string::npos);
  CHECK(Interpret("/reject", true).text.find("Usage: /reject ID") != std::string::npos);
}

TEST_CASE("domain commands and phrases call the domain tools") {
  auto d = Interpret("/domain example.com example.net");
  CHECK(d.tool == "check_domain");
  CHECK(d.args["domains"] == json::array({"example.com", "example.net"}));
  CHECK(Interpret("is Example.com free?").args["domains"] == json::array({"example.com"}));
  auto b = Interpret("/buy example.com 2");
  CHECK(b.tool == "register_domain");
  CHECK(b.args == json{{"domain", "example.com"}, {"years", 2}});
  CHECK(Interpret("buy coolname.io for me").args["domain"] == "coolname.io");
  CHECK(Interpret("/domains").tool == "list_domains");
  CHECK(Interpret("/buy").text.find("Usage: /buy") != std::string::npos);
}

TEST_CASE("an unknown command lists the commands") {
  auto i = Interpret("/frobnicate");
  CHECK(i.tool.empty());
  CHECK(i.text.find("/frobnicate") != std::string::npos);
  CHECK(i.text.find("/balance") != std::string::npos);
}

TEST_CASE("the help text shows admin commands to admins only") {
  CHECK(Interpret("/help").text.find("/confirm") == std::string::npos);
  CHECK(Interpret("/help", true).text.find("/confirm") != std::string::npos);
}

TEST_CASE("offline replies render tool results into sentences") {
  AgentFixture f;
  CHECK(f.Say(f.alice, "/balance").reply == "Your balance is 0.00 USD.");
  auto dep = f.Say(f.alice, "/deposit 30,000 KIM MINJI").reply;
  CHECK(dep.find("Deposit #1 of 30,000.00 USD from KIM MINJI") != std::string::npos);
  CHECK(dep.find("pending") != std::string::npos);
  auto bal = f.Say(f.alice, "/balance").reply;
  CHECK(bal.find("1 deposit (30,000.00 USD) await") != std::string::npos);
  auto hist = f.Say(f.alice, "/history").reply;
  CHECK(hist.find("#1 deposit 30,000.00 USD — pending") != std::string::npos);
  auto pending = f.Say(f.admin, "/pending").reply;
  CHECK(pending.find("Alice") != std::string::npos);
  auto confirmed = f.Say(f.admin, "/confirm 1").reply;
  CHECK(confirmed.find("confirmed for Alice") != std::string::npos);
  CHECK(confirmed.find("30,000.00 USD") != std::string::npos);
  CHECK(f.Say(f.alice, "/balance").reply == "Your balance is 30,000.00 USD.");
}

TEST_CASE("offline refusals say why: negative, non-numeric, not admin, not pending") {
  AgentFixture f;
  CHECK(f.Say(f.alice, "/deposit -5 ALICE").reply.find("must not be negative") !=
        std::string::npos);
  CHECK(f.Say(f.alice, "/deposit abc ALICE").reply.find("is not a number") != std::string::npos);
  CHECK(f.Say(f.alice, "/pending").reply == "Sorry, only admins can do that.");
  CHECK(f.Say(f.alice, "/confirm 1").reply == "Sorry, only admins can do that.");
  f.Say(f.alice, "/deposit 10 ALICE");
  f.Say(f.alice, "/cancel 1");
  CHECK(f.Say(f.admin, "/confirm 1").reply.find("already cancelled") != std::string::npos);
  CHECK(f.Say(f.alice, "/cancel 99").reply.find("no transaction #99") != std::string::npos);
  CHECK(f.Balance(f.alice) == 0);
}

TEST_CASE("/deposit passes an amount written with spaces whole, and only the rest as the name") {
  auto i = Interpret("/deposit 1 000 HANS");
  CHECK(i.tool == "manage_deposit");
  CHECK(i.args ==
        json{{"action", "request_deposit"}, {"amount", "1 000"}, {"depositor_name", "HANS"}});
  auto won = Interpret("/deposit 30,000 won KIM MINJI");
  CHECK(won.args["amount"] == "30,000 won");
  CHECK(won.args["depositor_name"] == "KIM MINJI");
}

TEST_CASE("\"I sent ... as NAME\" passes the amount with its separators and currency word") {
  auto krw = Interpret("I sent 30.000 won as KIM MINJI");
  CHECK(krw.tool == "manage_deposit");
  CHECK(krw.args["amount"] == "30.000 won");
  CHECK(krw.args["depositor_name"] == "KIM MINJI");
  auto eur = Interpret("I transferred 1 000 EUR under the name Hans Mueller");
  CHECK(eur.args["amount"] == "1 000 EUR");
  CHECK(eur.args["depositor_name"] == "Hans Mueller");
}

TEST_CASE("\"I sent\" without any number is not taken as a deposit request") {
  auto i = Interpret("I sent you a letter as a gift");
  CHECK(i.tool != "manage_deposit");
}

TEST_CASE("a half-given deposit is completed over two turns; the question records nothing") {
  RuleBasedModel offline;
  AgentFixture f(&offline);
  auto asked = f.Say(f.alice, "I want to deposit 50 dollars");
  CHECK(asked.reply.find("Under which name did you send 50 dollars?") != std::string::npos);
  CHECK(asked.calls.empty());
  CHECK(f.deposits.History(f.alice.user_id, 10)->empty());
  auto done = f.Say(f.alice, "KIM MINJI");
  CHECK(done.reply.find("Deposit #1 of 50.00 USD from KIM MINJI") != std::string::npos);
  auto ledger = f.deposits.History(f.alice.user_id, 10);
  REQUIRE(ledger->size() == 1);
  CHECK(ledger->front().amount == 5000);
  CHECK(ledger->front().depositor_name == "KIM MINJI");

  // In Korean, the name first and the amount in the answer.
  auto ko = f.Say(f.bob, "김민지 이름으로 입금했어요");
  CHECK(ko.reply.find("김민지 이름으로 얼마를 보내셨나요?") != std::string::npos);
  auto ko_done = f.Say(f.bob, "50");
  CHECK(ko_done.reply.find("Deposit #2 of 50.00 USD from 김민지") != std::string::npos);
}

TEST_CASE("a message after the question that is no answer is read on its own") {
  RuleBasedModel offline;
  AgentFixture f(&offline);
  f.Say(f.alice, "I want to deposit 50 dollars");
  auto balance = f.Say(f.alice, "what is my balance?");
  CHECK(balance.reply == "Your balance is 0.00 USD.");
  CHECK(f.deposits.History(f.alice.user_id, 10)->empty());
}
