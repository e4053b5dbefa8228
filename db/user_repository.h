#pragma once

#include <cstdint>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "db/ledger_types.h"
#include "db/user_store.h"

namespace depositbot {

class Database;

// The UserStore on SQLite. Thread-safe in the same way as DepositRepository.
class UserRepository final : public UserStore {
 public:
  UserRepository(Database& db, const Clock& clock) : db_(db), clock_(clock) {}

  Result<User> FindOrCreate(int64_t telegram_id, std::string_view display_name) override;
  Result<User> FindByTelegramId(int64_t telegram_id) override;
  Result<User> FindById(int64_t user_id) override;
  Status RecordUsername(int64_t user_id, std::string_view username) override;
  Result<User> FindByUsername(std::string_view username) override;

 private:
  Database& db_;
  const Clock& clock_;
};

}  // namespace depositbot
