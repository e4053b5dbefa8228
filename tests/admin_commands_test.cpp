// The admins' chat commands (tools/admin_commands.h) on the real repositories, through the
// agent (before any model) and DecisionHandler (the buttons), on SQLite and, as _pg, PostgreSQL.
#include "tools/admin_commands.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/rule_based_model.h"
#include "agent/scripted_chat_model.h"
#include "db/ledger_report_repository.h"
#include "db/order_repository.h"
#include "db/reconciler.h"
#include "db/user_repository.h"
#include "registrar/demo_registrar.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/memory_conversation_store.h"
#include "tests/test_helpers.h"
#include "tools/decision_handler.h"
#include "tools/domain_tools.h"
#include "tools/manage_deposit.h"
#include "tools/purchase_service.h"
#include "tools/tool_registry.h"

using namespace depositbot;
using namespace depositbot::testing;

namespace {

constexpr int64_t kAdmin = 9001;

// The production wiring of Services, on a TestDb: tools, decisions, admin commands, an agent
// whose LLM is a scripted model with no replies (any question to it shows in RequestCount).
struct Desk {
  TestDb t{TestDb::kFile};
  UserRepository users{t.db(), t.clock()};
  DepositRepository deposits{t.db(), t.clock()};
  OrderRepository orders{t.db(), t.clock()};
  LedgerReportRepository reports{t.db()};
  DemoRegistrar registrar{t.clock()};
  PurchaseService purchases{deposits,  orders,           registrar,
                            t.clock(), PricingOptions{}, DomainNameRules{}};
  ToolRegistry tools;
  AdminCommands admin{deposits, users, orders, reports, t.clock(), AdminCommandOptions{}};
  DecisionHandler decisions{tools, purchases, &admin};
  ScriptedChatModel llm;
  RuleBasedModel rules;
  MemoryConversationStore conversations;
  std::unique_ptr<Agent> agent;
  LedgerBuilder builder{t.db(), t.clock()};

  Desk() {
    RegisterBotTools(tools, deposits, users, orders, purchases, DepositToolOptions{});
    Agent::Options options;
    options.admin_commands = &admin;
    agent = std::make_unique<Agent>(llm, rules, tools, conversations, options);
  }

  ToolContext As(int64_t telegram_id, bool is_admin, const std::string& name = "") {
    auto u =
        users.FindOrCreate(telegram_id, name.empty() ? "user" + std::to_string(telegram_id) : name);
    REQUIRE(u);
    return ToolContext{u->id, telegram_id, u->display_name, is_admin};
  }
  ToolContext Admin() { return As(kAdmin, true, "Ada Admin"); }
  TurnResult Say(const ToolContext& who, const std::string& text) {
    return agent->Handle(who, who.telegram_id, text);
  }
  int64_t Balance(int64_t user_id) { return deposits.GetAccount(user_id)->balance; }
  std::string Ledger() {
    return JoinedRows(t.db(),
                      "SELECT id || ':' || type || ':' || status || ':' || amount || ':' || "
                      "COALESCE(decided_by, 0) AS x FROM deposit_transactions");
  }
  int64_t LastAdjustment(const TurnResult& turn) {
    REQUIRE(turn.ui.size() == 1);
    const auto* ui = std::get_if<AdjustmentRequestedUi>(&turn.ui[0]);
    REQUIRE(ui);
    return ui->transaction_id;
  }
  void ExpectBooksClean() {
    auto books = CheckBooks(t.db());
    CAPTURE(books.Describe());
    CHECK(books.ok());
    Reconciler reconciler(t.db(), t.clock());
    auto report = reconciler.Run();
    REQUIRE(report);
    CHECK(report->findings.empty());
  }
};

// RFC 4180 parsing, independent of the writer: fields may be quoted, quotes doubled, and a
// quoted field may hold commas and line breaks. Records end with CRLF.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(field);
      field.clear();
      rows.push_back(row);
      row.clear();
      ++i;
    } else {
      field += c;
    }
  }
  REQUIRE_MESSAGE(row.empty(), "the last record has no CRLF");
  REQUIRE(field.empty());
  return rows;
}

// "1234.50" / "-0.50" -> minor units (exponent 2), parsed digit by digit.
int64_t MinorOf(const std::string& s) {
  bool negative = !s.empty() && s[0] == '-';
  std::string digits;
  for (char c : s.substr(negative ? 1 : 0)) {
    if (c != '.') digits += c;
  }
  REQUIRE((s.size() >= 4 && s[s.size() - 3] == '.'));
  int64_t v = std::stoll(digits);
  return negative ? -v : v;
}

const DocumentUi& DocumentOf(const TurnResult& turn) {
  REQUIRE(turn.ui.size() == 1);
  const auto* doc = std::get_if<DocumentUi>(&turn.ui[0]);
  REQUIRE(doc);
  return *doc;
}

}  // namespace

TEST_CASE("a non-admin is refused every admin command and nothing is read or changed") {
  Desk d;
  auto alice = d.builder.User(1001, "Alice").Balance(5000).Pending(3000, "KIM").Build();
  ToolContext user = d.As(1001, false);
  const std::string before = d.Ledger();
  for (const std::string text :
       {"/user 1001", "/user @alice", "/adjust 1001 +100 free money", "/adjust 1001 -50 x",
        "/export", "/export 2026-01-01 2026-01-31", "/stats", "/Stats@DepositBot"}) {
    CAPTURE(text);
    TurnResult turn = d.Say(user, text);
    CHECK(turn.reply == "Sorry, only admins can do that.");
    CHECK(turn.ui.empty());
    REQUIRE(turn.calls.size() == 1);
    CHECK(turn.calls[0].result.error_code() == "forbidden");
    CHECK(turn.model_calls == 0);
  }
  CHECK(d.llm.RequestCount() == 0);
  CHECK(d.Ledger() == before);
  CHECK(d.Balance(alice.id) == 5000);
  // Nothing of it reached the conversation the model reads.
  auto history = d.conversations.Recent(1001, 50, 100000);
  REQUIRE(history);
  CHECK(history->empty());
}

TEST_CASE("an admin command is answered before any model and is not kept in the history") {
  Desk d;
  d.builder.User(1001, "Alice").Balance(5000);
  ToolContext admin = d.Admin();
  TurnResult turn = d.Say(admin, "/stats");
  CHECK(turn.model_calls == 0);
  CHECK(d.llm.RequestCount() == 0);
  CHECK(Contains(turn.reply, "they agree"));
  auto history = d.conversations.Recent(kAdmin, 50, 100000);
  REQUIRE(history);
  CHECK(history->empty());
  // And the model is never offered these powers.
  ChatRequest req = d.agent->BuildRequest(admin, kAdmin, "adjust Alice's balance");
  const std::string schemas = req.Tools().dump();
  for (const char* word : {"adjust", "export", "stats", "admin_"}) {
    CAPTURE(word);
    CHECK(!Contains(schemas, word));
  }
}

TEST_CASE("/adjust moves money only after Confirm, with who asked and who confirmed") {
  Desk d;
  auto alice = d.builder.User(1001, "Alice").Balance(5000).Build();
  ToolContext admin = d.Admin();
  TurnResult asked = d.Say(admin, "/adjust 1001 +25.00 goodwill");
  const int64_t tx = d.LastAdjustment(asked);
  CHECK(d.Balance(alice.id) == 5000);
  auto row = d.deposits.GetTransaction(tx);
  REQUIRE(row);
  CHECK(row->type == TransactionType::kAdjustment);
  CHECK(row->status == TransactionStatus::kPending);
  CHECK(row->requested_by == kAdmin);
  CHECK(!row->decided_by);
  CHECK(row->reason == "goodwill");
  d.ExpectBooksClean();

  ToolContext second = d.As(9002, true, "Second Admin");
  DecisionOutcome done = d.decisions.Decide(second, {Decision::Kind::kConfirmAdjustment, tx, ""});
  CHECK(done.ok);
  CHECK(d.Balance(alice.id) == 7500);
  row = d.deposits.GetTransaction(tx);
  CHECK(row->status == TransactionStatus::kConfirmed);
  CHECK(row->decided_by == 9002);
  CHECK(row->requested_by == kAdmin);
  REQUIRE(done.ui);
  const auto* decided = std::get_if<AdjustmentDecidedUi>(&*done.ui);
  REQUIRE(decided);
  CHECK(decided->user_telegram_id == 1001);
  CHECK(decided->user_balance_formatted == "75.00 USD");
  d.ExpectBooksClean();

  // Pressed again: refused, and applied once.
  DecisionOutcome again = d.decisions.Decide(admin, {Decision::Kind::kConfirmAdjustment, tx, ""});
  CHECK(!again.ok);
  CHECK(!again.buttons_stay);
  CHECK(d.Balance(alice.id) == 7500);
}

TEST_CASE("a cancelled adjustment never moves money and cannot be confirmed afterwards") {
  Desk d;
  auto alice = d.builder.User(1001, "Alice").Balance(5000).Build();
  ToolContext admin = d.Admin();
  const int64_t tx = d.LastAdjustment(d.Say(admin, "/adjust 1001 -12.50 duplicate"));
  DecisionOutcome cancelled =
      d.decisions.Decide(admin, {Decision::Kind::kCancelAdjustment, tx, ""});
  CHECK(cancelled.ok);
  CHECK(d.Balance(alice.id) == 5000);
  CHECK(d.deposits.GetTransaction(tx)->status == TransactionStatus::kCancelled);
  DecisionOutcome confirm = d.decisions.Decide(admin, {Decision::Kind::kConfirmAdjustment, tx, ""});
  CHECK(!confirm.ok);
  CHECK(confirm.code == ErrorCode::kFailedPrecondition);
  CHECK(d.Balance(alice.id) == 5000);
  d.ExpectBooksClean();
}

TEST_CASE("an adjustment confirmed after its 15 minutes is refused and changes nothing") {
  Desk d;
  auto alice = d.builder.User(1001, "Alice").Balance(5000).Build();
  ToolContext admin = d.Admin();
  const int64_t tx = d.LastAdjustment(d.Say(admin, "/adjust 1001 +10 late"));
  d.t.clock().Advance(15 * 60 * 1000);  // exactly at the deadline: still valid
  ToolContext pressing = admin;
  SUBCASE("at the deadline it still applies") {
    CHECK(d.decisions.Decide(pressing, {Decision::Kind::kConfirmAdjustment, tx, ""}).ok);
    CHECK(d.Balance(alice.id) == 6000);
  }
  SUBCASE("a second later it is refused") {
    d.t.clock().Advance(1000);
    const std::string before = d.Ledger();
    DecisionOutcome late =
        d.decisions.Decide(pressing, {Decision::Kind::kConfirmAdjustment, tx, ""});
    CHECK(!late.ok);
    CHECK(Contains(late.reply, "expired"));
    CHECK(d.Balance(alice.id) == 5000);
    CHECK(d.Ledger() == before);
    // Its Cancel button still closes it.
    CHECK(late.buttons_stay);
    CHECK(d.decisions.Decide(pressing, {Decision::Kind::kCancelAdjustment, tx, ""}).ok);
    CHECK(d.Balance(alice.id) == 5000);
  }
  d.ExpectBooksClean();
}

TEST_CASE("a debit below zero is refused when asked for and when confirmed") {
  Desk d;
  auto alice = d.builder.User(1001, "Alice").Balance(1000).Build();
  ToolContext admin = d.Admin();
  TurnResult refused = d.Say(admin, "/adjust 1001 -20 too much");
  CHECK(refused.ui.empty());
  CHECK(refused.calls[0].result.error_code() == "insufficient_funds");
  CHECK(Contains(refused.reply, "below zero"));
  CHECK(QueryInt(d.t.db(), "SELECT COUNT(*) FROM deposit_transactions WHERE type = 'adjustment'") ==
        0);

  const int64_t first = d.LastAdjustment(d.Say(admin, "/adjust 1001 -8 one"));
  const int64_t second = d.LastAdjustment(d.Say(admin, "/adjust 1001 -8 two"));
  CHECK(d.decisions.Decide(admin, {Decision::Kind::kConfirmAdjustment, first, ""}).ok);
  DecisionOutcome short_of =
      d.decisions.Decide(admin, {Decision::Kind::kConfirmAdjustment, second, ""});
  CHECK(!short_of.ok);
  CHECK(short_of.code == ErrorCode::kInsufficientFunds);
  CHECK(short_of.buttons_stay);  // a top-up makes the same button work
  CHECK(d.Balance(alice.id) == 200);
  CHECK(d.deposits.GetTransaction(second)->status == TransactionStatus::kPending);
  d.ExpectBooksClean();
}

TEST_CASE("a non-admin's press on an adjustment's buttons changes nothing") {
  Desk d;
  auto alice = d.builder.User(1001, "Alice").Balance(5000).Build();
  ToolContext admin = d.Admin();
  const int64_t tx = d.LastAdjustment(d.Say(admin, "/adjust 1001 +100 x"));
  ToolContext user = d.As(1001, false);
  for (auto kind : {Decision::Kind::kConfirmAdjustment, Decision::Kind::kCancelAdjustment}) {
    DecisionOutcome out = d.decisions.Decide(user, {kind, tx, ""});
    CHECK(!out.ok);
    CHECK(out.code == ErrorCode::kForbidden);
    CHECK(out.buttons_stay);
  }
  CHECK(d.Balance(alice.id) == 5000);
  CHECK(d.deposits.GetTransaction(tx)->status == TransactionStatus::kPending);
}

TEST_CASE("a pending adjustment is no deposit on any path") {
  Desk d;
  auto alice = d.builder.User(1001, "Alice").Balance(5000).Build();
  ToolContext admin = d.Admin();
  ToolContext user = d.As(1001, false);
  const int64_t tx = d.LastAdjustment(d.Say(admin, "/adjust 1001 +40 promised"));
  const std::string before = d.Ledger();

  SUBCASE("the repository's deposit decisions refuse it") {
    CHECK(d.deposits.Confirm(tx, kAdmin).code() == ErrorCode::kFailedPrecondition);
    CHECK(d.deposits.Reject(tx, kAdmin, "no").code() == ErrorCode::kFailedPrecondition);
    CHECK(d.deposits.Cancel(tx, alice.id).code() == ErrorCode::kFailedPrecondition);
    auto pending = d.deposits.Pending(100);
    REQUIRE(pending);
    CHECK(pending->empty());
  }
  SUBCASE("the adjustment calls refuse a deposit") {
    auto dep = d.deposits.RequestDeposit(alice.id, 700, "ALICE");
    REQUIRE(dep);
    CHECK(d.deposits.ConfirmAdjustment(dep->id, kAdmin, 900).code() ==
          ErrorCode::kFailedPrecondition);
    CHECK(d.deposits.CancelAdjustment(dep->id, kAdmin).code() == ErrorCode::kFailedPrecondition);
    CHECK(d.deposits.GetTransaction(dep->id)->status == TransactionStatus::kPending);
    CHECK(d.Balance(alice.id) == 5000);
    return;
  }
  SUBCASE("typed commands, the deposit buttons and manage_deposit refuse it") {
    for (const std::string& text :
         {"/confirm " + std::to_string(tx), "/reject " + std::to_string(tx) + " not real"}) {
      TurnResult turn = d.Say(admin, text);
      CHECK(turn.calls.at(0).result.error_code() == "failed_precondition");
    }
    CHECK(d.Say(admin, "/pending").reply == "There are no pending deposits.");
    for (auto kind : {Decision::Kind::kConfirmDeposit, Decision::Kind::kRejectDeposit}) {
      DecisionOutcome out = d.decisions.Decide(admin, {kind, tx, "x"});
      CHECK(!out.ok);
      CHECK(!out.ui);
    }
    ToolResult via_tool =
        d.tools.Invoke(admin, "manage_deposit",
                       R"({"action":"confirm","transaction_id":)" + std::to_string(tx) + "}");
    CHECK(via_tool.error_code() == "failed_precondition");
  }
  SUBCASE("its user can neither cancel it nor see it") {
    TurnResult cancel = d.Say(user, "/cancel " + std::to_string(tx));
    CHECK(cancel.calls.at(0).result.error_code() == "failed_precondition");
    ToolResult history = d.tools.Invoke(user, "manage_deposit", R"({"action":"history"})");
    REQUIRE(history.ok);
    CHECK(history.payload["transactions"].size() == 1);  // the deposit only
    TurnResult balance = d.Say(user, "/balance");
    CHECK(balance.reply == "Your balance is 50.00 USD.");
  }
  CHECK(d.Ledger() == before);
  CHECK(d.Balance(alice.id) == 5000);
  d.ExpectBooksClean();
}

TEST_CASE("two admins confirming one adjustment at once apply it once") {
  Desk d;
  auto alice = d.builder.User(1001, "Alice").Balance(5000).Build();
  ToolContext admin = d.Admin();
  const int64_t tx = d.LastAdjustment(d.Say(admin, "/adjust 1001 +10 once"));
  // The other admin's confirm lands between this one's read and its write.
  auto other = d.t.OpenAnother();
  DepositRepository racing(*other, d.t.clock());
  RetryPolicy retry;
  bool raced = false;
  retry.before_write = [&](int attempt) {
    if (attempt == 1 && !raced) {
      raced = true;
      REQUIRE(racing.ConfirmAdjustment(tx, 9002, 900));
    }
  };
  DepositRepository first(d.t.db(), d.t.clock(), retry);
  auto r = first.ConfirmAdjustment(tx, kAdmin, 900);
  CHECK(!r);
  CHECK(r.code() == ErrorCode::kFailedPrecondition);
  CHECK(d.Balance(alice.id) == 6000);
  CHECK(d.deposits.GetTransaction(tx)->decided_by == 9002);
  d.ExpectBooksClean();
}

TEST_CASE("/user finds a user by Telegram id and by the @username Telegram showed last") {
  Desk d;
  auto alice = d.builder.User(1001, "Alice").Balance(5000).Pending(3000, "KIM MINJI").Build();
  d.builder.User(1002, "Bob").Balance(100);
  REQUIRE(d.users.RecordUsername(alice.id, "alice_k"));
  ToolContext admin = d.Admin();

  TurnResult by_id = d.Say(admin, "/user 1001");
  TurnResult by_name = d.Say(admin, "/user @Alice_K");
  for (const TurnResult* turn : {&by_id, &by_name}) {
    CHECK(turn->calls.at(0).result.ok);
    CHECK(Contains(turn->reply, "User Alice (Telegram 1001, @alice_k)"));
    CHECK(Contains(turn->reply, "Balance: 50.00 USD."));
    CHECK(Contains(turn->reply, "Pending deposits: 1 (30.00 USD):"));
    CHECK(Contains(turn->reply, "from KIM MINJI"));
  }
  CHECK(d.Say(admin, "/user 4242").reply == "There is no user with Telegram id 4242.");
  CHECK(Contains(d.Say(admin, "/user @nobody").reply, "No user has the username @nobody"));

  // A username moves with Telegram: the new holder has it, the old one no longer.
  auto bob = d.users.FindByTelegramId(1002);
  REQUIRE(d.users.RecordUsername(bob->id, "alice_k"));
  CHECK(Contains(d.Say(admin, "/user @alice_k").reply, "User Bob (Telegram 1002, @alice_k)"));
  CHECK(!d.users.FindById(alice.id)->username);
  // None now: cleared.
  REQUIRE(d.users.RecordUsername(bob->id, ""));
  CHECK(d.users.FindByUsername("alice_k").code() == ErrorCode::kNotFound);
  CHECK(d.users.RecordUsername(bob->id, "Not Valid").code() == ErrorCode::kInvalid);
}

TEST_CASE("the export parsed back sums to the ledger and to the balances") {
  Desk d;
  d.builder.User(1001, "Alice")
      .Balance(5000)
      .Pending(3000, "=cmd|' /C calc'!A0")
      .Purchase(1234, "ref-1");
  d.builder.User(1002, "-Bob, \"the builder\"").Balance(123450).Rejected(500, "@SUM(A1:A9)");
  d.builder.User(1003, "Carol\r\nnew line").Deposit(1000).Order(DomainOrder::State::kRefunded, 700);
  ToolContext admin = d.Admin();
  const int64_t tx = d.LastAdjustment(d.Say(admin, "/adjust 1001 -0.50 +fee, \"quoted\""));
  REQUIRE(d.decisions.Decide(admin, {Decision::Kind::kConfirmAdjustment, tx, ""}).ok);
  d.LastAdjustment(d.Say(admin, "/adjust 1002 +99 pending, never applied"));

  TurnResult turn = d.Say(admin, "/export");
  const DocumentUi& doc = DocumentOf(turn);
  CHECK(doc.mime_type == "text/csv");
  auto rows = ParseCsv(doc.content);
  REQUIRE(rows.size() >= 2);
  const std::vector<std::string> header = rows[0];
  CHECK(header == std::vector<std::string>{"id", "created_at", "decided_at", "user_telegram_id",
                                           "user_name", "type", "status", "direction", "amount",
                                           "currency", "depositor_name", "reference", "reason",
                                           "decided_by", "decided_via", "requested_by"});
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  int64_t confirmed = 0;
  std::map<std::string, int64_t> per_user;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& r = rows[i];
    REQUIRE(r.size() == header.size());
    const int64_t amount = MinorOf(r[col["amount"]]);
    CHECK((amount < 0) == (r[col["direction"]] == "debit"));
    CHECK(r[col["currency"]] == "USD");
    if (r[col["status"]] == "confirmed") {
      confirmed += amount;
      per_user[r[col["user_telegram_id"]]] += amount;
    }
    // No text cell starts a formula.
    for (const char* text : {"user_name", "depositor_name", "reference", "reason"}) {
      const std::string& cell = r[col[text]];
      CAPTURE(cell);
      CHECK((cell.empty() || std::string("=+-@\t\r").find(cell.front()) == std::string::npos));
    }
  }
  CHECK(static_cast<int64_t>(rows.size()) - 1 ==
        QueryInt(d.t.db(), "SELECT COUNT(*) FROM deposit_transactions"));
  CHECK(confirmed == QueryInt(d.t.db(),
                              "SELECT SUM(amount * direction) FROM deposit_transactions "
                              "WHERE status = 'confirmed'"));
  CHECK(confirmed == QueryInt(d.t.db(), "SELECT SUM(balance) FROM user_deposits"));
  CHECK(per_user["1001"] == 5000 - 1234 - 50);
  CHECK(per_user["1002"] == 123450);

  // The text survives the round trip, neutralised only by the leading apostrophe.
  bool saw_formula = false, saw_name = false, saw_reason = false, saw_line = false;
  for (const auto& r : rows) {
    saw_formula |= r[col["depositor_name"]] == "'=cmd|' /C calc'!A0";
    saw_name |= r[col["user_name"]] == "'-Bob, \"the builder\"";
    saw_reason |= r[col["reason"]] == "'+fee, \"quoted\"";
    saw_line |= r[col["user_name"]] == "Carol\r\nnew line";
  }
  CHECK(saw_formula);
  CHECK(saw_name);
  CHECK(saw_reason);
  CHECK(saw_line);
}

TEST_CASE("an export range is UTC days, both included, and a bad one is refused") {
  Desk d;
  auto alice = d.builder.User(1001, "Alice").Balance(100).Build();  // 2026-01-01T00:00:00Z
  d.t.clock().Advance(86'399'000);                                  // 23:59:59 the same day
  REQUIRE(d.deposits.RequestDeposit(alice.id, 200, "ALICE"));
  d.t.clock().Advance(1000);  // 2026-01-02T00:00:00Z
  REQUIRE(d.deposits.RequestDeposit(alice.id, 300, "ALICE"));
  ToolContext admin = d.Admin();
  CHECK(DocumentOf(d.Say(admin, "/export 2026-01-01 2026-01-01")).rows == 2);
  CHECK(DocumentOf(d.Say(admin, "/export 2026-01-02 2026-01-02")).rows == 1);
  CHECK(DocumentOf(d.Say(admin, "/export 2025-12-01 2026-12-31")).rows == 3);
  CHECK(DocumentOf(d.Say(admin, "/export")).rows == 3);
  for (const std::string bad :
       {"/export 2026-01-02 2026-01-01", "/export 2026-02-29 2026-03-01",
        "/export 2026-1-1 2026-01-02", "/export 2026-01-01", "/export a b c"}) {
    CAPTURE(bad);
    TurnResult turn = d.Say(admin, bad);
    CHECK(turn.ui.empty());
    CHECK(turn.calls.at(0).result.error_code() == "invalid");
  }
}

TEST_CASE("an export larger than a bot may send is refused with a sentence") {
  Desk d;
  d.builder.User(1001, "Alice").Balance(100).Pending(50, "A").Pending(60, "B");
  AdminCommandOptions small;
  small.max_export_bytes = 300;  // the header and about one row
  AdminCommands admin(d.deposits, d.users, d.orders, d.reports, d.t.clock(), small);
  auto out = admin.Handle(d.Admin(), "/export");
  REQUIRE(out);
  CHECK(out->ui.empty());
  CHECK(out->call.result.error_code() == "invalid");
  CHECK(Contains(out->reply, "more than Telegram lets a bot send"));
}

TEST_CASE("/stats agrees with the books the builder wrote, read in one snapshot") {
  Desk d;
  d.builder.User(1001, "Alice").Balance(5000).Pending(3000, "KIM").Pending(700, "KIM");
  d.builder.User(1002, "Bob").Balance(2000).Order(DomainOrder::State::kRegistered, 1028);
  d.builder.User(1003, "Carol").Rejected(900, "C");
  ToolContext admin = d.Admin();
  d.LastAdjustment(d.Say(admin, "/adjust 1001 +5 waits"));
  auto turn = d.Say(admin, "/stats");
  const auto& r = turn.calls.at(0).result.payload;
  CHECK(r["users"] == QueryInt(d.t.db(), "SELECT COUNT(*) FROM users"));
  CHECK(r["users"] == 4);  // and the admin
  CHECK(r["balance_sum"] == 5000 + 2000 - 1028);
  CHECK(r["ledger_sum"] == r["balance_sum"]);
  CHECK(r["pending_deposits"] == 2);
  CHECK(r["pending_deposit_total"] == 3700);
  CHECK(r["pending_adjustments"] == 1);
  CHECK(r["deposits_today"] == 2);
  CHECK(r["deposits_today_total"] == 7000);
  CHECK(r["purchases_today"] == 1);
  CHECK(r["purchases_today_total"] == 1028);
  CHECK(Contains(turn.reply, "they agree"));

  // Books that disagree are said to.
  CorruptBooks(d.t.db(),
               "UPDATE user_deposits SET balance = balance + 1 WHERE user_id = (SELECT "
               "id FROM users WHERE telegram_id = 1002)");
  CHECK(Contains(d.Say(admin, "/stats").reply, "they DIFFER by 0.01 USD"));
  // Tomorrow nothing happened yet.
  d.t.clock().Advance(86'400'000);
  auto tomorrow = d.Say(admin, "/stats").calls.at(0).result.payload;
  CHECK(tomorrow["deposits_today"] == 0);
  CHECK(tomorrow["purchases_today"] == 0);
  // The adjustment can no longer be confirmed: it waits for no one.
  CHECK(tomorrow["pending_adjustments"] == 0);
  CHECK(tomorrow["pending_deposits"] == 2);
}

TEST_CASE("/adjust reads its amount by the money-safety rules and needs a reason") {
  Desk d;
  auto alice = d.builder.User(1001, "Alice").Balance(5000).Build();
  ToolContext admin = d.Admin();
  struct Case {
    std::string text;
    std::string reply_part;
  };
  for (const Case& c : std::vector<Case>{
           {"/adjust 1001 1.000 fee", "Did you mean"},
           {"/adjust 1001 +12,50 fee", "Sorry, that did not work"},
           {"/adjust 1001 +12.50", "needs a reason"},
           {"/adjust 1001 0 fee", "Sorry, that did not work"},
           {"/adjust 1001 +$12.50 fee", ""},  // a currency mark is fine: recorded
           {"/adjust 1001 +1 " + std::string(201, 'x'), "at most 200 characters"},
           {"/adjust 1001 +200000000 fee", "at most"},
           {"/adjust 4242 +1 fee", "There is no user 4242"},
           {"/adjust 1001", "Usage: /adjust"},
       }) {
    CAPTURE(c.text);
    TurnResult turn = d.Say(admin, c.text);
    if (c.reply_part.empty()) {
      CHECK(turn.ui.size() == 1);
      continue;
    }
    CHECK(Contains(turn.reply, c.reply_part));
    CHECK(turn.ui.empty());
  }
  CHECK(QueryInt(d.t.db(), "SELECT COUNT(*) FROM deposit_transactions WHERE type = 'adjustment'") ==
        1);
  CHECK(d.Balance(alice.id) == 5000);
}

TEST_CASE("the admins' help lists the admin commands and a user's help does not") {
  Desk d;
  const std::string admin_help = d.Say(d.Admin(), "/help").reply;
  const std::string user_help = d.Say(d.As(1001, false), "/help").reply;
  for (const char* command :
       {"/user ID-or-@name", "/adjust ID AMOUNT REASON", "/export [FROM TO]", "/stats"}) {
    CAPTURE(command);
    CHECK(Contains(admin_help, command));
    CHECK(!Contains(user_help, command));
  }
}
