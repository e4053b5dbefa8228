#pragma once

#include <string>

#include "app/config.h"

namespace depositbot {

// `depositbot copy-db --from SRC --to DST`: copies a bot's books from one database to another,
// empty one (SQLite <-> PostgreSQL) with db/database_copy.h, and prints what it copied and
// checked. Exit 0 on success (the copy's reconciliation findings, if any, are the source's and
// are listed), 2 on a refusal or a failed copy (nothing copied), with one line on stderr.
int RunCopyDb(const Config& config, const std::string& from, const std::string& to);

}  // namespace depositbot
