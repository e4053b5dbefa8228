#include "agent/prompt.h"

#include <stdexcept>

namespace depositbot {
namespace {

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

std::string OneLine(std::string s) {
  for (auto& c : s) {
    if (c == '\n' || c == '\r' || c == '{' || c == '}') c = ' ';
  }
  return s.substr(0, 64);
}

}  // namespace

std::string RenderSystemPrompt(const PromptVars& v) {
  std::string text;
  for (const auto& f : EmbeddedPromptFiles()) {
    if (f.name == "deposit_agent.txt") text = std::string(f.content);
  }
  if (text.empty()) throw std::logic_error("prompts/deposit_agent.txt is not embedded");
  ReplaceAll(
      text, "{{role_line}}",
      v.is_admin ? "This user is an admin of the deposit desk." : "This user is a customer.");
  ReplaceAll(text, "{{admin_line}}",
             v.is_admin ? " As an admin: list pending deposits, confirm or reject them. The admin "
                          "commands /user, /adjust, /export and /stats are handled outside this "
                          "conversation: when asked for them, tell the admin to type the command."
                        : "");
  ReplaceAll(text, "{{currency}}", v.currency);
  ReplaceAll(text, "{{user_name}}", OneLine(v.user_name.empty() ? "a user" : v.user_name));
  return text;
}

}  // namespace depositbot
