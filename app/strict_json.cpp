#include "app/strict_json.h"

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace depositbot::strict_json {

using nlohmann::json;

void Fail(const std::string& path, const std::string& what) { throw Bad{path + ": " + what}; }

std::string TypeName(const json& j) {
  if (j.is_null()) return "null";
  if (j.is_boolean()) return "a boolean";
  if (j.is_number_integer()) return "an integer";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "an array";
  return "an object";
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

int64_t Int64(const json& j, const std::string& path) {
  if (!j.is_number_integer()) Fail(path, "expected an integer, found " + TypeName(j));
  if (j.is_number_unsigned() &&
      j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    Fail(path, "is past the largest integer, 9223372036854775807");
  }
  return j.get<int64_t>();
}

std::vector<std::string> StringOrStrings(const json& j, const std::string& path) {
  std::vector<std::string> out;
  if (j.is_string()) {
    out.push_back(j.get<std::string>());
    return out;
  }
  if (!j.is_array()) Fail(path, "expected a string or an array of strings");
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) Fail(Index(path, i), "expected a string, found " + TypeName(j[i]));
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

Object::Object(const json& j, std::string path, std::initializer_list<const char*> keys)
    : json_(j), path_(std::move(path)) {
  if (!j.is_object()) Fail(path_, "expected an object, found " + TypeName(j));
  std::set<std::string> known(keys.begin(), keys.end());
  for (const auto& [k, v] : j.items()) {
    if (known.count(k) == 0) {
      std::string list;
      for (const char* key : keys) list += (list.empty() ? "" : ", ") + std::string(key);
      Fail(path_, "unknown key \"" + k + "\" (allowed: " + list + ")");
    }
  }
}

bool Object::Has(const char* key) const { return json_.contains(key); }

const json& Object::At(const char* key) const { return json_.at(key); }

std::optional<std::string> Object::Str(const char* key) const {
  if (!Has(key)) return std::nullopt;
  if (!At(key).is_string()) Fail(PathOf(key), "expected a string, found " + TypeName(At(key)));
  return At(key).get<std::string>();
}

std::string Object::NeedStr(const char* key) const {
  if (!Has(key)) Fail(path_, "\"" + std::string(key) + "\" is required");
  return *Str(key);
}

std::optional<int64_t> Object::Int(const char* key) const {
  if (!Has(key)) return std::nullopt;
  return Int64(At(key), PathOf(key));
}

std::optional<bool> Object::Bool(const char* key) const {
  if (!Has(key)) return std::nullopt;
  if (!At(key).is_boolean()) {
    Fail(PathOf(key), "expected true or false, found " + TypeName(At(key)));
  }
  return At(key).get<bool>();
}

const json& Object::Array(const char* key) const {
  if (!At(key).is_array()) Fail(PathOf(key), "expected an array, found " + TypeName(At(key)));
  return At(key);
}

Result<json> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::NotFound(path + ": cannot be read");
  std::stringstream buf;
  buf << in.rdbuf();
  // nlohmann keeps the last of two equal keys in one object; in a hand-written file the other
  // one is a mistake that would pass unseen, so it is refused here.
  std::vector<std::set<std::string>> open_objects;
  std::string twice;
  json::parser_callback_t note_keys = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == json::parse_event_t::key && !open_objects.empty() && twice.empty() &&
               !open_objects.back().insert(parsed.get<std::string>()).second) {
      twice = parsed.get<std::string>();
    }
    return true;
  };
  json j = json::parse(buf.str(), note_keys, false);
  if (!j.is_discarded() && !twice.empty()) {
    return Error::Invalid(path + ": the key \"" + twice + "\" appears twice in one object");
  }
  if (j.is_discarded()) {
    // Parse again with exceptions for the position of the problem.
    try {
      json again = json::parse(buf.str());
      (void)again;
    } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e999
      return Error::Invalid(path + ": not valid JSON: " + e.what());
    }
    return Error::Invalid(path + ": not valid JSON");
  }
  return j;
}

}  // namespace depositbot::strict_json
