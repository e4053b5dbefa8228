#pragma once

#include <string>
#include <string_view>

namespace depositbot {

// DEPOSITBOT_DB as text, for the layers that only show it (config, start-up line) without
// opening a database: whether it names PostgreSQL ("postgresql://" or "postgres://"; anything
// else is a SQLite path), and the target with a password in it (user:PASSWORD@ or
// ?password=) replaced by "***".
bool IsPostgresUri(std::string_view target);
std::string RedactedDatabaseTarget(std::string_view target);

}  // namespace depositbot
