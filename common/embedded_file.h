#pragma once

#include <string_view>
#include <vector>

namespace depositbot {

// A file compiled into the binary by cmake/Embed.cmake (migrations, prompts).
struct EmbeddedFile {
  std::string_view name;
  std::string_view content;
};

}  // namespace depositbot
