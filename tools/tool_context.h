#pragma once

#include <cstdint>
#include <string>

namespace depositbot {

// Who is acting in a tool call. The transport (Telegram session, terminal) fills it in from
// what it authenticated; nothing in it ever comes from model output, and tool arguments cannot
// override it. Handlers still check is_admin themselves for admin actions.
struct ToolContext {
  int64_t user_id = 0;         // users.id in the database
  int64_t telegram_id = 0;     // the authenticated Telegram user id
  std::string display_name{};  // for replies and logs only; never an authority
  bool is_admin = false;       // telegram_id is listed in ADMIN_IDS
};

}  // namespace depositbot
