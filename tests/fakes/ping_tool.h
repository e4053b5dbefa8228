// A tool that does nothing but answer {"pong": true}: for agent suites that need a tool call to
// happen, not what it does.
#pragma once

#include <nlohmann/json.hpp>

#include "tools/tool.h"
#include "tools/tool_context.h"

namespace depositbot::testing {

inline Tool PingTool() {
  Tool ping;
  ping.name = "ping";
  ping.description = "answers pong";
  ping.invoke = [](const ToolContext&, const nlohmann::json&) {
    ToolResult r;
    r.payload = {{"pong", true}};
    return r;
  };
  return ping;
}

}  // namespace depositbot::testing
