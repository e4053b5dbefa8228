#include "db/migrator.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "common/failpoint.h"
#include "common/log.h"
#include "common/text.h"
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
    out.push_back(
        {std::stoi(name.substr(0, 3)), name, std::string(f.content), Sha256Hex(f.content)});
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].version != static_cast<int>(i) + 1) {
      return Error::Invalid(
          "migrations must be numbered 001, 002, ... without gaps or "
          "duplicates; found " +
          out[i].name);
    }
  }
  return out;
}

namespace {

// The shape of a schema as SQLite reports it (PRAGMA table_info, index_list,
// index_xinfo, foreign_key_list and sqlite_master), for comparing a database
// with what the migrations create.
struct ColumnShape {
  std::string name;
  std::string type;
  bool not_null = false;
  std::optional<std::string> default_value;
  int64_t pk = 0;  // position in the primary key, 0 when not part of it
};

struct IndexShape {
  std::string name;
  bool unique = false;
  std::string origin;  // "c" CREATE INDEX, "u" UNIQUE constraint, "pk"
  bool partial = false;
  std::string columns;  // "(a, b DESC)"
  std::string sql;      // normalised; empty for a constraint's automatic index
};

struct TableShape {
  std::vector<ColumnShape> columns;
  std::map<std::string, IndexShape> indexes;      // CREATE INDEX ones, by name
  std::multiset<std::string> constraint_indexes;  // UNIQUE constraints, e.g. "UNIQUE (telegram_id)"
  std::multiset<std::string> foreign_keys;        // "(user_id) REFERENCES users(id)"
  std::multiset<std::string> checks;              // normalised CHECK clauses
  std::string sql;                                // normalised CREATE TABLE
};

struct SchemaShape {
  std::vector<std::string> table_order;  // in creation order
  std::map<std::string, TableShape> tables;
  std::map<std::string, std::string> others;       // views and triggers: name -> type
  std::map<std::string, std::string> index_table;  // index name -> its table
};

bool IsPunct(char c) { return std::string_view("(),=<>!+-*/;|").find(c) != std::string_view::npos; }

// Lower-cases SQL outside quotes, drops comments and collapses white space,
// so that a statement compares equal however it was laid out.
std::string NormalizeSql(std::string_view sql) {
  std::string out;
  bool space = false;
  auto emit = [&](char c) {
    // "a = b" and "a=b" compare equal; ") where" keeps its space to stay readable.
    if (space && !out.empty() && (!IsPunct(out.back()) || out.back() == ')') && !IsPunct(c)) {
      out += ' ';
    }
    space = false;
    out += c;
  };
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\'' || c == '"' || c == '`') {
      const char quote = c;
      emit(c);
      for (++i; i < sql.size(); ++i) {
        out += sql[i];
        if (sql[i] == quote) {
          if (i + 1 < sql.size() && sql[i + 1] == quote) {
            out += sql[++i];
          } else {
            break;
          }
        }
      }
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') ++i;
      space = true;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 1;
      space = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
    } else {
      emit(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  while (!out.empty() && out.back() == ';') out.pop_back();
  return out;
}

// The CHECK clauses of a normalised CREATE TABLE, e.g. "check(amount>0)".
std::multiset<std::string> ChecksOf(const std::string& sql) {
  std::multiset<std::string> out;
  for (size_t at = sql.find("check("); at != std::string::npos; at = sql.find("check(", at + 1)) {
    if (at > 0 && sql[at - 1] != ' ' && sql[at - 1] != ',' && sql[at - 1] != '(') continue;
    int depth = 0;
    size_t i = at + 5;
    for (; i < sql.size(); ++i) {
      if (sql[i] == '\'') {
        for (++i; i < sql.size() && sql[i] != '\''; ++i) {
        }
      } else if (sql[i] == '(') {
        ++depth;
      } else if (sql[i] == ')' && --depth == 0) {
        break;
      }
    }
    out.insert(sql.substr(at, i + 1 - at));
  }
  return out;
}

std::string Quoted(const std::string& identifier) {
  std::string out = "\"";
  for (char c : identifier) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

Result<std::string> IndexColumns(Database& db, const std::string& index) {
  auto q = db.Prepare(
      "SELECT name, \"desc\", coll FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno");
  if (!q) return q.error();
  q->Bind(1, std::string_view(index));
  std::string out = "(";
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    if (out.size() > 1) out += ", ";
    out += q->ColumnIsNull(0) ? std::string("<expression>") : q->ColumnText(0);
    if (q->ColumnInt(1) != 0) out += " DESC";
    if (q->ColumnText(2) != "BINARY") out += " COLLATE " + q->ColumnText(2);
  }
  return out + ")";
}

Result<TableShape> ReadTable(Database& db, const std::string& table, const std::string& sql) {
  TableShape t;
  t.sql = NormalizeSql(sql);
  t.checks = ChecksOf(t.sql);
  auto cols = db.Prepare(
      "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid");
  if (!cols) return cols.error();
  cols->Bind(1, std::string_view(table));
  while (true) {
    auto row = cols->Step();
    if (!row) return row.error();
    if (!*row) break;
    std::string type = AsciiUpper(cols->ColumnText(1));
    t.columns.push_back({cols->ColumnText(0), type, cols->ColumnInt(2) != 0,
                         cols->ColumnOptionalText(3), cols->ColumnInt(4)});
  }
  std::vector<IndexShape> indexes;
  {
    auto idx = db.Prepare(
        "SELECT il.name, il.\"unique\", il.origin, il.partial, m.sql "
        "FROM pragma_index_list(?) AS il LEFT JOIN sqlite_master AS m "
        "ON m.type = 'index' AND m.name = il.name");
    if (!idx) return idx.error();
    idx->Bind(1, std::string_view(table));
    while (true) {
      auto row = idx->Step();
      if (!row) return row.error();
      if (!*row) break;
      indexes.push_back({idx->ColumnText(0), idx->ColumnInt(1) != 0, idx->ColumnText(2),
                         idx->ColumnInt(3) != 0, "",
                         NormalizeSql(idx->ColumnOptionalText(4).value_or(""))});
    }
  }
  for (auto& ix : indexes) {
    auto columns = IndexColumns(db, ix.name);
    if (!columns) return columns.error();
    ix.columns = *columns;
    if (ix.origin == "c") {
      t.indexes[ix.name] = ix;
    } else if (ix.origin == "u") {
      t.constraint_indexes.insert("UNIQUE " + ix.columns);
    }  // "pk": the primary key, compared through the columns' pk positions
  }
  auto fks = db.Prepare(
      "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete, \"match\" "
      "FROM pragma_foreign_key_list(?) ORDER BY id, seq");
  if (!fks) return fks.error();
  fks->Bind(1, std::string_view(table));
  std::map<int64_t, std::vector<std::string>> by_id;  // id -> from, to, parent, actions
  while (true) {
    auto row = fks->Step();
    if (!row) return row.error();
    if (!*row) break;
    auto& fk = by_id[fks->ColumnInt(0)];
    if (fk.empty()) {
      std::string actions;
      if (fks->ColumnText(4) != "NO ACTION") actions += " ON UPDATE " + fks->ColumnText(4);
      if (fks->ColumnText(5) != "NO ACTION") actions += " ON DELETE " + fks->ColumnText(5);
      if (fks->ColumnText(6) != "NONE") actions += " MATCH " + fks->ColumnText(6);
      fk = {"", "", fks->ColumnText(1), actions};
    }
    fk[0] += (fk[0].empty() ? "" : ", ") + fks->ColumnText(2);
    fk[1] += (fk[1].empty() ? "" : ", ") +
             (fks->ColumnIsNull(3) ? std::string("<its primary key>") : fks->ColumnText(3));
  }
  for (const auto& [id, fk] : by_id) {
    t.foreign_keys.insert("(" + fk[0] + ") REFERENCES " + fk[2] + "(" + fk[1] + ")" + fk[3]);
  }
  return t;
}

// The schema of `db` apart from SQLite's own objects and schema_migrations.
Result<SchemaShape> ReadSchema(Database& db) {
  SchemaShape s;
  auto q = db.Prepare(
      "SELECT type, name, tbl_name, sql FROM sqlite_master "
      "WHERE substr(name, 1, 7) <> 'sqlite_' AND name <> 'schema_migrations' ORDER BY rowid");
  if (!q) return q.error();
  std::vector<std::pair<std::string, std::string>> tables;  // name, sql
  while (true) {
    auto row = q->Step();
    if (!row) return row.error();
    if (!*row) break;
    std::string type = q->ColumnText(0), name = q->ColumnText(1);
    if (type == "table") {
      tables.emplace_back(name, q->ColumnOptionalText(3).value_or(""));
    } else if (type == "index") {
      s.index_table[name] = q->ColumnText(2);
    } else {
      s.others[name] = type;
    }
  }
  for (const auto& [name, sql] : tables) {
    auto t = ReadTable(db, name, sql);
    if (!t) return t.error();
    s.table_order.push_back(name);
    s.tables[name] = std::move(*t);
  }
  return s;
}

// The schema after each migration: shapes[k] is the schema after migrations[0..k],
// built on a private in-memory database. Stops early (fewer shapes) at a migration
// that fails there, so a broken later file never hides what 001 creates.
Result<std::vector<SchemaShape>> ReferenceShapes(const std::vector<Migration>& migrations) {
  auto mem = Database::Open(":memory:");
  if (!mem) return mem.error();
  std::vector<SchemaShape> shapes;
  for (const auto& m : migrations) {
    if (auto st = (*mem)->Exec(m.sql); !st) {
      if (shapes.empty()) {
        return Error::Internal("migration " + m.name +
                               " fails on an empty database: " + st.error().message);
      }
      break;
    }
    auto shape = ReadSchema(**mem);
    if (!shape) return shape.error();
    shapes.push_back(std::move(*shape));
  }
  return shapes;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string DescribeDefault(const std::optional<std::string>& d) {
  return d ? "DEFAULT " + *d : std::string("no default");
}

// Where a later migration first creates what `found` says; "" when none does.
template <typename Found>
std::string LaterMigration(const std::vector<SchemaShape>& shapes,
                           const std::vector<Migration>& migrations, Found found) {
  for (size_t k = 1; k < shapes.size(); ++k) {
    if (found(shapes[k])) return migrations[k].name;
  }
  return "";
}

void CompareTable(const std::string& table, const TableShape& have, const TableShape& want,
                  const std::vector<SchemaShape>& shapes, const std::vector<Migration>& migrations,
                  std::vector<std::string>& diffs) {
  const size_t before = diffs.size();
  const std::string& first = migrations[0].name;
  auto line = [&](const std::string& text) { diffs.push_back("table " + table + ": " + text); };
  std::map<std::string, const ColumnShape*> want_cols, have_cols;
  for (const auto& c : want.columns) want_cols[c.name] = &c;
  for (const auto& c : have.columns) have_cols[c.name] = &c;
  for (const auto& c : want.columns) {
    if (!have_cols.count(c.name)) line("column " + c.name + " is missing");
  }
  for (const auto& c : have.columns) {
    auto it = want_cols.find(c.name);
    if (it == want_cols.end()) {
      std::string later = LaterMigration(shapes, migrations, [&](const SchemaShape& s) {
        auto t = s.tables.find(table);
        return t != s.tables.end() &&
               std::any_of(t->second.columns.begin(), t->second.columns.end(),
                           [&](const ColumnShape& x) { return x.name == c.name; });
      });
      line("column " + c.name +
           (later.empty() ? " is not created by " + first
                          : " belongs to " + later + ", a later migration"));
      continue;
    }
    const ColumnShape& w = *it->second;
    if (c.type != w.type) {
      line("column " + c.name + " is declared " + (c.type.empty() ? "without a type" : c.type) +
           ", " + first + " declares " + (w.type.empty() ? "no type" : w.type));
    }
    if (c.not_null != w.not_null) {
      line("column " + c.name + (c.not_null ? " is NOT NULL" : " allows NULL") + ", " + first +
           (w.not_null ? " declares it NOT NULL" : " allows NULL"));
    }
    if (c.default_value != w.default_value) {
      line("column " + c.name + " has " + DescribeDefault(c.default_value) + ", " + first +
           " has " + DescribeDefault(w.default_value));
    }
    if (c.pk != w.pk) {
      line("column " + c.name + (c.pk ? " is" : " is not") + " part of the primary key, " + first +
           (w.pk ? " makes it" : " does not make it") + " the primary key");
    }
  }
  if (diffs.size() == before) {
    std::vector<std::string> have_order, want_order;
    for (const auto& c : have.columns) have_order.push_back(c.name);
    for (const auto& c : want.columns) want_order.push_back(c.name);
    if (have_order != want_order) {
      line("columns are in the order " + Join(have_order) + "; " + first + " has " +
           Join(want_order));
    }
  }
  for (const auto& [name, w] : want.indexes) {
    auto it = have.indexes.find(name);
    if (it == have.indexes.end()) {
      line("index " + name + " is missing");
    } else if (it->second.columns != w.columns || it->second.unique != w.unique) {
      line("index " + name + " is " + (it->second.unique ? "UNIQUE " : "") + "on " +
           it->second.columns + ", " + first + " has it " + (w.unique ? "UNIQUE " : "") + "on " +
           w.columns);
    } else if (it->second.sql != w.sql) {
      line("index " + name + " is `" + it->second.sql + "`, " + first + " has `" + w.sql + "`");
    }
  }
  for (const auto& entry : have.indexes) {
    const std::string& name = entry.first;  // a plain reference: lambdas may capture it
    if (want.indexes.count(name)) continue;
    std::string later = LaterMigration(shapes, migrations, [&](const SchemaShape& s) {
      auto t = s.tables.find(table);
      return t != s.tables.end() && t->second.indexes.count(name) > 0;
    });
    line("index " + name +
         (later.empty() ? " is not created by " + first
                        : " belongs to " + later + ", a later migration"));
  }
  auto compare_sets = [&](const std::multiset<std::string>& h, const std::multiset<std::string>& w,
                          const std::string& what) {
    for (const auto& x : std::set<std::string>(w.begin(), w.end())) {
      if (h.count(x) < w.count(x)) line(what + " " + x + " is missing");
    }
    for (const auto& x : std::set<std::string>(h.begin(), h.end())) {
      if (w.count(x) < h.count(x)) line(what + " " + x + " is not in " + first);
    }
  };
  compare_sets(have.constraint_indexes, want.constraint_indexes, "constraint");
  compare_sets(have.foreign_keys, want.foreign_keys, "foreign key");
  compare_sets(have.checks, want.checks, "constraint");
  if (diffs.size() == before && have.sql != want.sql) {
    line("its CREATE TABLE statement differs from " + first +
         "'s beyond columns, indexes and CHECK constraints: `" + have.sql + "`");
  }
}

std::string FormatVersion(int v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%03d", v);
  return buf;
}

}  // namespace

Migrator::Migrator(Database& db, std::vector<Migration> migrations)
    : db_(db), migrations_(std::move(migrations)) {}

Result<Migrator> Migrator::ForEmbedded(Database& db) {
  auto m =
      LoadMigrations(db.backend() == Database::Backend::kPostgres ? EmbeddedPostgresMigrationFiles()
                                                                  : EmbeddedMigrationFiles());
  if (!m) return m.error();
  return Migrator(db, std::move(*m));
}

int Migrator::LatestVersion() const { return migrations_.empty() ? 0 : migrations_.back().version; }

Status Migrator::EnsureTable() {
  return db_.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,"
      " applied_at BIGINT NOT NULL)");
}

namespace {

bool OnPostgres(const Database& db) { return db.backend() == Database::Backend::kPostgres; }

// The tables of depositbot's own schema: sqlite_master, or PostgreSQL's current schema.
std::string CountTablesSql(const Database& db, std::string_view where) {
  if (OnPostgres(db)) {
    return "SELECT COUNT(*) FROM information_schema.tables "
           "WHERE table_schema = current_schema() AND " +
           std::string(where);
  }
  return "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND " + std::string(where);
}

std::string RecordMigrationSql(const Database& db) {
  return std::string(
             "INSERT INTO schema_migrations(version, name, checksum, applied_at) VALUES (?, ?, "
             "?, ") +
         (OnPostgres(db) ? "CAST(EXTRACT(EPOCH FROM now()) AS BIGINT))" : "strftime('%s','now'))");
}

Result<bool> SchemaMigrationsExists(Database& db) {
  auto q = db.Prepare(CountTablesSql(
      db, OnPostgres(db) ? "table_name = 'schema_migrations'" : "name = 'schema_migrations'"));
  if (!q) return q.error();
  auto row = q->Step();
  if (!row) return row.error();
  return q->ColumnInt(0) > 0;
}

}  // namespace

Result<std::vector<MigrationState>> Migrator::States() {
  auto lock = db_.Lock();  // one connection for the whole call (a pool hands out many)
  std::map<int, std::pair<std::string, int64_t>> applied;  // version -> (checksum, at)
  std::map<int, std::string> names;
  // Read-only: `migrate --status` must not create the table in a database it
  // only looks at (an unversioned one would then look half-recorded).
  auto exists = SchemaMigrationsExists(db_);
  if (!exists) return exists.error();
  if (*exists) {
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
  }
  std::vector<MigrationState> out;
  for (const auto& m : migrations_) {
    MigrationState s{m, false, 0};
    if (auto it = applied.find(m.version); it != applied.end()) {
      if (it->second.first != m.checksum) {
        return Error::FailedPrecondition(
            "migration " + m.name +
            " was edited after it was applied (checksum in the "
            "database " +
            it->second.first.substr(0, 12) + "…, file " + m.checksum.substr(0, 12) +
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

Result<bool> Migrator::IsUnversioned() {
  auto lock = db_.Lock();  // one connection for the whole call (a pool hands out many)
  auto exists = SchemaMigrationsExists(db_);
  if (!exists) return exists.error();
  if (*exists) {
    auto q = db_.Prepare("SELECT COUNT(*) FROM schema_migrations");
    if (!q) return q.error();
    auto row = q->Step();
    if (!row) return row.error();
    if (q->ColumnInt(0) > 0) return false;
  }
  auto q = db_.Prepare(CountTablesSql(
      db_, OnPostgres(db_) ? "table_name <> 'schema_migrations'"
                           : "substr(name, 1, 7) <> 'sqlite_' AND name <> 'schema_migrations'"));
  if (!q) return q.error();
  auto row = q->Step();
  if (!row) return row.error();
  return q->ColumnInt(0) > 0;
}

Status Migrator::CheckAdoptable() {
  auto lock = db_.Lock();  // one connection for the whole call (a pool hands out many)
  if (migrations_.empty()) return Error::Internal("this binary has no migrations to compare with");
  if (OnPostgres(db_)) {
    return Error::FailedPrecondition(
        "the PostgreSQL database " + db_.path() +
        " has tables but no record of applied migrations; depositbot adopts only SQLite files "
        "made before it recorded migrations. Give it an empty database (depositbot copy-db "
        "moves a bot there, see docs/upgrading.md); nothing was changed");
  }
  auto shapes = ReferenceShapes(migrations_);
  if (!shapes) return shapes.error();
  auto have = ReadSchema(db_);
  if (!have) return have.error();
  const SchemaShape& want = shapes->front();
  const std::string& first = migrations_.front().name;
  std::vector<std::string> diffs;
  auto later_owner = [&](const std::string& name, bool table) {
    return LaterMigration(*shapes, migrations_, [&](const SchemaShape& s) {
      return table ? s.tables.count(name) > 0
                   : (s.index_table.count(name) > 0 || s.others.count(name) > 0);
    });
  };
  for (const auto& name : want.table_order) {
    auto it = have->tables.find(name);
    if (it == have->tables.end()) {
      diffs.push_back("table " + name + " is missing");
    } else {
      CompareTable(name, it->second, want.tables.at(name), *shapes, migrations_, diffs);
    }
  }
  for (const auto& name : have->table_order) {
    if (want.tables.count(name)) continue;
    std::string later = later_owner(name, true);
    diffs.push_back("table " + name +
                    (later.empty() ? " is not created by any migration"
                                   : " belongs to " + later + ", a later migration"));
  }
  // Indexes were compared with their table (001's) or are named by it (any other).
  for (const auto& [name, type] : have->others) {
    std::string later = later_owner(name, false);
    diffs.push_back(type + " " + name +
                    (later.empty() ? " is not created by any migration"
                                   : " belongs to " + later + ", a later migration"));
  }
  if (diffs.empty()) return Status::Ok();
  std::string message = "the database \"" + db_.path() +
                        "\" has tables but no record of applied migrations, and it is not "
                        "exactly what " +
                        first +
                        " creates, so it was not adopted and nothing was changed "
                        "(see docs/upgrading.md):";
  for (const auto& d : diffs) message += "\n  - " + d;
  return Error::FailedPrecondition(message);
}

Result<BookCounts> Migrator::CountBooks() {
  auto lock = db_.Lock();  // one connection for the whole call (a pool hands out many)
  if (migrations_.empty()) return BookCounts{};
  if (book_tables_.empty()) {
    // 001's tables as SQLite runs it (PostgreSQL's 001 creates the same ones).
    auto sqlite_migrations = OnPostgres(db_) ? LoadMigrations(EmbeddedMigrationFiles())
                                             : Result<std::vector<Migration>>(migrations_);
    if (!sqlite_migrations) return sqlite_migrations.error();
    auto shapes = ReferenceShapes(*sqlite_migrations);
    if (!shapes) return shapes.error();
    book_tables_ = shapes->front().table_order;
  }
  BookCounts counts;
  for (const auto& table : book_tables_) {
    auto q = db_.Prepare("SELECT COUNT(*) FROM " + Quoted(table));
    if (!q) return q.error();
    auto row = q->Step();
    if (!row) return row.error();
    counts.rows.emplace_back(table, q->ColumnInt(0));
  }
  // SUM fails on int64 overflow rather than rounding: money is never a double.
  auto sum = db_.Prepare("SELECT COALESCE(SUM(balance), 0) FROM user_deposits");
  if (!sum) return sum.error();
  auto row = sum->Step();
  if (!row) return row.error();
  counts.balance_sum = sum->ColumnInt(0);
  return counts;
}

Result<std::optional<BookCounts>> Migrator::Adopt() {
  auto unversioned = IsUnversioned();
  if (!unversioned) return unversioned.error();
  if (!*unversioned || migrations_.empty()) return std::optional<BookCounts>();
  // The check, the counts and the record happen under the write lock, in one
  // transaction: another process cannot change the schema in between, and a
  // crash before COMMIT leaves the database exactly as it was.
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  unversioned = IsUnversioned();  // another `migrate` may have adopted it meanwhile
  if (!unversioned) return unversioned.error();
  if (!*unversioned) return std::optional<BookCounts>();
  if (auto st = CheckAdoptable(); !st) return st.error();
  auto counts = CountBooks();
  if (!counts) return counts.error();
  if (auto st = EnsureTable(); !st) return st.error();
  const Migration& first = migrations_.front();
  auto ins = db_.Prepare(RecordMigrationSql(db_));
  if (!ins) return ins.error();
  ins->Bind(1, int64_t{first.version})
      .Bind(2, std::string_view(first.name))
      .Bind(3, std::string_view(first.checksum));
  if (auto st = ins->Run(); !st) return st.error();
  if (auto st = DEPOSITBOT_FAILPOINT("migrate.adopt_before_commit"); !st) return st.error();
  if (auto st = tx->Commit(); !st) return st.error();
  Log(LogLevel::kInfo, "db.adopted", {{"migration", first.name}});
  return std::optional<BookCounts>(std::move(*counts));
}

Result<MigrateReport> Migrator::Migrate() {
  auto lock = db_.Lock();  // one connection for the whole call (a pool hands out many)
  MigrateReport report;
  auto adopted = Adopt();
  if (!adopted) return adopted.error();
  report.adopted = std::move(*adopted);
  auto applied = ApplyPending(1 << 30);
  if (!applied) {
    if (!report.adopted) return applied.error();
    return Error{applied.error().code, "the database was adopted at " +
                                           FormatVersion(migrations_.front().version) +
                                           ", but upgrading it failed: " + applied.error().message};
  }
  report.applied = std::move(*applied);
  if (report.adopted) {
    // Each migration was checked under its own lock; a difference here can
    // only come from another process writing between them (the bot running).
    auto after = CountBooks();
    if (!after) return after.error();
    report.after = std::move(*after);
  }
  return report;
}

std::string DescribeChange(const BookCounts& before, const BookCounts& after) {
  std::string out;
  auto add = [&out](const std::string& what, int64_t a, int64_t b) {
    if (a == b) return;
    out += (out.empty() ? "" : ", ") + what + " " + std::to_string(a) + " -> " + std::to_string(b);
  };
  for (size_t i = 0; i < before.rows.size() && i < after.rows.size(); ++i) {
    add(before.rows[i].first, before.rows[i].second, after.rows[i].second);
  }
  add("balance sum", before.balance_sum, after.balance_sum);
  return out;
}

Result<int> Migrator::Apply(int target_version) {
  auto lock = db_.Lock();  // one connection for the whole call (a pool hands out many)
  auto applied = ApplyPending(target_version);
  if (!applied) return applied.error();
  return static_cast<int>(applied->size());
}

Result<std::vector<int>> Migrator::ApplyPending(int target_version) {
  auto states = States();
  if (!states) return states.error();
  std::vector<int> applied;
  for (const auto& s : *states) {
    if (s.applied || s.migration.version > target_version) continue;
    auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
    if (!tx) return tx.error();
    if (OnPostgres(db_)) {
      // SQLite's IMMEDIATE takes the one write lock; on PostgreSQL instances starting together
      // take turns on this lock (held to the end of the transaction) instead.
      if (auto st = db_.Exec("SELECT pg_advisory_xact_lock(hashtext('depositbot.migrate'))"); !st) {
        return st.error();
      }
    }
    // Created inside the transaction so that a refusal below leaves no trace.
    if (auto st = EnsureTable(); !st) return st.error();
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
    if (s.migration.version == migrations_.front().version) {
      // The first migration only ever runs on an empty database: tables
      // without a record are adopted by `depositbot migrate` after a check,
      // never guessed at here (and never "table users already exists").
      auto unversioned = IsUnversioned();
      if (!unversioned) return unversioned.error();
      if (*unversioned) {
        return Error::FailedPrecondition(
            "the database \"" + db_.path() +
            "\" has tables but no record of applied migrations; stop the bot, back the file "
            "up and run `depositbot migrate` to check it and adopt it (docs/upgrading.md)");
      }
    }
    // A migration after the first never adds, drops or moves money: the books
    // are counted before and after it under the same lock, and a difference
    // rolls it back.
    const bool check_books = s.migration.version != migrations_.front().version;
    BookCounts books_before;
    if (check_books) {
      auto counted = CountBooks();
      if (!counted) return counted.error();
      books_before = std::move(*counted);
    }
    if (auto st = db_.Exec(s.migration.sql); !st) {
      return Error::Internal("migration " + s.migration.name + " failed: " + st.error().message);
    }
    if (check_books) {
      auto books_after = CountBooks();
      if (!books_after) {
        return Error::Internal("migration " + s.migration.name + " left the books unreadable (" +
                               books_after.error().message + "); it was rolled back");
      }
      if (std::string change = DescribeChange(books_before, *books_after); !change.empty()) {
        return Error::Internal("migration " + s.migration.name + " would change the books (" +
                               change + "); it was rolled back and nothing was changed");
      }
    }
    auto ins = db_.Prepare(RecordMigrationSql(db_));
    if (!ins) return ins.error();
    ins->Bind(1, int64_t{s.migration.version})
        .Bind(2, std::string_view(s.migration.name))
        .Bind(3, std::string_view(s.migration.checksum));
    if (auto st = ins->Run(); !st) return st.error();
    if (auto st = tx->Commit(); !st) return st.error();
    Log(LogLevel::kInfo, "db.migrated", {{"migration", s.migration.name}});
    applied.push_back(s.migration.version);
  }
  return applied;
}

}  // namespace depositbot
