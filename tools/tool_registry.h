#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tools/tool.h"
#include "tools/tool_context.h"

namespace depositbot {

// The tools offered to the model, and the one door through which its calls reach them.
// Every failure of a call (unknown tool, forbidden, bad JSON, invalid arguments, a handler that
// throws) comes back as a ToolResult for the model, never as an exception.
//
// Thread-safe: Register, Schemas, Names and Invoke may be called from any thread; handlers run
// outside the registry's lock, so they may run concurrently with each other.
class ToolRegistry {
 public:
  // Longest arguments text accepted; anything longer is refused unparsed.
  static constexpr size_t kMaxArgumentsBytes = 64 * 1024;

  ToolRegistry() = default;
  // Movable so that wiring code can build one and return it; not copyable (tools may hold
  // references to their dependencies). Moving locks both registries.
  ToolRegistry(ToolRegistry&& other) noexcept;
  ToolRegistry& operator=(ToolRegistry&& other) noexcept;
  ToolRegistry(const ToolRegistry&) = delete;
  ToolRegistry& operator=(const ToolRegistry&) = delete;

  // Adds a tool. A duplicate name, a name that is not [A-Za-z0-9_-]{1,64} or a tool without
  // `invoke` is a programming error: throws std::logic_error.
  void Register(Tool tool);

  // The OpenAI `tools` array in registration order:
  // [{"type":"function","function":{"name","description","parameters"}}, ...]. Admin-only tools
  // are left out and the parameters are the non-admin schema unless ctx.is_admin. Empty when
  // nothing is offered (the caller then omits `tools` from the request).
  nlohmann::json Schemas(const ToolContext& ctx) const;
  // The same, built once per kind of user (admin or not) until the next Register, and shared.
  std::shared_ptr<const nlohmann::json> SharedSchemas(const ToolContext& ctx) const;

  // Names of the tools offered to `ctx`, in registration order.
  std::vector<std::string> Names(const ToolContext& ctx) const;

  // Runs one model tool call as `ctx`. `arguments_text` is the call's `function.arguments`
  // string; empty or whitespace means {}. Failures: "unknown_tool" (with the available names),
  // "forbidden" (admin-only tool, non-admin; logged), "arguments_too_large", "invalid_json"
  // (with a short parser message), "invalid_arguments" (not an object, or the tool's schema
  // refused them), "internal_error" (the handler threw; logged with the tool name).
  ToolResult Invoke(const ToolContext& ctx, std::string_view name,
                    std::string_view arguments_text) const;

  // As Invoke, for servers that hand over the arguments already as JSON (Ollama's native API).
  ToolResult InvokeParsed(const ToolContext& ctx, std::string_view name,
                          const nlohmann::json& arguments) const;

 private:
  // Null when `name` is not registered.
  std::shared_ptr<const Tool> Find(std::string_view name) const;
  std::vector<std::shared_ptr<const Tool>> Offered(const ToolContext& ctx) const;

  mutable std::shared_mutex mu_;
  // SharedSchemas' copies, [0] for users and [1] for admins; reset by Register. Guarded by mu_.
  mutable std::shared_ptr<const nlohmann::json> shared_schemas_[2];
  uint64_t generation_ = 0;                         // counts Register calls; guarded by mu_
  std::vector<std::shared_ptr<const Tool>> tools_;  // registration order
  std::map<std::string, std::shared_ptr<const Tool>, std::less<>> by_name_;
};

}  // namespace depositbot
