#include "db/user_repository.h"

#include <mutex>

#include "db/database.h"

namespace depositbot {
namespace {

Result<User> ReadUser(Database& db, std::string_view where, int64_t key) {
  auto q = db.Prepare("SELECT id, telegram_id, display_name, created_at FROM users WHERE " +
                      std::string(where) + " = ?");
  if (!q) return q.error();
  q->Bind(1, key);
  auto row = q->Step();
  if (!row) return row.error();
  if (!*row)
    return Error::NotFound("no user with " + std::string(where) + " " + std::to_string(key));
  return User{q->ColumnInt(0), q->ColumnInt(1), q->ColumnText(2), q->ColumnInt(3)};
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

}  // namespace depositbot
