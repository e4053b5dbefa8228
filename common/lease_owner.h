#pragma once

#include <string>
#include <string_view>

namespace depositbot {

// Names one execution of a leased piece of work (a domain purchase) as
// "SPACE:PID:TOKEN": where the pid is valid (host name, boot id, pid namespace),
// the process, and a random token, so two executions in one process never share
// a name. Thread-safe.
std::string NewLeaseOwner();

// True only when `owner` provably no longer runs: it names this pid space (same
// host, boot and pid namespace) and its process does not exist. Anything else (another host, a
// reused pid, a name we cannot parse) is false, and the lease must be waited out: a mistake can
// only delay a recovery, never take a live purchase away from its process.
bool LeaseOwnerIsGone(std::string_view owner);

}  // namespace depositbot
