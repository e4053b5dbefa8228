#pragma once

#include <string_view>

namespace depositbot::testing {

// Whether `text` (a reply, a log, a process's output) contains `part` anywhere.
inline bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace depositbot::testing
