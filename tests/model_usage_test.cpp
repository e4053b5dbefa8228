// Model tokens per user and UTC day on SQLite (migration 007): written with the turn that spent
// them in one transaction (ConversationRepository::AppendTurn), read by the daily budget from
// any connection on the database, and the agent storing both at once.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

#include "agent/agent.h"
#include "agent/fair_use.h"
#include "agent/rule_based_model.h"
#include "agent/scripted_chat_model.h"
#include "db/conversation_repository.h"
#include "db/database.h"
#include "db/deposit_repository.h"
#include "db/model_usage_repository.h"
#include "db/user_repository.h"
#include "tests/fakes/ledger_builder.h"
#include "tools/manage_deposit.h"
#include "tools/tool_registry.h"

using namespace depositbot;
using namespace depositbot::testing;
using nlohmann::json;

namespace {

std::vector<StoredMessage> Exchange(const std::string& question, const std::string& answer) {
  return {{"user", question, std::nullopt, std::nullopt},
          {"assistant", answer, std::nullopt, std::nullopt}};
}

int64_t MessageRows(Database& db) {
  return QueryInt(db, "SELECT COUNT(*) FROM conversation_messages");
}

// Makes every write to model_usage fail, as a full disk or a broken row would.
void BreakUsageWrites(Database& db) {
  REQUIRE(db.Exec("CREATE TRIGGER usage_fails BEFORE INSERT ON model_usage "
                  "BEGIN SELECT RAISE(ABORT, 'usage write failed on purpose'); END")
              .ok());
}

// Empties the write-ahead log of `db` (a file database in WAL mode), so that CommitsInWal counts
// from here.
void TruncateWal(Database& db) { REQUIRE(db.Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok()); }

uint32_t BigEndian32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

// The commits in the write-ahead log of the database file `path`, read from the file itself
// (sqlite.org/fileformat2.html#walformat): after a 32-byte header holding the page size, each
// frame is a 24-byte header and a page, and the frame that ends a transaction (a commit) carries
// the database size in pages at bytes 4..7 of its header; other frames carry 0.
int CommitsInWal(const std::string& path) {
  std::ifstream in(path + "-wal", std::ios::binary);
  std::string wal((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (wal.size() < 32) return 0;
  const uint32_t page_size = BigEndian32(wal, 8);
  REQUIRE(page_size >= 512);
  int commits = 0;
  for (size_t at = 32; at + 24 + page_size <= wal.size(); at += 24 + page_size) {
    if (BigEndian32(wal, at + 4) != 0) ++commits;
  }
  return commits;
}

// The agent as Services wires it, on a database file: conversations and usage in one SQLite
// database, the manage_deposit tool, a scripted model, fair use with a budget.
struct SqliteAgent {
  explicit SqliteAgent(int64_t daily_tokens)
      : t(TestDb::kFile),
        users(t.db(), t.clock()),
        deposits(t.db(), t.clock()),
        conversations(t.db(), t.clock()),
        usage(t.db()),
        fair_use(usage, t.clock(), Limits(daily_tokens)) {
    DepositToolOptions o;
    o.currency = Currency{"USD", 2};
    o.max_deposit_minor = 100'000'000;
    tools.Register(MakeManageDepositTool(deposits, users, o));
    Agent::Options ao;
    ao.fair_use = &fair_use;
    agent = std::make_unique<Agent>(scripted, rules, tools, conversations, ao);
    auto u = users.FindOrCreate(1001, "Alice");
    alice = ToolContext{u->id, 1001, "Alice", false};
  }

  static FairUse::Options Limits(int64_t daily_tokens) {
    FairUse::Options o;
    o.messages_per_minute = 0;
    o.daily_model_tokens = daily_tokens;
    return o;
  }
  void Script(const json& replies) {
    auto parsed = ScriptedChatModel::ParseScript(replies);
    REQUIRE(parsed);
    for (auto& r : *parsed) scripted.Enqueue(std::move(r));
  }
  std::string Today() const { return fair_use.Today(); }

  TestDb t;
  UserRepository users;
  DepositRepository deposits;
  ConversationRepository conversations;
  ModelUsageRepository usage;
  FairUse fair_use;
  ToolRegistry tools;
  RuleBasedModel rules;
  ScriptedChatModel scripted;
  std::unique_ptr<Agent> agent;
  ToolContext alice;
};

json DepositCallWithUsage(int64_t prompt, int64_t completion) {
  return {
      {"tool_calls",
       {{{"name", "manage_deposit"},
         {"arguments",
          {{"action", "request_deposit"}, {"amount", "30"}, {"depositor_name", "ALICE KIM"}}}}}},
      {"usage", {{"prompt_tokens", prompt}, {"completion_tokens", completion}}}};
}

json TextWithUsage(const std::string& text, int64_t prompt, int64_t completion) {
  return {{"content", text},
          {"usage", {{"prompt_tokens", prompt}, {"completion_tokens", completion}}}};
}

}  // namespace

TEST_CASE("a user's tokens add up per UTC day, and a new day starts from zero") {
  TestDb t;
  UserRepository users(t.db(), t.clock());
  ConversationRepository conversations(t.db(), t.clock());
  ModelUsageRepository usage(t.db());
  auto alice = users.FindOrCreate(1001, "Alice");
  auto bob = users.FindOrCreate(1002, "Bob");
  REQUIRE(
      conversations.AppendTurn(1001, Exchange("hi", "hello"), {alice->id, "2026-03-01", 120}).ok());
  REQUIRE(
      conversations.AppendTurn(1001, Exchange("and?", "so"), {alice->id, "2026-03-01", 80}).ok());
  REQUIRE(conversations.AppendTurn(1001, Exchange("new day", "yes"), {alice->id, "2026-03-02", 5})
              .ok());
  CHECK(*usage.TokensOn(alice->id, "2026-03-01") == 200);
  CHECK(*usage.TokensOn(alice->id, "2026-03-02") == 5);
  CHECK(*usage.TokensOn(alice->id, "2026-03-03") == 0);
  CHECK(*usage.TokensOn(bob->id, "2026-03-01") == 0);
  CHECK(QueryInt(t.db(), "SELECT turns FROM model_usage WHERE day = '2026-03-01'") == 2);
}

TEST_CASE(
    "a turn's messages and its tokens commit together: a failed usage write stores no "
    "message") {
  TestDb t;
  UserRepository users(t.db(), t.clock());
  ConversationRepository conversations(t.db(), t.clock());
  ModelUsageRepository usage(t.db());
  auto alice = users.FindOrCreate(1001, "Alice");
  BreakUsageWrites(t.db());
  auto st = conversations.AppendTurn(1001, Exchange("hi", "hello"), {alice->id, "2026-03-01", 50});
  CHECK_FALSE(st.ok());
  CHECK(MessageRows(t.db()) == 0);
  CHECK(*usage.TokensOn(alice->id, "2026-03-01") == 0);
}

TEST_CASE("tokens for a user who does not exist are refused, and the turn is not stored") {
  TestDb t;
  ConversationRepository conversations(t.db(), t.clock());
  auto st = conversations.AppendTurn(1001, Exchange("hi", "hello"), {424242, "2026-03-01", 50});
  CHECK_FALSE(st.ok());
  CHECK(MessageRows(t.db()) == 0);
}

TEST_CASE("a turn with no messages records only its tokens; with no tokens either, nothing") {
  TestDb t;
  UserRepository users(t.db(), t.clock());
  ConversationRepository conversations(t.db(), t.clock());
  ModelUsageRepository usage(t.db());
  auto alice = users.FindOrCreate(1001, "Alice");
  REQUIRE(conversations.AppendTurn(1001, {}, {alice->id, "2026-03-01", 70}).ok());
  CHECK(MessageRows(t.db()) == 0);
  CHECK(*usage.TokensOn(alice->id, "2026-03-01") == 70);
  REQUIRE(conversations.AppendTurn(1001, {}, {alice->id, "2026-03-01", 0}).ok());
  REQUIRE(
      conversations.AppendTurn(1001, Exchange("hi", "hello"), {alice->id, "2026-03-01", 0}).ok());
  CHECK(MessageRows(t.db()) == 2);
  CHECK(QueryInt(t.db(), "SELECT turns FROM model_usage") == 1);
}

TEST_CASE("two connections on one database file share the budget, as chat and serve do") {
  TestDb t(TestDb::kFile);
  UserRepository users(t.db(), t.clock());
  ConversationRepository chat_conversations(t.db(), t.clock());
  auto alice = users.FindOrCreate(1001, "Alice");
  ToolContext ctx{alice->id, 1001, "Alice", false};

  auto serve_db = t.OpenAnother();
  ModelUsageRepository serve_usage(*serve_db);
  FairUse::Options o;
  o.messages_per_minute = 0;
  o.daily_model_tokens = 1000;
  FairUse serve_fair_use(serve_usage, t.clock(), o);
  CHECK_FALSE(serve_fair_use.CheckBudget(ctx).has_value());

  // `chat` spends the day's budget on its own connection...
  REQUIRE(chat_conversations
              .AppendTurn(1001, Exchange("hi", "hello"), {alice->id, serve_fair_use.Today(), 1000})
              .ok());
  // ... and `serve` refuses the next message for the model.
  CHECK(*serve_usage.TokensOn(alice->id, serve_fair_use.Today()) == 1000);
  CHECK(serve_fair_use.CheckBudget(ctx).has_value());
}

TEST_CASE("the agent stores a turn's messages and its tokens in one transaction") {
  SqliteAgent a(0);
  a.Script(
      json::array({DepositCallWithUsage(300, 40), TextWithUsage("Recorded, pending.", 360, 12)}));
  auto turn = a.agent->Handle(a.alice, 1001, "I sent 30 as ALICE KIM");
  CHECK(turn.reply == "Recorded, pending.");
  CHECK(turn.model_tokens == 712);
  CHECK(MessageRows(a.t.db()) == 4);
  CHECK(*a.usage.TokensOn(a.alice.user_id, a.Today()) == 712);
}

TEST_CASE(
    "when the agent's usage write fails the turn's messages are not stored either, and the "
    "user is told") {
  SqliteAgent a(0);
  BreakUsageWrites(a.t.db());
  a.Script(
      json::array({DepositCallWithUsage(300, 40), TextWithUsage("Recorded, pending.", 360, 12)}));
  auto turn = a.agent->Handle(a.alice, 1001, "I sent 30 as ALICE KIM");
  CHECK(turn.reply.find("Recorded, pending.") == 0);
  CHECK(turn.reply.find("could not save this conversation") != std::string::npos);
  CHECK(MessageRows(a.t.db()) == 0);
  CHECK(QueryInt(a.t.db(), "SELECT COUNT(*) FROM model_usage") == 0);
  // The tool's own effect committed on its own, as before: the deposit request stands.
  CHECK(QueryInt(a.t.db(), "SELECT COUNT(*) FROM deposit_transactions WHERE status = 'pending'") ==
        1);
}

TEST_CASE("a turn with tool calls and its tokens cost one commit, as a turn without tokens does") {
  SqliteAgent a(0);
  json balance_call = {
      {"tool_calls", {{{"name", "manage_deposit"}, {"arguments", {{"action", "balance"}}}}}},
      {"usage", {{"prompt_tokens", 300}, {"completion_tokens", 40}}}};
  a.Script(json::array({balance_call, TextWithUsage("You have 0.00 USD.", 360, 12)}));
  // The counter counts: two separate writes are two commits.
  TruncateWal(a.t.db());
  REQUIRE(CommitsInWal(a.t.path()) == 0);
  REQUIRE(a.conversations.AppendTurn(7, Exchange("a", "b"), {}).ok());
  REQUIRE(a.conversations.AppendTurn(7, {}, {a.alice.user_id, "2020-01-01", 1}).ok());
  REQUIRE(CommitsInWal(a.t.path()) == 2);

  TruncateWal(a.t.db());
  auto turn = a.agent->Handle(a.alice, 1001, "what's my balance?");
  CHECK(turn.reply == "You have 0.00 USD.");
  CHECK(MessageRows(a.t.db()) == 6);
  CHECK(*a.usage.TokensOn(a.alice.user_id, a.Today()) == 712);
  CHECK(CommitsInWal(a.t.path()) == 1);

  // The same turn from a server that reports no usage: one commit too.
  a.Script(json::array(
      {{{"tool_calls", {{{"name", "manage_deposit"}, {"arguments", {{"action", "balance"}}}}}}},
       "Still 0.00 USD."}));
  TruncateWal(a.t.db());
  CHECK(a.agent->Handle(a.alice, 1001, "and now?").reply == "Still 0.00 USD.");
  CHECK(CommitsInWal(a.t.path()) == 1);
}

TEST_CASE("over the budget on SQLite, a message for the model is refused and /balance answers") {
  SqliteAgent a(500);
  a.Script(json::array({TextWithUsage("Hello!", 480, 40)}));
  CHECK(a.agent->Handle(a.alice, 1001, "hi").reply == "Hello!");
  auto refused = a.agent->Handle(a.alice, 1001, "what can you do?");
  CHECK(refused.reply.find("You have used today's model allowance; it resets at 00:00 UTC") == 0);
  CHECK(a.scripted.RequestCount() == 1);
  auto balance = a.agent->Handle(a.alice, 1001, "/balance");
  CHECK(balance.reply.find("Your balance is 0.00 USD.") != std::string::npos);
  CHECK(*a.usage.TokensOn(a.alice.user_id, a.Today()) == 520);
}
