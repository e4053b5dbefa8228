#include "tools/tool_registry.h"

#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/log.h"
#include "common/text.h"

namespace depositbot {

namespace {

using nlohmann::json;

constexpr size_t kMaxToolNameLength = 64;  // OpenAI's limit on function names
constexpr size_t kMaxEchoBytes = 64;       // model text echoed into results and logs
constexpr size_t kMaxParserMessage = 160;

bool IsValidToolName(std::string_view name) {
  if (name.empty() || name.size() > kMaxToolNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// At most `max` bytes of `s`, cut on a UTF-8 boundary and marked when cut.
std::string Clip(std::string_view s, size_t max = kMaxEchoBytes) { return ClipUtf8(s, max); }

std::string_view TrimSpace(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// nlohmann's what() starts with "[json.exception.parse_error.101] "; the model needs only the
// rest ("parse error at line 1, column 5: syntax error while parsing ...").
std::string ShortParserMessage(std::string_view what) {
  if (const size_t close = what.find("] "); close != std::string_view::npos && what[0] == '[') {
    what.remove_prefix(close + 2);
  }
  return Clip(what, kMaxParserMessage);
}

json DefaultParameters() {
  return {{"type", "object"},
          {"properties", json::object()},
          {"required", json::array()},
          {"additionalProperties", false}};
}

ToolResult RunTool(const Tool& tool, const ToolContext& ctx, const json& args) {
  const std::string user = std::to_string(ctx.user_id);
  if (!args.is_object()) {
    ValidationError error({{std::string(kArgumentsField),
                            std::string("must be a JSON object, got ") + args.type_name()}});
    Log(LogLevel::kInfo, "tool_invalid_arguments",
        {{"tool", tool.name}, {"user_id", user}, {"problems", error.Summary()}});
    return ToolResult::InvalidArguments(error);
  }
  ToolResult result;
  // Handlers report expected failures as results; an exception here is a bug. It is contained
  // so that the model still gets an answer for its call id and the process keeps serving.
  try {
    result = tool.invoke(ctx, args);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "tool_handler_threw",
        {{"tool", tool.name}, {"user_id", user}, {"what", Clip(e.what(), 300)}});
    return ToolResult::Failure("internal_error",
                               "the tool failed with an internal error; tell the user something "
                               "went wrong on our side");
  } catch (...) {
    Log(LogLevel::kError, "tool_handler_threw",
        {{"tool", tool.name}, {"user_id", user}, {"what", "unknown exception"}});
    return ToolResult::Failure("internal_error",
                               "the tool failed with an internal error; tell the user something "
                               "went wrong on our side");
  }
  if (result.error_code() == "invalid_arguments") {
    const auto details = result.payload.find("details");
    Log(LogLevel::kInfo, "tool_invalid_arguments",
        {{"tool", tool.name},
         {"user_id", user},
         {"problems",
          details == result.payload.end()
              ? std::string()
              : Clip(details->dump(-1, ' ', false, json::error_handler_t::replace), 300)}});
  } else {
    Log(LogLevel::kDebug, "tool_called",
        {{"tool", tool.name},
         {"user_id", user},
         {"ok", result.ok ? "true" : "false"},
         {"error", result.error_code()}});
  }
  return result;
}

}  // namespace

ToolRegistry::ToolRegistry(ToolRegistry&& other) noexcept {
  std::unique_lock lock(other.mu_);
  tools_ = std::move(other.tools_);
  by_name_ = std::move(other.by_name_);
  other.tools_.clear();
  other.by_name_.clear();
  other.shared_schemas_[0].reset();
  other.shared_schemas_[1].reset();
  ++other.generation_;
}

ToolRegistry& ToolRegistry::operator=(ToolRegistry&& other) noexcept {
  if (this == &other) return *this;
  std::scoped_lock lock(mu_, other.mu_);
  tools_ = std::move(other.tools_);
  by_name_ = std::move(other.by_name_);
  other.tools_.clear();
  other.by_name_.clear();
  shared_schemas_[0].reset();
  shared_schemas_[1].reset();
  other.shared_schemas_[0].reset();
  other.shared_schemas_[1].reset();
  ++generation_;
  ++other.generation_;
  return *this;
}

void ToolRegistry::Register(Tool tool) {
  if (!IsValidToolName(tool.name)) {
    throw std::logic_error("tool name \"" + tool.name + "\" must be 1-64 of [A-Za-z0-9_-]");
  }
  if (!tool.invoke) throw std::logic_error("tool \"" + tool.name + "\" has no invoke function");
  std::unique_lock lock(mu_);
  if (by_name_.count(tool.name) != 0) {
    throw std::logic_error("tool \"" + tool.name + "\" registered twice");
  }
  auto shared = std::make_shared<const Tool>(std::move(tool));
  by_name_.emplace(shared->name, shared);
  tools_.push_back(std::move(shared));
  shared_schemas_[0].reset();
  shared_schemas_[1].reset();
  ++generation_;
}

std::shared_ptr<const Tool> ToolRegistry::Find(std::string_view name) const {
  std::shared_lock lock(mu_);
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const Tool>> ToolRegistry::Offered(const ToolContext& ctx) const {
  std::vector<std::shared_ptr<const Tool>> out;
  std::shared_lock lock(mu_);
  for (const auto& t : tools_) {
    if (ctx.is_admin || !t->admin_only) out.push_back(t);
  }
  return out;
}

json ToolRegistry::Schemas(const ToolContext& ctx) const {
  json out = json::array();
  for (const auto& t : Offered(ctx)) {
    json parameters = t->parameters_schema ? t->parameters_schema(ctx.is_admin) : nullptr;
    if (parameters.is_null()) parameters = DefaultParameters();
    out.push_back({{"type", "function"},
                   {"function",
                    {{"name", t->name},
                     {"description", t->description},
                     {"parameters", std::move(parameters)}}}});
  }
  return out;
}

std::shared_ptr<const json> ToolRegistry::SharedSchemas(const ToolContext& ctx) const {
  const int kind = ctx.is_admin ? 1 : 0;
  uint64_t generation = 0;
  {
    std::shared_lock lock(mu_);
    if (shared_schemas_[kind]) return shared_schemas_[kind];
    generation = generation_;
  }
  auto built = std::make_shared<const json>(Schemas(ctx));
  std::unique_lock lock(mu_);
  // Kept only if no tool was registered meanwhile (else the next call builds it again).
  if (generation == generation_ && !shared_schemas_[kind]) shared_schemas_[kind] = built;
  return built;
}

std::vector<std::string> ToolRegistry::Names(const ToolContext& ctx) const {
  std::vector<std::string> out;
  for (const auto& t : Offered(ctx)) out.push_back(t->name);
  return out;
}

ToolResult ToolRegistry::Invoke(const ToolContext& ctx, std::string_view name,
                                std::string_view arguments_text) const {
  // Name and authority are checked before the arguments are looked at, so that a non-admin
  // learns nothing about an admin tool's parameters from parser messages.
  std::shared_ptr<const Tool> tool = Find(name);
  if (!tool || (tool->admin_only && !ctx.is_admin)) return InvokeParsed(ctx, name, json::object());

  if (arguments_text.size() > kMaxArgumentsBytes) {
    Log(LogLevel::kWarn, "tool_arguments_too_large",
        {{"tool", tool->name},
         {"user_id", std::to_string(ctx.user_id)},
         {"bytes", std::to_string(arguments_text.size())}});
    return ToolResult::Failure(
        "arguments_too_large",
        "the arguments are longer than " + std::to_string(kMaxArgumentsBytes) + " bytes");
  }
  const std::string_view text = TrimSpace(arguments_text);
  json args = json::object();
  if (!text.empty()) {
    // nlohmann reports where the text broke only through its exception; caught right here.
    try {
      args = json::parse(text);
    } catch (const json::exception& e) {
      // parse_error, and out_of_range for a number no double holds ({"amount": 5e5555}).
      Log(LogLevel::kInfo, "tool_invalid_json",
          {{"tool", tool->name}, {"user_id", std::to_string(ctx.user_id)}});
      return ToolResult::Failure(
          "invalid_json", "the arguments are not valid JSON: " + ShortParserMessage(e.what()));
    }
  }
  return RunTool(*tool, ctx, args);
}

ToolResult ToolRegistry::InvokeParsed(const ToolContext& ctx, std::string_view name,
                                      const json& arguments) const {
  std::shared_ptr<const Tool> tool = Find(name);
  if (!tool) {
    Log(LogLevel::kInfo, "tool_unknown",
        {{"tool", Clip(name)}, {"user_id", std::to_string(ctx.user_id)}});
    return ToolResult::Failure("unknown_tool", "there is no tool named \"" + Clip(name) + "\"",
                               {{"available", Names(ctx)}});
  }
  if (tool->admin_only && !ctx.is_admin) {
    Log(LogLevel::kWarn, "tool_forbidden",
        {{"tool", tool->name},
         {"user_id", std::to_string(ctx.user_id)},
         {"telegram_id", std::to_string(ctx.telegram_id)}});
    return ToolResult::Failure("forbidden", "this tool is only available to administrators");
  }
  return RunTool(*tool, ctx, arguments);
}

}  // namespace depositbot
