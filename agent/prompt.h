#pragma once

#include <string>

#include "common/embedded_file.h"

namespace depositbot {

// The prompts compiled into the binary from prompts/*.txt.
const std::vector<EmbeddedFile>& EmbeddedPromptFiles();

struct PromptVars {
  std::string user_name;
  std::string currency;  // ISO code
  bool is_admin = false;
};

// The deposit agent's system prompt (prompts/deposit_agent.txt) with its
// {{placeholders}} filled in. User-controlled values are confined to one line.
std::string RenderSystemPrompt(const PromptVars& vars);

}  // namespace depositbot
