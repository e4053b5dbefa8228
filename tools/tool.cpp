#include "tools/tool.h"

namespace depositbot {

using nlohmann::json;

ToolResult ToolResult::Success(json payload) {
  ToolResult r;
  r.ok = true;
  if (payload.is_null()) {
    r.payload = json::object();
  } else if (payload.is_object()) {
    r.payload = std::move(payload);
  } else {
    r.payload = {{"result", std::move(payload)}};
  }
  return r;
}

ToolResult ToolResult::Failure(std::string error_code, std::string message, json details) {
  ToolResult r;
  r.ok = false;
  r.payload = {{"error", std::move(error_code)}, {"message", std::move(message)}};
  if (!details.is_null()) r.payload["details"] = std::move(details);
  return r;
}

ToolResult ToolResult::FromError(const Error& error) {
  return Failure(std::string(ErrorCodeName(error.code)), error.message);
}

ToolResult ToolResult::InvalidArguments(const ValidationError& error) {
  json j = error.ToJson();
  return Failure(j["error"].get<std::string>(), j["message"].get<std::string>(),
                 std::move(j["details"]));
}

ToolResult ToolResult::WithUi(UiEvent event) && {
  ui = std::move(event);
  return std::move(*this);
}

ToolResult ToolResult::WithEffect(std::string sentence) && {
  effect = std::move(sentence);
  return std::move(*this);
}

std::string ToolResult::error_code() const {
  if (ok || !payload.is_object()) return "";
  const auto it = payload.find("error");
  return it != payload.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string ToolResult::ToModelContent() const {
  json body = payload.is_object() ? payload : json{{"result", payload}};
  body.erase("ok");  // the flag below is the truth, whatever a handler put in its payload
  // "ok" first reads better for the model than nlohmann's sorted keys put it.
  std::string rest = body.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out = ok ? "{\"ok\":true" : "{\"ok\":false";
  if (rest.size() > 2)
    out += "," + rest.substr(1);  // rest is "{...}"
  else
    out += "}";
  return out;
}

}  // namespace depositbot
