#pragma once

#include <string_view>

#include "common/result.h"

namespace depositbot {

// Named points where a test build can make the process fail on purpose
// (crash tests, DESIGN.md money rules). Compiled in only when CMake's
// DEPOSITBOT_FAILPOINTS option is on; otherwise DEPOSITBOT_FAILPOINT is a
// no-op that returns Ok. Armed by the environment:
//   DEPOSITBOT_FAILPOINT="purchase.after_debit=exit"        exit(86) at once
//   DEPOSITBOT_FAILPOINT="ledger.before_commit=error"        return kInternal
//   DEPOSITBOT_FAILPOINT="purchase.after_create=sleep:200"   sleep 200 ms
// Several points are separated by ','. A point may carry "@N" to fire only on
// its N-th hit ("purchase.after_debit=exit@2").
Status FailpointHit(std::string_view name);
// Exit code used by "exit" so tests can tell a failpoint from a crash.
inline constexpr int kFailpointExitCode = 86;

}  // namespace depositbot

#ifdef DEPOSITBOT_FAILPOINTS
#define DEPOSITBOT_FAILPOINT(name) ::depositbot::FailpointHit(name)
#else
#define DEPOSITBOT_FAILPOINT(name) ::depositbot::Status::Ok()
#endif
