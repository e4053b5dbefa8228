#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "db/ledger_types.h"

namespace depositbot {

// Users as the transport knows them (by Telegram id). Creating a user also
// creates their zero balance in the same transaction. Implementations are
// thread-safe, also across processes sharing the store.
class UserStore {
 public:
  virtual ~UserStore() = default;

  // Returns the user with this Telegram id, creating them (balance 0) on first
  // contact; a changed display name is updated.
  virtual Result<User> FindOrCreate(int64_t telegram_id, std::string_view display_name) = 0;
  virtual Result<User> FindByTelegramId(int64_t telegram_id) = 0;
  virtual Result<User> FindById(int64_t user_id) = 0;

  // Users by the Telegram @username a transport last saw on their messages (lower case,
  // without '@'). RecordUsername stores it for `user_id` (empty: they have none now) and takes
  // it from any other user who had it, as Telegram moves a username only by freeing it.
  // FindByUsername is kNotFound when nobody has it.
  virtual Status RecordUsername(int64_t user_id, std::string_view username) = 0;
  virtual Result<User> FindByUsername(std::string_view username) = 0;
};

}  // namespace depositbot
