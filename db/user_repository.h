#pragma once

#include <cstdint>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "db/ledger_types.h"

namespace depositbot {

class Database;

// Users as the transport knows them (by Telegram id). Creating a user also
// creates their zero balance in the same transaction. Thread-safe in the same
// way as DepositRepository.
class UserRepository {
 public:
  UserRepository(Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Returns the user with this Telegram id, creating them (balance 0) on first
  // contact; a changed display name is updated.
  Result<User> FindOrCreate(int64_t telegram_id, std::string_view display_name);
  Result<User> FindByTelegramId(int64_t telegram_id);
  Result<User> FindById(int64_t user_id);

 private:
  Database& db_;
  const Clock& clock_;
};

}  // namespace depositbot
