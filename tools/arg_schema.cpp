#include "tools/arg_schema.h"

#include <cmath>
#include <stdexcept>

#include "common/text.h"

namespace depositbot {

namespace {

using arg_schema_internal::FieldKind;
using arg_schema_internal::FieldSink;
using arg_schema_internal::FieldSpec;
using nlohmann::json;

// Enough for the model to fix its call; a runaway call with thousands of bad fields must not
// produce a tool result larger than the call itself.
constexpr size_t kMaxProblems = 20;
// Text echoed back from the model's arguments (unknown keys, bad enum values) is clipped.
constexpr size_t kMaxEchoBytes = 64;
constexpr size_t kMaxFieldNameLength = 64;
// Doubles represent every integer up to 2^53 exactly; above that 12.0 might not be 12.
constexpr double kMaxExactDouble = 9007199254740992.0;

// At most kMaxEchoBytes of `s`, cut on a UTF-8 boundary, marked when cut.
std::string Clip(std::string_view s) { return ClipUtf8(s, kMaxEchoBytes); }

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string Plural(size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

// JSON type names as the model knows them.
std::string TypeName(const json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "number " + v.dump();
  return v.type_name();
}

bool Visible(const FieldSpec& f, bool for_admin) { return for_admin || !f.admin_only; }

std::vector<std::string> EnumValues(const FieldSpec& f, bool for_admin) {
  std::vector<std::string> all = f.values;
  if (for_admin) all.insert(all.end(), f.admin_values.begin(), f.admin_values.end());
  return all;
}

std::string LengthPhrase(size_t min, size_t max) {
  if (min == 0) return "at most " + Plural(max, "character");
  if (min == max) return "exactly " + Plural(max, "character");
  return std::to_string(min) + " to " + std::to_string(max) + " characters";
}

// What a valid value looks like, e.g. "a string of at most 32 characters".
std::string Shape(const FieldSpec& f, bool for_admin) {
  switch (f.kind) {
    case FieldKind::kString:
      return "a string of " + LengthPhrase(f.min_length, f.max_length);
    case FieldKind::kEnum: {
      std::string out = "one of ";
      const auto values = EnumValues(f, for_admin);
      for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + Quote(values[i]);
      return out;
    }
    case FieldKind::kInt: {
      const bool has_min = f.min != std::numeric_limits<int64_t>::min();
      const bool has_max = f.max != std::numeric_limits<int64_t>::max();
      if (has_min && has_max) {
        return "an integer from " + std::to_string(f.min) + " to " + std::to_string(f.max);
      }
      if (has_min) return "an integer of at least " + std::to_string(f.min);
      if (has_max) return "an integer of at most " + std::to_string(f.max);
      return "an integer";
    }
    case FieldKind::kBool:
      return "true or false";
    case FieldKind::kStringArray: {
      std::string items = f.min_items == 0
                              ? "at most " + std::to_string(f.max_items)
                              : std::to_string(f.min_items) + " to " + std::to_string(f.max_items);
      return "an array of " + items + " strings of " + LengthPhrase(f.min_length, f.max_length) +
             " each";
    }
  }
  return "a value";
}

class Checker {
 public:
  Checker(bool for_admin, std::vector<FieldProblem>& problems)
      : for_admin_(for_admin), problems_(problems) {}

  void Add(std::string field, std::string problem) {
    problems_.push_back({std::move(field), std::move(problem)});
  }

  std::optional<std::string> CheckString(const FieldSpec& f, const std::string& label,
                                         const json& v) {
    if (!v.is_string()) {
      Add(label, "must be " + Shape(f, for_admin_) + ", got " + TypeName(v));
      return std::nullopt;
    }
    const auto& s = v.get_ref<const std::string&>();
    const std::optional<size_t> length = CountUtf8CodePoints(s);
    if (!length) {
      Add(label, "must be valid UTF-8 text");
      return std::nullopt;
    }
    if (s.find('\0') != std::string::npos) {
      Add(label, "must not contain NUL characters");
      return std::nullopt;
    }
    if (*length < f.min_length || *length > f.max_length) {
      std::string problem =
          f.min_length == 1 && *length == 0
              ? "must not be empty"
              : "must be " + Shape(f, for_admin_) + " (got " + Plural(*length, "character") + ")";
      Add(label, std::move(problem));
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::string> CheckEnum(const FieldSpec& f, const json& v) {
    if (!v.is_string()) {
      Add(f.name, "must be " + Shape(f, for_admin_) + ", got " + TypeName(v));
      return std::nullopt;
    }
    const auto& s = v.get_ref<const std::string&>();
    for (const auto& allowed : EnumValues(f, for_admin_)) {
      if (s == allowed) return s;
    }
    // An admin-only value sent by a non-admin reads exactly like any other wrong value: the
    // model is not told that it exists.
    Add(f.name, "value " + Quote(Clip(s)) + " is not allowed; must be " + Shape(f, for_admin_));
    return std::nullopt;
  }

  std::optional<int64_t> CheckInt(const FieldSpec& f, const json& v) {
    int64_t n = 0;
    std::string got;  // set when the value is an integer outside int64
    if (v.is_number_unsigned()) {
      const auto u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        got = std::to_string(u);
      } else {
        n = static_cast<int64_t>(u);
      }
    } else if (v.is_number_integer()) {
      n = v.get<int64_t>();
    } else if (v.is_number_float()) {
      const double d = v.get<double>();
      if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > kMaxExactDouble) {
        Add(f.name, "must be " + Shape(f, for_admin_) + ", got " + TypeName(v));
        return std::nullopt;
      }
      n = static_cast<int64_t>(d);
    } else {
      Add(f.name, "must be " + Shape(f, for_admin_) + ", got " + TypeName(v));
      return std::nullopt;
    }
    if (!got.empty() || n < f.min || n > f.max) {
      if (got.empty()) got = std::to_string(n);
      Add(f.name, "must be " + Shape(f, for_admin_) + " (got " + got + ")");
      return std::nullopt;
    }
    return n;
  }

  std::optional<bool> CheckBool(const FieldSpec& f, const json& v) {
    if (!v.is_boolean()) {
      Add(f.name, "must be true or false, got " + TypeName(v));
      return std::nullopt;
    }
    return v.get<bool>();
  }

  std::optional<std::vector<std::string>> CheckArray(const FieldSpec& f, const json& v) {
    if (!v.is_array()) {
      Add(f.name, "must be " + Shape(f, for_admin_) + ", got " + TypeName(v));
      return std::nullopt;
    }
    if (v.size() < f.min_items || v.size() > f.max_items) {
      Add(f.name, "must be " + Shape(f, for_admin_) + " (got " + Plural(v.size(), "item") + ")");
      return std::nullopt;
    }
    // Items are checked as strings of the item length.
    FieldSpec item = f;
    item.kind = FieldKind::kString;
    std::vector<std::string> out;
    out.reserve(v.size());
    bool all_ok = true;
    for (size_t i = 0; i < v.size(); ++i) {
      auto s = CheckString(item, f.name + "[" + std::to_string(i) + "]", v[i]);
      if (s) {
        out.push_back(std::move(*s));
      } else {
        all_ok = false;
      }
    }
    if (!all_ok) return std::nullopt;
    return out;
  }

 private:
  bool for_admin_;
  std::vector<FieldProblem>& problems_;
};

bool IsValidFieldName(std::string_view name) {
  if (name.empty() || name.size() > kMaxFieldNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string ValidationError::Summary() const {
  std::string out;
  for (const auto& p : problems_) {
    if (!out.empty()) out += "; ";
    out += p.field + ": " + p.problem;
  }
  return out;
}

json ValidationError::ToJson() const {
  json details = json::array();
  for (const auto& p : problems_) details.push_back({{"field", p.field}, {"problem", p.problem}});
  return {{"ok", false},
          {"error", "invalid_arguments"},
          {"message",
           "the arguments do not fit the tool's parameters; fix the fields listed in "
           "details and call again"},
          {"details", std::move(details)}};
}

namespace arg_schema_internal {

void CheckNewField(const std::vector<FieldSpec>& existing, const FieldSpec& added) {
  auto fail = [&](const std::string& why) {
    throw std::logic_error("ArgSchema field \"" + added.name + "\": " + why);
  };
  if (!IsValidFieldName(added.name)) fail("name must be 1-64 of [A-Za-z0-9_-]");
  for (const auto& f : existing) {
    if (f.name == added.name) fail("declared twice");
  }
  if (added.required && added.admin_only) fail("a required field cannot be admin_only");
  switch (added.kind) {
    case FieldKind::kString:
    case FieldKind::kStringArray:
      if (added.max_length == 0 || added.min_length > added.max_length) fail("bad length range");
      if (added.kind == FieldKind::kStringArray &&
          (added.max_items == 0 || added.min_items > added.max_items)) {
        fail("bad item count range");
      }
      break;
    case FieldKind::kEnum: {
      if (added.values.empty()) fail("an enum needs at least one value offered to everyone");
      std::vector<std::string> all = EnumValues(added, true);
      for (size_t i = 0; i < all.size(); ++i) {
        if (all[i].empty()) fail("empty enum value");
        for (size_t j = i + 1; j < all.size(); ++j) {
          if (all[i] == all[j]) fail("enum value \"" + all[i] + "\" listed twice");
        }
      }
      break;
    }
    case FieldKind::kInt:
      if (added.min > added.max) fail("min > max");
      break;
    case FieldKind::kBool:
      break;
  }
}

json BuildJsonSchema(const std::vector<FieldSpec>& fields, bool for_admin) {
  json properties = json::object();
  json required = json::array();
  for (const auto& f : fields) {
    if (!Visible(f, for_admin)) continue;
    json p;
    switch (f.kind) {
      case FieldKind::kString:
        p["type"] = "string";
        if (f.min_length > 0) p["minLength"] = f.min_length;
        p["maxLength"] = f.max_length;
        break;
      case FieldKind::kEnum:
        p["type"] = "string";
        p["enum"] = EnumValues(f, for_admin);
        break;
      case FieldKind::kInt:
        p["type"] = "integer";
        if (f.min != std::numeric_limits<int64_t>::min()) p["minimum"] = f.min;
        if (f.max != std::numeric_limits<int64_t>::max()) p["maximum"] = f.max;
        break;
      case FieldKind::kBool:
        p["type"] = "boolean";
        break;
      case FieldKind::kStringArray: {
        json items = {{"type", "string"}, {"maxLength", f.max_length}};
        if (f.min_length > 0) items["minLength"] = f.min_length;
        p["type"] = "array";
        p["items"] = std::move(items);
        if (f.min_items > 0) p["minItems"] = f.min_items;
        p["maxItems"] = f.max_items;
        break;
      }
    }
    if (!f.description.empty()) p["description"] = f.description;
    properties[f.name] = std::move(p);
    if (f.required) required.push_back(f.name);
  }
  return {{"type", "object"},
          {"properties", std::move(properties)},
          {"required", std::move(required)},
          {"additionalProperties", false}};
}

std::vector<FieldProblem> Validate(const std::vector<FieldSpec>& fields, const json& args,
                                   bool for_admin, const FieldSink& sink) {
  std::vector<FieldProblem> problems;
  if (!args.is_object()) {
    problems.push_back(
        {std::string(kArgumentsField), "must be a JSON object, got " + TypeName(args)});
    return problems;
  }
  Checker check(for_admin, problems);

  for (size_t i = 0; i < fields.size(); ++i) {
    const FieldSpec& f = fields[i];
    if (!Visible(f, for_admin)) continue;  // reported below as not allowed if present
    const auto it = args.find(f.name);
    if (it == args.end() || it->is_null()) {
      if (f.required) {
        check.Add(f.name, it == args.end()
                              ? "is required: " + Shape(f, for_admin)
                              : "is required and must not be null: " + Shape(f, for_admin));
      }
      continue;
    }
    switch (f.kind) {
      case FieldKind::kString:
        if (auto v = check.CheckString(f, f.name, *it)) sink(i, std::move(*v));
        break;
      case FieldKind::kEnum:
        if (auto v = check.CheckEnum(f, *it)) sink(i, std::move(*v));
        break;
      case FieldKind::kInt:
        if (auto v = check.CheckInt(f, *it)) sink(i, *v);
        break;
      case FieldKind::kBool:
        if (auto v = check.CheckBool(f, *it)) sink(i, *v);
        break;
      case FieldKind::kStringArray:
        if (auto v = check.CheckArray(f, *it)) sink(i, std::move(*v));
        break;
    }
  }

  std::string allowed;
  for (const auto& f : fields) {
    if (!Visible(f, for_admin)) continue;
    allowed += (allowed.empty() ? "" : ", ") + f.name;
  }
  for (const auto& [key, value] : args.items()) {
    bool known = false;
    for (const auto& f : fields) {
      if (f.name == key && Visible(f, for_admin)) known = true;
    }
    if (known) continue;
    // Admin-only fields sent by a non-admin get the same answer as fields that do not exist.
    check.Add(Clip(key), allowed.empty() ? "is not allowed: this tool takes no arguments"
                                         : "is not allowed; the allowed fields are: " + allowed);
  }

  if (problems.size() > kMaxProblems) {
    const size_t more = problems.size() - kMaxProblems;
    problems.resize(kMaxProblems);
    problems.push_back(
        {std::string(kArgumentsField), "and " + Plural(more, "more problem") + " not listed"});
  }
  return problems;
}

}  // namespace arg_schema_internal

}  // namespace depositbot
