#include "db/migrator.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "common/log.h"
#include "db/database.h"

namespace depositbot {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

Result<std::vector<Migration>> LoadMigrations(const std::vector<EmbeddedFile>& files) {
  std::vector<Migration> out;
  for (const auto& f : files) {
    std::string name(f.name);
    if (name.size() < 9 || name.substr(name.size() - 4) != ".sql" || name[3] != '_' ||
        !std::all_of(name.begin(), name.begin() + 3,
                     [](unsigned char c) { return std::isdigit(c); })) {
      return Error::Invalid("migration file \"" + name + "\" is not named NNN_name.sql");
    }
    out.push_back({std::stoi(name.substr(0, 3)), name, std::string(f.content),
                   Sha256Hex(f.content)});
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].version != static_cast<int>(i) + 1) {
      return Error::Invalid("migrations must be numbered 001, 002, ... without gaps or "
                            "duplicates; found " + out[i].name);
    }
  }
  return out;
}

Migrator::Migrator(Database& db, std::vector<Migration> migrations)
    : db_(db), migrations_(std::move(migrations)) {}

Result<Migrator> Migrator::ForEmbedded(Database& db) {
  auto m = LoadMigrations(EmbeddedMigrationFiles());
  if (!m) return m.error();
  return Migrator(db, std::move(*m));
}

int Migrator::LatestVersion() const {
  return migrations_.empty() ? 0 : migrations_.back().version;
}

Status Migrator::EnsureTable() {
  return db_.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
      " applied_at INTEGER NOT NULL)");
}

Result<std::vector<MigrationState>> Migrator::States() {
  if (auto st = EnsureTable(); !st) return st.error();
  std::map<int, std::pair<std::string, int64_t>> applied;  // version -> (checksum, at)
  std::map<int, std::string> names;
  auto q = db_.Prepare("SELECT version, name, checksum, applied_at FROM schema_migrations");
  if (!q) return q.error();
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    int v = static_cast<int>(q->ColumnInt(0));
    names[v] = q->ColumnText(1);
    applied[v] = {q->ColumnText(2), q->ColumnInt(3)};
  }
  std::vector<MigrationState> out;
  for (const auto& m : migrations_) {
    MigrationState s{m, false, 0};
    if (auto it = applied.find(m.version); it != applied.end()) {
      if (it->second.first != m.checksum) {
        return Error::FailedPrecondition(
            "migration " + m.name + " was edited after it was applied (checksum in the "
            "database " + it->second.first.substr(0, 12) + "…, file " + m.checksum.substr(0, 12) +
            "…); restore the original file and add a new migration instead");
      }
      s.applied = true;
      s.applied_at = it->second.second;
      applied.erase(it);
    }
    out.push_back(s);
  }
  if (!applied.empty()) {
    int v = applied.begin()->first;
    return Error::FailedPrecondition("the database has migration " + names[v] +
                                     " which this binary does not know; it was written by a "
                                     "newer depositbot");
  }
  return out;
}

Result<int> Migrator::Apply(int target_version) {
  auto states = States();
  if (!states) return states.error();
  int count = 0;
  for (const auto& s : *states) {
    if (s.applied || s.migration.version > target_version) continue;
    auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
    if (!tx) return tx.error();
    // Another process starting at the same moment may have applied it since
    // States() read the table; under the write lock this check is final.
    auto done = db_.Prepare("SELECT checksum FROM schema_migrations WHERE version = ?");
    if (!done) return done.error();
    done->Bind(1, int64_t{s.migration.version});
    auto row = done->Step();
    if (!row) return row.error();
    if (*row) {
      if (done->ColumnText(0) != s.migration.checksum) {
        return Error::FailedPrecondition("migration " + s.migration.name +
                                         " was applied meanwhile with a different checksum");
      }
      continue;  // `tx` rolls back: nothing was written
    }
    if (auto st = db_.Exec(s.migration.sql); !st) {
      return Error::Internal("migration " + s.migration.name + " failed: " + st.error().message);
    }
    auto ins = db_.Prepare(
        "INSERT INTO schema_migrations(version, name, checksum, applied_at) "
        "VALUES (?, ?, ?, strftime('%s','now'))");
    if (!ins) return ins.error();
    ins->Bind(1, int64_t{s.migration.version})
        .Bind(2, std::string_view(s.migration.name))
        .Bind(3, std::string_view(s.migration.checksum));
    if (auto st = ins->Run(); !st) return st.error();
    if (auto st = tx->Commit(); !st) return st.error();
    Log(LogLevel::kInfo, "db.migrated", {{"migration", s.migration.name}});
    ++count;
  }
  return count;
}

}  // namespace depositbot
