#include "db/database_backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/clock.h"
#include "db/database.h"
#include "db/database_copy.h"
#include "db/migrator.h"

namespace depositbot {
namespace {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteHandle = std::unique_ptr<sqlite3, SqliteCloser>;

// A file descriptor closed on scope exit (and with it any flock() it holds).
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Error PostgresRefused(const std::string& what) {
  return Error::FailedPrecondition(
      "the database is PostgreSQL: " + what +
      " with PostgreSQL's own tools, which copy it consistently while the bot runs "
      "(`pg_dump --format=custom --file=FILE URI` and `pg_restore --clean --dbname=URI FILE`); "
      "see docs/operations.md");
}

bool Exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

std::string Errno() { return std::strerror(errno); }

Result<SqliteHandle> OpenRaw(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  SqliteHandle db(raw);
  if (rc != SQLITE_OK) {
    return Error::Internal("cannot open \"" + path +
                           "\": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

// Copies every page of `src` into `dst` in one step: one read transaction on `src`, so the copy
// is one moment of it even while other processes write.
Status CopyPages(sqlite3* src, sqlite3* dst, const std::string& from, const std::string& to) {
  sqlite3_backup* backup = sqlite3_backup_init(dst, "main", src, "main");
  if (backup == nullptr) {
    return Error::Internal("cannot copy \"" + from + "\" to \"" + to +
                           "\": " + sqlite3_errmsg(dst));
  }
  int rc = sqlite3_backup_step(backup, -1);
  // Busy or locked: the busy handler already waited; one step is all or nothing.
  int finish = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE || finish != SQLITE_OK) {
    return Error::Unavailable("copying \"" + from + "\" to \"" + to +
                              "\" failed: " + sqlite3_errstr(rc != SQLITE_DONE ? rc : finish) +
                              "; nothing was replaced, try again");
  }
  return Status::Ok();
}

Status Exec(sqlite3* db, const char* sql, const std::string& path) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  if (rc != SQLITE_OK) return Error::Internal("\"" + path + "\": " + msg);
  return Status::Ok();
}

// fsync of a file and of the directory entry naming it: a backup that is reported taken
// survives a power cut.
Status Sync(const std::string& path) {
  for (const std::string& p : {path, std::filesystem::path(path).parent_path().string()}) {
    Fd fd(open(p.empty() ? "." : p.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0 || fsync(fd.get()) != 0) {
      return Error::Internal("cannot sync \"" + p + "\": " + Errno());
    }
  }
  return Status::Ok();
}

// "20261201T030000Z": FormatUtc without the separators, for a file name.
std::string UtcStamp(int64_t now) {
  std::string out;
  for (char c : FormatUtc(now)) {
    if (c != '-' && c != ':') out += c;
  }
  return out;
}

Result<int64_t> QueryInt(Database& db, const std::string& sql) {
  auto q = db.Prepare(sql);
  if (!q) return q.error();
  auto row = q->Step();
  if (!row) return row.error();
  return *row ? q->ColumnInt(0) : 0;
}

}  // namespace

Result<BackupContents> CheckBackup(const std::string& file) {
  if (Database::IsPostgresTarget(file)) return PostgresRefused("back it up and restore");
  struct stat st {};
  if (stat(file.c_str(), &st) != 0) {
    return Error::NotFound("backup \"" + file + "\" cannot be read: " + Errno());
  }
  Database::Options options;
  options.read_only = true;
  options.create = false;
  auto opened = Database::Open(file, options);
  if (!opened) return opened.error();
  Database& db = **opened;
  auto lock = db.Lock();
  BackupContents out;
  out.file = file;
  out.bytes = static_cast<int64_t>(st.st_size);
  {
    auto q = db.Prepare("PRAGMA integrity_check");
    if (!q) return q.error();
    std::string problems;
    while (true) {
      auto row = q->Step();
      if (!row) return Error::Internal("\"" + file + "\": integrity check: " + row.error().message);
      if (!*row) break;
      if (q->ColumnText(0) != "ok") problems += (problems.empty() ? "" : "; ") + q->ColumnText(0);
    }
    if (!problems.empty()) {
      return Error::Invalid("\"" + file + "\" fails SQLite's integrity check: " + problems);
    }
  }
  auto has_migrations =
      QueryInt(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'");
  if (!has_migrations) return has_migrations.error();
  if (*has_migrations == 0) {
    return Error::Invalid("\"" + file +
                          "\" is not a depositbot database (it records no migrations)");
  }
  auto migrator = Migrator::ForEmbedded(db);
  if (!migrator) return migrator.error();
  auto newest = QueryInt(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!newest) return newest.error();
  if (*newest > migrator->LatestVersion()) {
    return Error::FailedPrecondition("\"" + file + "\" was written by a newer depositbot (schema " +
                                     std::to_string(*newest) + "; this one knows up to " +
                                     std::to_string(migrator->LatestVersion()) +
                                     "): use that version");
  }
  if (auto states = migrator->States(); !states) {
    return Error::FailedPrecondition("\"" + file + "\": " + states.error().message);
  }
  out.schema_version = static_cast<int>(*newest);
  auto tables = BookTables(db);
  if (!tables) return tables.error();
  for (const auto& t : *tables) {
    auto n = QueryInt(db, "SELECT COUNT(*) FROM \"" + t + "\"");
    if (!n) return n.error();
    out.rows.emplace_back(t, *n);
  }
  auto sum = QueryInt(db, "SELECT COALESCE(SUM(balance), 0) FROM user_deposits");
  if (!sum) return sum.error();
  out.balance_sum = *sum;
  auto latest = QueryInt(db, "SELECT COALESCE(MAX(created_at), 0) FROM deposit_transactions");
  if (!latest) return latest.error();
  out.latest_ledger_at = *latest;
  SystemClock clock;
  auto findings = Reconciler(db, clock).Inspect();
  if (!findings) return findings.error();
  out.findings = std::move(*findings);
  return out;
}

Result<BackupContents> BackupDatabase(const std::string& live, const std::string& file) {
  if (Database::IsPostgresTarget(live)) return PostgresRefused("back it up");
  if (Exists(file)) {
    return Error::FailedPrecondition("\"" + file +
                                     "\" exists; a backup never overwrites a file: name a new one");
  }
  if (!Exists(live)) return Error::NotFound("database \"" + live + "\" does not exist");
  // Read-write without create: SQLite needs to join the WAL's shared memory to read a database
  // other processes write, and nothing is written.
  auto src = OpenRaw(live, SQLITE_OPEN_READWRITE);
  if (!src) return src.error();
  const std::string partial = file + ".partial-" + std::to_string(getpid());
  std::remove(partial.c_str());
  auto fail = [&](Error e) -> Result<BackupContents> {
    std::remove(partial.c_str());
    std::remove((partial + "-journal").c_str());
    return e;
  };
  {
    auto dst = OpenRaw(partial, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (!dst) return fail(dst.error());
    if (auto st = CopyPages(src->get(), dst->get(), live, file); !st) return fail(st.error());
    // A copy of a WAL database is marked WAL; one file needs no -wal beside it.
    if (auto st = Exec(dst->get(), "PRAGMA journal_mode = DELETE", file); !st) {
      return fail(st.error());
    }
  }
  if (auto st = Sync(partial); !st) return fail(st.error());
  auto contents = CheckBackup(partial);
  if (!contents) return fail(contents.error());
  // link() fails on an existing name: a backup another process took meanwhile is never replaced.
  if (link(partial.c_str(), file.c_str()) != 0) {
    return fail(Error::Internal("cannot name the backup \"" + file + "\": " + Errno()));
  }
  std::remove(partial.c_str());
  if (auto st = Sync(file); !st) return st.error();
  contents->file = file;
  return contents;
}

Result<RestoreReport> RestoreDatabase(const std::string& file, const std::string& target,
                                      int64_t now_seconds) {
  if (Database::IsPostgresTarget(target)) return PostgresRefused("back it up and restore");
  auto backup = CheckBackup(file);
  if (!backup) {
    return Error{backup.error().code, "the backup cannot be restored: " + backup.error().message};
  }
  std::error_code ec;
  if (Exists(target) && std::filesystem::equivalent(file, target, ec)) {
    return Error::Invalid("\"" + file + "\" is the database itself");
  }
  // Held until the end: no depositbot is using the target, and none starts meanwhile.
  const std::string lock_path = Database::InUseLockPath(target);
  Fd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (lock.get() < 0) return Error::Internal("cannot create \"" + lock_path + "\": " + Errno());
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return Error::FailedPrecondition(
        "database \"" + target +
        "\" is in use by a running depositbot (serve, chat or another command); stop it first: "
        "restore never overwrites a live database");
  }
  RestoreReport report;
  if (Exists(target)) {
    report.previous_kept_as = target + ".before-restore-" + UtcStamp(now_seconds);
    auto kept = BackupDatabase(target, report.previous_kept_as);
    if (!kept) {
      return Error{kept.error().code, "the database to be replaced could not be kept first (" +
                                          kept.error().message + "); nothing was restored"};
    }
  }
  {
    auto src = OpenRaw(file, SQLITE_OPEN_READONLY);
    if (!src) return src.error();
    auto dst = OpenRaw(target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (!dst) return dst.error();
    if (auto st = CopyPages(src->get(), dst->get(), file, target); !st) return st.error();
  }  // the last connection closes: the target's WAL is checkpointed into it
  if (auto st = Sync(target); !st) return st.error();
  auto restored = CheckBackup(target);
  if (!restored) {
    return Error{restored.error().code,
                 "the restored database fails its check (" + restored.error().message +
                     "); the one it replaced is kept as " + report.previous_kept_as};
  }
  report.restored = std::move(*restored);
  return report;
}

}  // namespace depositbot
