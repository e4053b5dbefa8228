#include "db/user_repository.h"

#include <cctype>
#include <mutex>

#include "db/database.h"

namespace depositbot {
namespace {

constexpr const char* kSelectUser =
    "SELECT id, telegram_id, display_name, created_at, username FROM users WHERE ";

User RowToUser(const Statement& q) {
  return User{q.ColumnInt(0), q.ColumnInt(1), q.ColumnText(2), q.ColumnInt(3),
              q.ColumnOptionalText(4)};
}

Result<User> ReadUser(Database& db, std::string_view where, int64_t key) {
  auto q = db.Prepare(std::string(kSelectUser) + std::string(where) + " = ?");
  if (!q) return q.error();
  q->Bind(1, key);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row)
    return Error::NotFound("no user with " + std::string(where) + " " + std::to_string(key));
  return RowToUser(*q);
}

// Telegram usernames are 5-32 of [A-Za-z0-9_]; compared in lower case.
bool IsUsername(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<User> UserRepository::FindOrCreate(int64_t telegram_id, std::string_view display_name) {
  if (telegram_id <= 0) return Error::Invalid("a Telegram user id must be positive");
  std::string name(display_name.substr(0, 128));
  auto lock = db_.Lock();
  if (auto u = ReadUser(db_, "telegram_id", telegram_id); u) {
    if (!name.empty() && u->display_name != name) {
      auto q = db_.Prepare("UPDATE users SET display_name = ? WHERE id = ?");
      if (!q) return q.error();
      q->Bind(1, std::string_view(name)).Bind(2, u->id);
      if (auto st = q->Run(); !st) return st.error();
      u->display_name = name;
    }
    return u;
  } else if (u.code() != ErrorCode::kNotFound) {
    return u.error();
  }
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  // Another connection may have created the user since our read.
  auto ins = db_.Prepare(
      "INSERT INTO users(telegram_id, display_name, created_at) VALUES (?, ?, ?) "
      "ON CONFLICT(telegram_id) DO NOTHING");
  if (!ins) return ins.error();
  int64_t now = clock_.NowSeconds();
  ins->Bind(1, telegram_id).Bind(2, std::string_view(name)).Bind(3, now);
  if (auto st = ins->Run(); !st) return st.error();
  auto u = ReadUser(db_, "telegram_id", telegram_id);
  if (!u) return u.error();
  auto acct = db_.Prepare(
      "INSERT INTO user_deposits(user_id, balance, updated_at) VALUES (?, 0, ?) "
      "ON CONFLICT(user_id) DO NOTHING");
  if (!acct) return acct.error();
  acct->Bind(1, u->id).Bind(2, now);
  if (auto st = acct->Run(); !st) return st.error();
  if (auto st = tx->Commit(); !st) return st.error();
  return u;
}

Result<User> UserRepository::FindByTelegramId(int64_t telegram_id) {
  auto lock = db_.Lock();
  return ReadUser(db_, "telegram_id", telegram_id);
}

Result<User> UserRepository::FindById(int64_t user_id) {
  auto lock = db_.Lock();
  return ReadUser(db_, "id", user_id);
}

Status UserRepository::RecordUsername(int64_t user_id, std::string_view username) {
  std::optional<std::string> name;
  if (!username.empty()) {
    if (!IsUsername(username)) {
      return Error::Invalid("a username is 1-32 lower-case letters, digits or '_'");
    }
    name = std::string(username);
  }
  auto lock = db_.Lock();
  auto tx = Transaction::Begin(db_, Transaction::Kind::kImmediate);
  if (!tx) return tx.error();
  if (name) {
    auto free = db_.Prepare("UPDATE users SET username = NULL WHERE username = ? AND id <> ?");
    if (!free) return free.error();
    free->Bind(1, std::string_view(*name)).Bind(2, user_id);
    if (auto st = free->Run(); !st) return st.error();
  }
  auto q = db_.Prepare("UPDATE users SET username = ? WHERE id = ?");
  if (!q) return q.error();
  q->Bind(1, name).Bind(2, user_id);
  if (auto st = q->Run(); !st) return st.error();
  if (db_.Changes() != 1) return Error::NotFound("no user " + std::to_string(user_id));
  return tx->Commit();
}

Result<User> UserRepository::FindByUsername(std::string_view username) {
  auto lock = db_.Lock();
  auto q = db_.Prepare(std::string(kSelectUser) + "username = ? ORDER BY id LIMIT 2");
  if (!q) return q.error();
  q->Bind(1, username);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row) return Error::NotFound("no user has the username @" + std::string(username));
  User u = RowToUser(*q);
  // RecordUsername keeps a username on one user; two can hold it only after two instances
  // recorded it at the same moment. Then neither is "the" user.
  auto second = q->Step();
  if (!second) return second.error();
  if (*second) {
    return Error::FailedPrecondition("more than one user had the username @" +
                                     std::string(username) + "; use the Telegram id");
  }
  return u;
}

}  // namespace depositbot
