#include "db/database.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include "tests/fakes/ledger_builder.h"
#include "tests/test_helpers.h"

using namespace depositbot;
using depositbot::testing::QueryInt;
using depositbot::testing::TestDb;

namespace {

using depositbot::testing::Contains;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

std::string ErrorOf(const Result<std::unique_ptr<Database>>& r) {
  return r ? std::string("(opened)") : r.error().message;
}

// Opens `path` as an unprivileged user and returns the error message (or
// "(opened)"). root writes through file modes, so as root the open runs in a
// child that has dropped to uid/gid 65534; otherwise it runs here.
std::string OpenAsUnprivileged(const std::string& path) {
  if (geteuid() != 0) return ErrorOf(Database::Open(path));
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    std::string msg;
    if (setgid(65534) != 0 || setuid(65534) != 0) {
      msg = "(could not drop privileges)";
    } else {
      msg = ErrorOf(Database::Open(path));
    }
    ssize_t n = write(fds[1], msg.data(), msg.size());
    _exit(n == static_cast<ssize_t>(msg.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  return msg;
}

}  // namespace

TEST_CASE("a new database has foreign keys on, synchronous FULL and a busy timeout") {
  TestDb t(TestDb::kFile, false);
  CHECK(QueryInt(t.db(), "PRAGMA foreign_keys") == 1);
  CHECK(QueryInt(t.db(), "PRAGMA synchronous") == 2);  // FULL
  CHECK(QueryInt(t.db(), "PRAGMA busy_timeout") == 5000);
  auto q = t.db().Prepare("PRAGMA journal_mode");
  REQUIRE(q);
  REQUIRE(*q->Step());
  CHECK(q->ColumnText(0) == "wal");
}

TEST_CASE("an in-memory database opens with foreign keys enforced") {
  TestDb t(TestDb::kMemory);
  CHECK(QueryInt(t.db(), "PRAGMA foreign_keys") == 1);
  auto st =
      t.db().Exec("INSERT INTO user_deposits(user_id, balance, updated_at) VALUES (42, 0, 0)");
  REQUIRE_FALSE(st);
  CHECK(st.code() == ErrorCode::kInvalid);
}

TEST_CASE("a file that is not SQLite is refused with its path and left untouched") {
  TestDb dir(TestDb::kFile, false);
  std::string path = dir.dir() + "/notes.txt";
  std::string text = "These are my notes, not a database.\n";
  for (int i = 0; i < 50; ++i) text += "line " + std::to_string(i) + " of plain text\n";
  WriteAll(path, text);
  auto db = Database::Open(path);
  REQUIRE_FALSE(db);
  CHECK(db.code() == ErrorCode::kInternal);
  CHECK(Contains(db.error().message, path));
  CHECK(Contains(db.error().message, "not"));
  CHECK(ReadAll(path) == text);
}

TEST_CASE("a path in a directory that does not exist is refused with the path") {
  std::string path = "/nonexistent-depositbot-dir/x/books.db";
  auto db = Database::Open(path);
  REQUIRE_FALSE(db);
  CHECK(Contains(db.error().message, path));
}

TEST_CASE("create=false refuses a database file that does not exist and creates nothing") {
  TestDb dir(TestDb::kFile, false);
  std::string path = dir.dir() + "/missing.db";
  Database::Options options;
  options.create = false;
  auto db = Database::Open(path, options);
  REQUIRE_FALSE(db);
  CHECK(Contains(db.error().message, path));
  CHECK(access(path.c_str(), F_OK) != 0);
}

TEST_CASE("a read-only database file is refused with a sentence naming the path") {
  TestDb t(TestDb::kFile);
  std::string path = t.path();
  t.Close();
  REQUIRE(chmod(t.dir().c_str(), 0755) == 0);
  REQUIRE(chmod(path.c_str(), 0444) == 0);
  std::string before = ReadAll(path);
  std::string msg = OpenAsUnprivileged(path);
  INFO(msg);
  CHECK(Contains(msg, path));
  CHECK(Contains(msg, "read-only"));
  CHECK_FALSE(Contains(msg, "not a usable SQLite database"));
  CHECK(ReadAll(path) == before);
}

TEST_CASE("a database in a directory the process cannot write is refused with the path") {
  TestDb t(TestDb::kFile);
  std::string path = t.path();
  t.Close();
  REQUIRE(chmod(path.c_str(), 0666) == 0);
  REQUIRE(chmod(t.dir().c_str(), 0555) == 0);
  std::string msg = OpenAsUnprivileged(path);
  REQUIRE(chmod(t.dir().c_str(), 0755) == 0);
  INFO(msg);
  CHECK(msg != "(opened)");
  CHECK(Contains(msg, path));
  CHECK(Contains(msg, "read-only"));
  CHECK_FALSE(Contains(msg, "not a usable SQLite database"));
}

TEST_CASE("a transaction that is not committed rolls back when it goes out of scope") {
  TestDb t;
  {
    auto tx = Transaction::Begin(t.db(), Transaction::Kind::kImmediate);
    REQUIRE(tx);
    REQUIRE(t.db().Exec("INSERT INTO users(telegram_id, created_at) VALUES (1, 0)"));
    CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM users") == 1);
  }
  CHECK(QueryInt(t.db(), "SELECT COUNT(*) FROM users") == 0);
}

TEST_CASE("a committed transaction is visible to a second connection") {
  TestDb t(TestDb::kFile);
  auto other = t.OpenAnother();
  {
    auto tx = Transaction::Begin(t.db(), Transaction::Kind::kImmediate);
    REQUIRE(tx);
    REQUIRE(t.db().Exec("INSERT INTO users(telegram_id, created_at) VALUES (7, 0)"));
    CHECK(QueryInt(*other, "SELECT COUNT(*) FROM users") == 0);
    REQUIRE(tx->Commit());
  }
  CHECK(QueryInt(*other, "SELECT COUNT(*) FROM users") == 1);
}

TEST_CASE("a writer blocked past the busy timeout gets kUnavailable, not a hang") {
  TestDb t(TestDb::kFile);
  Database::Options options;
  options.busy_timeout_ms = 1;
  auto other = Database::Open(t.path(), options);
  REQUIRE(other);
  auto holder = Transaction::Begin(t.db(), Transaction::Kind::kImmediate);
  REQUIRE(holder);
  auto blocked = Transaction::Begin(**other, Transaction::Kind::kImmediate);
  REQUIRE_FALSE(blocked);
  CHECK(blocked.code() == ErrorCode::kUnavailable);
  CHECK(Contains(blocked.error().message, "busy"));
}

TEST_CASE("a CHECK violation is kInvalid and carries SQLite's message") {
  TestDb t;
  REQUIRE(t.db().Exec("INSERT INTO users(id, telegram_id, created_at) VALUES (1, 1, 0)"));
  auto st =
      t.db().Exec("INSERT INTO user_deposits(user_id, balance, updated_at) VALUES (1, -1, 0)");
  REQUIRE_FALSE(st);
  CHECK(st.code() == ErrorCode::kInvalid);
  CHECK(Contains(st.error().message, "CHECK"));
}

TEST_CASE("SQL that does not compile is an error naming the problem") {
  TestDb t;
  auto q = t.db().Prepare("SELEKT 1");
  REQUIRE_FALSE(q);
  CHECK(Contains(q.error().message, "syntax"));
}

TEST_CASE("statements bind and read back integers, text and NULLs") {
  TestDb t;
  REQUIRE(t.db().Exec("CREATE TABLE kv(k TEXT, i INTEGER, s TEXT)"));
  auto ins = t.db().Prepare("INSERT INTO kv VALUES (?, ?, ?)");
  REQUIRE(ins);
  ins->Bind(1, std::string_view("a"))
      .Bind(2, std::optional<int64_t>(INT64_MAX))
      .Bind(3, std::optional<std::string>());
  REQUIRE(ins->Run());
  CHECK(t.db().LastInsertRowId() == 1);
  CHECK(t.db().Changes() == 1);
  auto q = t.db().Prepare("SELECT k, i, s FROM kv");
  REQUIRE(q);
  REQUIRE(*q->Step());
  CHECK(q->ColumnText(0) == "a");
  CHECK(q->ColumnOptionalInt(1) == INT64_MAX);
  CHECK(q->ColumnIsNull(2));
  CHECK_FALSE(q->ColumnOptionalText(2).has_value());
  CHECK_FALSE(*q->Step());
}
