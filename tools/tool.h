#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "common/result.h"
#include "tools/arg_schema.h"
#include "tools/tool_context.h"
#include "tools/ui_event.h"

namespace depositbot {

// What a tool call produced. `payload` (a JSON object) goes back to the model with "ok" added;
// `ui` is an optional side effect for the transport only (e.g. a purchase quote that needs
// Confirm/Cancel buttons) and is never shown to the model; `effect` says in one sentence what
// the call changed, for the user, when the model cannot say it (see there).
struct ToolResult {
  bool ok = true;
  nlohmann::json payload = nlohmann::json::object();
  std::optional<UiEvent> ui;
  // What this call changed, as one sentence addressed to the user, built by the handler from
  // the typed row it wrote ("I recorded your deposit #12 of 30,000 KRW as KIM MINJI; it waits
  // for an admin to confirm it."). Empty when the call changed nothing: every read and every
  // refusal. The agent tells the user these itself when the model fails after a tool acted;
  // never sent to the model.
  std::string effect;

  // {"ok":true, ...payload}. A payload that is not an object is wrapped as {"result": payload}.
  static ToolResult Success(nlohmann::json payload = nlohmann::json::object());

  // {"ok":false,"error":error_code,"message":message[,"details":details]}; error_code is a
  // stable snake_case word the model and the tests can branch on; null details are left out.
  static ToolResult Failure(std::string error_code, std::string message,
                            nlohmann::json details = nullptr);

  // A Failure whose code is ErrorCodeName(error.code) ("insufficient_funds", "forbidden", ...).
  static ToolResult FromError(const Error& error);

  // The "invalid_arguments" Failure listing each problem under "details".
  static ToolResult InvalidArguments(const ValidationError& error);

  // The same result carrying `ui_payload` for the transport:
  //   return ToolResult::Success({...}).WithUi(PurchaseQuoteUi{...});
  ToolResult WithUi(UiEvent event) &&;

  // The same result recording what it changed (see `effect`):
  //   return ToolResult::Success({...}).WithEffect("I cancelled your deposit #12.");
  ToolResult WithEffect(std::string sentence) &&;

  // "error" of a Failure ("unknown_tool", "invalid_arguments", ...); empty for a Success.
  std::string error_code() const;

  // The content of the `tool` message: compact JSON (no spaces), "ok" first. Never throws:
  // invalid UTF-8 inside the payload is replaced with U+FFFD.
  std::string ToModelContent() const;
};

// One call of a tool as it ran: by the model through the agent, or by a decision (a button,
// y/N) through DecisionHandler. `arguments` is the text the tool was given.
struct ExecutedCall {
  std::string id;
  std::string name;
  std::string arguments;
  ToolResult result;
};

// One tool the model may call. Usually built with MakeTool; a hand-written `invoke` receives the
// arguments already parsed as a JSON object and must validate them itself.
struct Tool {
  std::string name;         // [A-Za-z0-9_-]{1,64}, unique in a registry
  std::string description;  // what the model reads to decide when to call it
  bool admin_only = false;  // hidden from non-admins and refused for them by the registry
  // The JSON Schema of the arguments for an admin or a non-admin; null means no parameters.
  std::function<nlohmann::json(bool for_admin)> parameters_schema;
  // Runs the call. May throw only on bugs; the registry turns that into "internal_error".
  std::function<ToolResult(const ToolContext&, const nlohmann::json& args)> invoke;
};

// A handler that only ever sees arguments that passed `schema` (parsed with the context's
// is_admin): every invalid call is answered with ToolResult::InvalidArguments before it.
// The schema is copied, so a temporary is fine. Set `admin_only` on the returned Tool for a
// tool only admins may see. Handlers must still check ctx.is_admin for admin actions.
template <typename Args>
Tool MakeTool(std::string name, std::string description, const ArgSchema<Args>& schema,
              std::function<ToolResult(const ToolContext&, const Args&)> handler) {
  auto shared = std::make_shared<const ArgSchema<Args>>(schema);
  Tool tool;
  tool.name = std::move(name);
  tool.description = std::move(description);
  tool.parameters_schema = [shared](bool for_admin) { return shared->JsonSchema(for_admin); };
  tool.invoke = [shared, handler = std::move(handler)](const ToolContext& ctx,
                                                       const nlohmann::json& args) {
    ParseResult<Args> parsed = shared->Parse(args, ctx.is_admin);
    if (!parsed) return ToolResult::InvalidArguments(parsed.error());
    return handler(ctx, *parsed);
  };
  return tool;
}

}  // namespace depositbot
