// `depositbot copy-db` as a real process: a bot's books moved from SQLite to PostgreSQL and back
// keep every row and id, the bot answers on the copy, and each refusal changes nothing. Needs
// the test PostgreSQL (ctest's postgres fixture, or DEPOSITBOT_TEST_POSTGRES).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/money.h"
#include "db/database.h"
#include "db/database_copy.h"
#include "db/migrator.h"
#include "db/reconciler.h"
#include "tests/fakes/ledger_builder.h"
#include "tests/fakes/process_runner.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using namespace depositbot::testing;

namespace {

using State = DomainOrder::State;

// Every table of the latest schema (migrations/*.sql), schema_migrations aside.
const std::vector<std::string> kAllTables = {"users",
                                             "user_deposits",
                                             "deposit_transactions",
                                             "domain_orders",
                                             "deposit_notifications",
                                             "reconciliation_runs",
                                             "reconciliation_findings",
                                             "reconciliation_alerts",
                                             "conversation_messages",
                                             "telegram_updates",
                                             "admin_alerts",
                                             "admin_alert_deliveries",
                                             "model_usage",
                                             "bank_notifications",
                                             "bank_notification_messages"};

void Exec(Database& db, const std::string& sql) {
  auto st = db.Exec(sql);
  INFO(sql);
  REQUIRE(st.ok());
}

// A bot's books with a row in every table: users with confirmed, pending and rejected deposits,
// a registered and a refunded purchase with their orders, a reconciliation run with a finding of
// its day, conversation messages (NULLs, quotes, newlines, non-ASCII), Telegram updates, deposit
// notifications, alerts and their deliveries, model usage, a bank notification and its admin
// message.
struct Books {
  TestDb src{TestDb::kFile};
  BuiltUser alice, bob;

  Books() {
    LedgerBuilder b(src.db(), src.clock());
    alice = b.User(1001, "Alice")
                .Balance(50'000)
                .Pending(30'000, "KIM MINJI")
                .Rejected(1'000, "NOBODY")
                .Order(State::kRegistered, 12'000, "alice.com")
                .Order(State::kRefunded, 8'000, "alice.net")
                .Build();
    bob = b.User(1002, "Bob \"the builder\"").Deposit(7'000).Pending(500, "BOB").Build();
    Database& db = src.db();
    Reconciler reconciler(db, src.clock());
    REQUIRE(reconciler.Run());
    Exec(db,
         "INSERT INTO reconciliation_findings(run_id, kind, user_id, transaction_id, balance, "
         "ledger_sum, detail) VALUES (1, 'balance_mismatch', 1, 0, 5, 4, 'balance_mismatch:1:0')");
    Exec(db,
         "INSERT INTO reconciliation_alerts(finding_key, balance, ledger_sum, description, "
         "alerted_at) VALUES ('balance_mismatch:1:0', 5, 4, 'user 1: was off, now fixed', 7)");
    Exec(db,
         "INSERT INTO conversation_messages(chat_id, role, content, tool_calls, tool_call_id, "
         "created_at) VALUES (1001, 'user', 'it''s 30,000원\nsent', NULL, NULL, 1), "
         "(1001, 'assistant', '', '[{\"id\":\"c1\"}]', NULL, 2), "
         "(1001, 'tool', '{\"ok\":true}', NULL, 'c1', 3)");
    Exec(db,
         "INSERT INTO telegram_updates(update_id, chat_id, payload, state, received_at, "
         "updated_at, handler) VALUES (9001, 1001, '{\"update_id\":9001}', 'done', 1, 2, 'h1'), "
         "(9002, 1002, '{}', 'received', 3, 3, NULL)");
    Exec(db, "INSERT INTO deposit_notifications(transaction_id, chat_id, message_id) VALUES (" +
                 std::to_string(alice.pending.at(0)) + ", 77, 501)");
    Exec(db,
         "INSERT INTO admin_alerts(alert_key, text, created_at) VALUES ('k1', 'books off', 5), "
         "('k2', 'books fine again', 6)");
    Exec(db,
         "INSERT INTO admin_alert_deliveries(alert_id, admin_id, attempts, delivered_at, "
         "next_attempt_at, last_error) VALUES (1, 77, 1, 9, 9, NULL), (2, 77, 3, NULL, 12, "
         "'HTTP 502')");
    Exec(db, "INSERT INTO model_usage(user_id, day, tokens, turns, updated_at) VALUES (" +
                 std::to_string(alice.id) + ", '2026-01-01', 1234, 3, 8)");
    Exec(db,
         "INSERT INTO bank_notifications(reference, amount, currency, depositor_name, "
         "depositor_key, received_at, recorded_at, state, transaction_id, decided_by, decided_at, "
         "body) VALUES ('BANK-1', 30000, 'USD', 'Kim Minji', 'KIMMINJI', 10, 11, 'unmatched', "
         "NULL, NULL, NULL, '{\"reference\":\"BANK-1\"}')");
    Exec(db,
         "INSERT INTO bank_notification_messages(notification_id, chat_id, message_id) VALUES "
         "(1, 77, 502)");
  }
};

// Every row of `table` as one text per row (every column, NULL spelled out), in a multiset so
// that no backend's collation decides the order.
std::multiset<std::string> TableRows(Database& db, const std::string& table) {
  auto columns = TableColumns(db, table);
  REQUIRE(columns);
  REQUIRE(!columns->empty());
  std::string x;
  for (const auto& c : *columns) {
    x += (x.empty() ? "" : " || '|' || ") + std::string("COALESCE(CAST(") + c +
         " AS TEXT), '<null>')";
  }
  auto lock = db.Lock();
  auto q = db.Prepare("SELECT " + x + " FROM " + table);
  REQUIRE(q);
  std::multiset<std::string> rows;
  while (true) {
    auto more = q->Step();
    REQUIRE(more);
    if (!*more) return rows;
    rows.insert(q->ColumnText(0));
  }
}

std::unique_ptr<Database> Open(const std::string& target) {
  auto db = Database::Open(target);
  REQUIRE(db);
  return std::move(*db);
}

ProcessResult CopyDb(const std::string& from, const std::string& to, const std::string& cwd) {
  return RunProcess(DepositbotBinary(), {"copy-db", "--from", from, "--to", to}, {}, cwd);
}

// What a refusal must leave as it was: every table's rows.
std::string Snapshot(Database& db) {
  std::string out;
  auto tables = BookTables(db);
  REQUIRE(tables);
  for (const auto& t : *tables) {
    out += t + ":";
    for (const auto& row : TableRows(db, t)) out += " " + row;
    out += "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("a bot moved from SQLite to PostgreSQL and back keeps every row and id") {
  Books books;
  auto tables = BookTables(books.src.db());
  REQUIRE(tables);
  CHECK(*tables == kAllTables);
  for (const auto& t : *tables) {
    INFO(t);
    CHECK(QueryInt(books.src.db(), "SELECT COUNT(*) FROM " + t) > 0);  // nothing goes untested
  }
  TestDb pg(TestDb::kPostgres, /*migrate=*/false);
  const std::string back = books.src.dir() + "/back.db";

  auto there = CopyDb(books.src.path(), pg.path(), books.src.dir());
  CAPTURE(there.out);
  CAPTURE(there.err);
  REQUIRE(there.exit_code == 0);
  CHECK(Contains(there.out, "reconciliation clean"));
  const int64_t sum = QueryInt(books.src.db(), "SELECT SUM(balance) FROM user_deposits");
  CHECK(Contains(there.out, "balance sum: " + FormatAmount(sum, Currency{"USD", 2})));
  auto again = CopyDb(pg.path(), back, books.src.dir());
  CAPTURE(again.out);
  CAPTURE(again.err);
  REQUIRE(again.exit_code == 0);

  auto on_pg = Open(pg.path());
  auto on_back = Open(back);
  for (const auto& t : kAllTables) {
    INFO(t);
    auto rows = TableRows(books.src.db(), t);
    CHECK(TableRows(*on_back, t) == rows);
    CHECK(TableRows(*on_pg, t) == rows);
  }
  CHECK(QueryInt(*on_pg, "SELECT COUNT(*) FROM schema_migrations") ==
        QueryInt(books.src.db(), "SELECT COUNT(*) FROM schema_migrations"));
}

TEST_CASE("the bot answers on its PostgreSQL copy with the copied balance and fresh ids") {
  Books books;
  TestDb pg(TestDb::kPostgres, /*migrate=*/false);
  auto copy = CopyDb(books.src.path(), pg.path(), books.src.dir());
  CAPTURE(copy.err);
  REQUIRE(copy.exit_code == 0);

  const int64_t balance =
      QueryInt(books.src.db(), "SELECT balance FROM user_deposits WHERE user_id = " +
                                   std::to_string(books.alice.id));
  const int64_t last_tx = QueryInt(books.src.db(), "SELECT MAX(id) FROM deposit_transactions");
  const int64_t last_message =
      QueryInt(books.src.db(), "SELECT MAX(id) FROM conversation_messages");
  auto chat = RunProcess(DepositbotBinary(), {"chat", "--as", "1001", "--name", "Alice"},
                         {{"DEPOSITBOT_DB", pg.path()}}, books.src.dir(),
                         "what is my balance\n/deposit 2500 KIM MINJI\n");
  CAPTURE(chat.out);
  CAPTURE(chat.err);
  REQUIRE(chat.exit_code == 0);
  CHECK(Contains(chat.out, "Your balance is " + FormatAmount(balance, Currency{"USD", 2})));
  // The identity sequences were moved past the copied ids: the request got the next id.
  CHECK(Contains(chat.out, "Deposit #" + std::to_string(last_tx + 1) + " "));
  auto on_pg = Open(pg.path());
  CHECK(QueryInt(*on_pg, "SELECT MAX(id) FROM deposit_transactions") == last_tx + 1);
  CHECK(QueryInt(*on_pg, "SELECT COUNT(*) FROM conversation_messages WHERE id > " +
                             std::to_string(last_message)) > 0);
  CHECK(QueryInt(*on_pg, "SELECT COUNT(*) FROM users WHERE telegram_id = 1001") == 1);
}

TEST_CASE("a target that holds rows is refused and left as it was") {
  Books books;
  const std::string source_before = Snapshot(books.src.db());
  for (auto kind : {TestDb::kPostgres, TestDb::kFile}) {
    TestDb target(kind);
    LedgerBuilder(target.db(), target.clock()).User(4242, "Someone").Deposit(100).Build();
    const std::string before = Snapshot(target.db());
    auto r = CopyDb(books.src.path(), target.path(), books.src.dir());
    CAPTURE(r.out);
    CAPTURE(r.err);
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.err, "is not empty: its table users has rows"));
    CHECK(Contains(r.err, "Nothing was changed"));
    CHECK(Snapshot(target.db()) == before);
  }
  CHECK(Snapshot(books.src.db()) == source_before);
}

TEST_CASE("copying a database onto itself is refused, however it is spelled") {
  Books books;
  const std::string before = Snapshot(books.src.db());
  const std::string dir = books.src.dir();
  auto same = CopyDb(books.src.path(), books.src.path(), dir);
  CHECK(same.exit_code == 2);
  CHECK(Contains(same.err, "are the same database"));
  auto dotted = CopyDb(books.src.path(), dir + "/./" + "books.db", dir);
  CHECK(dotted.exit_code == 2);
  CHECK(Contains(dotted.err, "are the same file"));
  CHECK(Snapshot(books.src.db()) == before);

  TestDb pg(TestDb::kPostgres);
  LedgerBuilder(pg.db(), pg.clock()).User(7, "Seven").Deposit(100).Build();
  const std::string pg_before = Snapshot(pg.db());
  auto alias = CopyDb(pg.path(), pg.path() + "&application_name=other", dir);
  CAPTURE(alias.err);
  CHECK(alias.exit_code == 2);
  CHECK(Contains(alias.err, "are the same PostgreSQL database"));
  CHECK(Snapshot(pg.db()) == pg_before);
}

TEST_CASE("a source that is missing, not a database or not fully migrated is refused") {
  std::string dir = MakeTempDir();
  const std::string target = dir + "/target.db";

  auto missing = CopyDb(dir + "/nothing.db", target, dir);
  CHECK(missing.exit_code == 2);
  CHECK(Contains(missing.err, "does not exist"));
  CHECK(!std::filesystem::exists(dir + "/nothing.db"));

  std::ofstream(dir + "/notes.txt") << "not a database, just some notes that are long enough\n";
  auto garbage = CopyDb(dir + "/notes.txt", target, dir);
  CAPTURE(garbage.err);
  CHECK(garbage.exit_code == 2);
  CHECK(Contains(garbage.err, "cannot open the source"));

  TestDb old(TestDb::kFile, /*migrate=*/false);
  auto migrator = Migrator::ForEmbedded(old.db());
  REQUIRE(migrator);
  REQUIRE(migrator->Apply(5));
  // Written as SQL of that schema: today's repositories read columns it does not have yet.
  Exec(old.db(),
       "INSERT INTO users(id, telegram_id, display_name, created_at) VALUES (1, 5, 'Five', 0);"
       "INSERT INTO user_deposits(user_id, balance, updated_at) VALUES (1, 100, 0);"
       "INSERT INTO deposit_transactions(user_id, type, amount, direction, status, "
       "depositor_name, created_at, decided_at, decided_by) "
       "VALUES (1, 'deposit', 100, 1, 'confirmed', 'Five', 0, 0, 9);");
  auto behind = CopyDb(old.path(), target, dir);
  CAPTURE(behind.err);
  CHECK(behind.exit_code == 2);
  CHECK(Contains(behind.err, "is at migration 005"));
  CHECK(Contains(behind.err, "run `depositbot migrate` on it first"));
  CHECK(!std::filesystem::exists(target));  // not even created
  std::filesystem::remove_all(dir);
}

TEST_CASE("a copy that fails midway is rolled back: the target holds no row") {
  Books books;
  // A value SQLite keeps but PostgreSQL's BIGINT refuses, in a table copied late.
  Exec(books.src.db(), "UPDATE conversation_messages SET created_at = 'yesterday' WHERE id = 2");
  TestDb pg(TestDb::kPostgres, /*migrate=*/false);
  auto r = CopyDb(books.src.path(), pg.path(), books.src.dir());
  CAPTURE(r.out);
  CAPTURE(r.err);
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "failed and was rolled back"));
  CHECK(Contains(r.err, "conversation_messages"));
  auto on_pg = Open(pg.path());
  for (const auto& t : kAllTables) {
    INFO(t);
    CHECK(QueryInt(*on_pg, "SELECT COUNT(*) FROM " + t) == 0);
  }
  // Fixed, the same target takes the copy.
  Exec(books.src.db(), "UPDATE conversation_messages SET created_at = 2 WHERE id = 2");
  auto retry = CopyDb(books.src.path(), pg.path(), books.src.dir());
  CAPTURE(retry.err);
  CHECK(retry.exit_code == 0);
}

TEST_CASE("books that do not reconcile are copied as they are and the summary says so") {
  Books books;
  CorruptBooks(books.src.db(), "UPDATE user_deposits SET balance = balance + 100 WHERE user_id = " +
                                   std::to_string(books.bob.id));
  TestDb pg(TestDb::kPostgres, /*migrate=*/false);
  auto r = CopyDb(books.src.path(), pg.path(), books.src.dir());
  CAPTURE(r.out);
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(Contains(r.out, "the source has 1 discrepancy and the copy exactly the same"));
  CHECK(!Contains(r.out, "reconciliation clean"));
  auto on_pg = Open(pg.path());
  SystemClock clock;
  auto findings = Reconciler(*on_pg, clock).Inspect();
  REQUIRE(findings);
  REQUIRE(findings->size() == 1);
  CHECK(findings->front().user_id == books.bob.id);
  CHECK(findings->front().Difference() == 100);
}

TEST_CASE("a table the source has but no migration creates is left out and named") {
  Books books;
  Exec(books.src.db(),
       "CREATE TABLE operator_notes(note TEXT); INSERT INTO operator_notes "
       "VALUES ('called the bank')");
  const std::string target = books.src.dir() + "/copy.db";
  auto r = CopyDb(books.src.path(), target, books.src.dir());
  CAPTURE(r.out);
  CAPTURE(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(Contains(r.out, "operator_notes"));
  CHECK(Contains(r.out, "not copied: no depositbot migration creates it"));
  auto copy = Open(target);
  auto tables = BookTables(*copy);
  REQUIRE(tables);
  CHECK(*tables == kAllTables);
  for (const auto& t : kAllTables) {
    INFO(t);
    CHECK(TableRows(*copy, t) == TableRows(books.src.db(), t));
  }
}

TEST_CASE("two copies into one target at once: one copies, the other is refused") {
  Books books;
  TestDb pg(TestDb::kPostgres, /*migrate=*/false);
  const std::vector<std::string> args{"copy-db", "--from", books.src.path(), "--to", pg.path()};
  ChildProcess first(DepositbotBinary(), args, {}, books.src.dir());
  ChildProcess second(DepositbotBinary(), args, {}, books.src.dir());
  ProcessResult a = first.Wait();
  ProcessResult b = second.Wait();
  CAPTURE(a.err);
  CAPTURE(b.err);
  CHECK(((a.exit_code == 0 && b.exit_code == 2) || (a.exit_code == 2 && b.exit_code == 0)));
  auto on_pg = Open(pg.path());
  for (const auto& t : kAllTables) {
    INFO(t);
    CHECK(TableRows(*on_pg, t) == TableRows(books.src.db(), t));
  }
}
