#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace depositbot::strict_json {

// A strict reader for hand-written JSON documents (the conversation fixtures): every object's
// keys must be known, every value has the type asked for, and every problem is reported with
// its JSON path ("$.turns[2].expect: unknown key \"balance\" (allowed: ...)").
//
// The readers below throw Bad on the first problem so that a grammar built on them reads
// straight; the grammar's entry point catches Bad once and returns it as a kInvalid value. Bad
// never escapes that entry point.
struct Bad {
  std::string message;
};

// Throws Bad{"<path>: <what>"}.
[[noreturn]] void Fail(const std::string& path, const std::string& what);

// "a string", "an integer", ... for messages.
std::string TypeName(const nlohmann::json& j);

// "$.turns" and 2 -> "$.turns[2]".
std::string Index(const std::string& path, size_t i);

// An integer that fits int64_t. Fail for any other value, and for an integer past the int64_t
// range (nlohmann reads 18446744073709551615 as unsigned: it must not wrap to -1).
int64_t Int64(const nlohmann::json& j, const std::string& path);

// A string, or an array of strings.
std::vector<std::string> StringOrStrings(const nlohmann::json& j, const std::string& path);

// One JSON object whose keys must all be in `keys`. Holds `j` by reference: `j` must outlive it.
class Object {
 public:
  Object(const nlohmann::json& j, std::string path, std::initializer_list<const char*> keys);

  bool Has(const char* key) const;
  const nlohmann::json& At(const char* key) const;
  std::string PathOf(const char* key) const { return path_ + "." + key; }
  const std::string& path() const { return path_; }

  // Empty when the key is absent; Fail when it is present with another type.
  std::optional<std::string> Str(const char* key) const;
  std::string NeedStr(const char* key) const;  // Fail when absent too
  std::optional<int64_t> Int(const char* key) const;
  std::optional<bool> Bool(const char* key) const;
  const nlohmann::json& Array(const char* key) const;  // Fail when not an array; key present

 private:
  const nlohmann::json& json_;
  std::string path_;
};

// Reads and parses a JSON file. kNotFound "<path>: cannot be read"; kInvalid "<path>: not valid
// JSON: <where and why>", or "<path>: the key \"k\" appears twice in one object".
Result<nlohmann::json> ReadFile(const std::string& path);

}  // namespace depositbot::strict_json
