#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"

namespace depositbot {

// One thing wrong with the arguments of a tool call: the field ("$" for the arguments as a
// whole, "domains[2]" for an item of an array) and what is wrong, in words the model can act on.
struct FieldProblem {
  std::string field;
  std::string problem;
};

// The field name used for problems with the arguments as a whole (e.g. not an object).
inline constexpr std::string_view kArgumentsField = "$";

// Every problem found in one set of tool arguments (at least one). Sent back to the model as the
// tool result so that it can correct the call; never thrown.
class ValidationError {
 public:
  explicit ValidationError(std::vector<FieldProblem> problems) : problems_(std::move(problems)) {
    assert(!problems_.empty());
  }

  const std::vector<FieldProblem>& problems() const { return problems_; }

  // One line for logs and Error messages: "amount: must be ...; action: is required".
  std::string Summary() const;

  // The tool result for the model:
  // {"ok":false,"error":"invalid_arguments","message":"...","details":[{"field","problem"},...]}
  nlohmann::json ToJson() const;

  // As a common Error (kInvalid, message = Summary()) for callers outside the tool loop.
  Error ToError() const { return Error::Invalid(Summary()); }

 private:
  std::vector<FieldProblem> problems_;
};

// Either parsed arguments or the ValidationError that says why they do not fit. Converts to
// bool like Result: `if (auto a = schema.Parse(j, admin)) use(*a); else send(a.error());`
template <typename T>
using ParseResult = Expected<T, ValidationError>;

// Default caps, so that no string or array is ever unbounded.
inline constexpr size_t kDefaultMaxStringLength = 256;  // Unicode code points
inline constexpr size_t kDefaultMaxItems = 20;

// Options per kind of field. Lengths count Unicode code points, not bytes. `admin_only` fields
// are left out of the schema for non-admins and refused as unknown when a non-admin sends them;
// only optional fields may be admin_only (a whole admin tool is Tool::admin_only instead).
struct StringOptions {
  size_t min_length = 0;
  size_t max_length = kDefaultMaxStringLength;
  std::string description{};
  bool admin_only = false;
};

struct EnumOptions {
  std::vector<std::string> admin_values{};  // accepted and offered only when for_admin
  std::string description{};
  bool admin_only = false;
};

struct IntOptions {
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
  std::string description{};
  bool admin_only = false;
};

struct BoolOptions {
  std::string description{};
  bool admin_only = false;
};

struct StringArrayOptions {
  size_t min_items = 0;
  size_t max_items = kDefaultMaxItems;
  size_t min_item_length = 0;
  size_t max_item_length = kDefaultMaxStringLength;
  std::string description{};
  bool admin_only = false;
};

// The argument struct of a tool that takes no arguments.
struct NoArgs {};

namespace arg_schema_internal {

enum class FieldKind { kString, kEnum, kInt, kBool, kStringArray };

// One declared field; the non-template core below works on these.
struct FieldSpec {
  std::string name;
  FieldKind kind = FieldKind::kString;
  bool required = false;
  bool admin_only = false;
  std::string description;
  size_t min_length = 0;  // kString, and each item of kStringArray
  size_t max_length = 0;
  std::vector<std::string> values;  // kEnum
  std::vector<std::string> admin_values;
  int64_t min = 0;  // kInt
  int64_t max = 0;
  size_t min_items = 0;  // kStringArray
  size_t max_items = 0;
};

using FieldValue = std::variant<std::string, int64_t, bool, std::vector<std::string>>;

// Receives each present, valid field as (index into the spec list, value).
using FieldSink = std::function<void(size_t index, FieldValue&& value)>;

// Throws std::logic_error when `added` is malformed or clashes with `existing`.
void CheckNewField(const std::vector<FieldSpec>& existing, const FieldSpec& added);

nlohmann::json BuildJsonSchema(const std::vector<FieldSpec>& fields, bool for_admin);

// Returns every problem (empty when the arguments fit); calls `sink` for each valid field.
std::vector<FieldProblem> Validate(const std::vector<FieldSpec>& fields, const nlohmann::json& args,
                                   bool for_admin, const FieldSink& sink);

}  // namespace arg_schema_internal

// The one definition of a tool's arguments: binds JSON properties to members of `Args`, and
// from it come both the JSON Schema offered to the model and the strict parser.
//
//   static const auto s = ArgSchema<ManageDepositArgs>()
//       .Enum("action", &ManageDepositArgs::action, {"balance", "history"},
//             {.admin_values = {"confirm"}, .description = "what to do"})
//       .OptionalString("amount", &ManageDepositArgs::amount, {.max_length = 32})
//       .OptionalInt("transaction_id", &ManageDepositArgs::transaction_id, {.min = 1});
//
// Parsing is strict: the arguments must be an object; required fields present and not null;
// every value of the declared JSON type, in range and within its length; no other fields.
// Explicit null for an optional field means absent. Integers: JSON integers, and also numbers
// written with a zero fraction (12.0, 1e3) when exactly representable (|x| <= 2^53), since some
// models emit those; 3.5, "12", true and anything outside [min, max] are refused. Strings must be
// valid UTF-8 without NUL characters. All problems are reported together.
//
// Declaring a malformed field (duplicate name, min > max, required + admin_only, an enum with no
// values) is a programming error and throws std::logic_error. Once built, a schema is immutable
// and safe to use from any number of threads.
template <typename Args>
class ArgSchema {
 public:
  using FieldValue = arg_schema_internal::FieldValue;
  using FieldKind = arg_schema_internal::FieldKind;
  using FieldSpec = arg_schema_internal::FieldSpec;

  ArgSchema& String(std::string name, std::string Args::*member, StringOptions o = {}) {
    return Add(StringSpec(std::move(name), true, std::move(o)), Assign<std::string>(member));
  }
  ArgSchema& OptionalString(std::string name, std::optional<std::string> Args::*member,
                            StringOptions o = {}) {
    return Add(StringSpec(std::move(name), false, std::move(o)), Assign<std::string>(member));
  }

  // A string that must be one of `values` (or, for admins, of `o.admin_values`).
  ArgSchema& Enum(std::string name, std::string Args::*member, std::vector<std::string> values,
                  EnumOptions o = {}) {
    return Add(EnumSpec(std::move(name), true, std::move(values), std::move(o)),
               Assign<std::string>(member));
  }
  ArgSchema& OptionalEnum(std::string name, std::optional<std::string> Args::*member,
                          std::vector<std::string> values, EnumOptions o = {}) {
    return Add(EnumSpec(std::move(name), false, std::move(values), std::move(o)),
               Assign<std::string>(member));
  }

  ArgSchema& Int(std::string name, int64_t Args::*member, IntOptions o = {}) {
    return Add(IntSpec(std::move(name), true, std::move(o)), Assign<int64_t>(member));
  }
  ArgSchema& OptionalInt(std::string name, std::optional<int64_t> Args::*member,
                         IntOptions o = {}) {
    return Add(IntSpec(std::move(name), false, std::move(o)), Assign<int64_t>(member));
  }

  ArgSchema& Bool(std::string name, bool Args::*member, BoolOptions o = {}) {
    return Add(BoolSpec(std::move(name), true, std::move(o)), Assign<bool>(member));
  }
  ArgSchema& OptionalBool(std::string name, std::optional<bool> Args::*member, BoolOptions o = {}) {
    return Add(BoolSpec(std::move(name), false, std::move(o)), Assign<bool>(member));
  }

  ArgSchema& StringArray(std::string name, std::vector<std::string> Args::*member,
                         StringArrayOptions o = {}) {
    return Add(ArraySpec(std::move(name), true, std::move(o)),
               Assign<std::vector<std::string>>(member));
  }
  ArgSchema& OptionalStringArray(std::string name,
                                 std::optional<std::vector<std::string>> Args::*member,
                                 StringArrayOptions o = {}) {
    return Add(ArraySpec(std::move(name), false, std::move(o)),
               Assign<std::vector<std::string>>(member));
  }

  // {"type":"object","properties":{...},"required":[...],"additionalProperties":false};
  // admin-only fields and enum values appear only when for_admin.
  nlohmann::json JsonSchema(bool for_admin) const {
    return arg_schema_internal::BuildJsonSchema(fields_, for_admin);
  }

  // Strict parse (see the class comment). `for_admin` must come from the ToolContext.
  ParseResult<Args> Parse(const nlohmann::json& args, bool for_admin) const {
    Args out{};
    std::vector<FieldProblem> problems = arg_schema_internal::Validate(
        fields_, args, for_admin,
        [&](size_t index, FieldValue&& value) { setters_[index](out, std::move(value)); });
    if (!problems.empty()) return ParseResult<Args>(ValidationError(std::move(problems)));
    return ParseResult<Args>(std::move(out));
  }

  const std::vector<FieldSpec>& fields() const { return fields_; }

 private:
  using Setter = std::function<void(Args&, FieldValue&&)>;

  template <typename V, typename M>
  static Setter Assign(M Args::*member) {
    return
        [member](Args& args, FieldValue&& value) { args.*member = std::get<V>(std::move(value)); };
  }

  static FieldSpec Base(std::string name, FieldKind kind, bool required, std::string description,
                        bool admin_only) {
    FieldSpec s;
    s.name = std::move(name);
    s.kind = kind;
    s.required = required;
    s.description = std::move(description);
    s.admin_only = admin_only;
    return s;
  }
  static FieldSpec StringSpec(std::string name, bool required, StringOptions o) {
    FieldSpec s =
        Base(std::move(name), FieldKind::kString, required, std::move(o.description), o.admin_only);
    s.min_length = o.min_length;
    s.max_length = o.max_length;
    return s;
  }
  static FieldSpec EnumSpec(std::string name, bool required, std::vector<std::string> values,
                            EnumOptions o) {
    FieldSpec s =
        Base(std::move(name), FieldKind::kEnum, required, std::move(o.description), o.admin_only);
    s.values = std::move(values);
    s.admin_values = std::move(o.admin_values);
    return s;
  }
  static FieldSpec IntSpec(std::string name, bool required, IntOptions o) {
    FieldSpec s =
        Base(std::move(name), FieldKind::kInt, required, std::move(o.description), o.admin_only);
    s.min = o.min;
    s.max = o.max;
    return s;
  }
  static FieldSpec BoolSpec(std::string name, bool required, BoolOptions o) {
    return Base(std::move(name), FieldKind::kBool, required, std::move(o.description),
                o.admin_only);
  }
  static FieldSpec ArraySpec(std::string name, bool required, StringArrayOptions o) {
    FieldSpec s = Base(std::move(name), FieldKind::kStringArray, required, std::move(o.description),
                       o.admin_only);
    s.min_items = o.min_items;
    s.max_items = o.max_items;
    s.min_length = o.min_item_length;
    s.max_length = o.max_item_length;
    return s;
  }

  ArgSchema& Add(FieldSpec spec, Setter setter) {
    arg_schema_internal::CheckNewField(fields_, spec);
    fields_.push_back(std::move(spec));
    setters_.push_back(std::move(setter));
    return *this;
  }

  std::vector<FieldSpec> fields_;
  std::vector<Setter> setters_;  // parallel to fields_
};

}  // namespace depositbot
