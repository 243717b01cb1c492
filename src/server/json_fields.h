// Typed, validated access to the fields of a request body (nlohmann::ordered_json), for the
// OpenAI protocol layer. Every reader treats an absent key and an explicit null alike ("not
// given": OpenAI clients send `"stop": null`), leaves `out` untouched then, and otherwise checks
// the JSON type and the allowed range. A failure is an ApiError (400) whose `param` is the field
// path ("temperature", "messages[2].content") and whose message says what is wrong and what is
// allowed: "temperature must be between 0 and 2, got 3.5".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "server/api_error.h"

namespace mx::json_fields {

using Json = nlohmann::ordered_json;
// A failed check, or nullopt when the field is fine: `if (auto error = read_...) return *error;`
using Check = std::optional<ApiError>;

// "a string", "an integer", "a number", "a boolean", "an object", "an array", "null".
const char* type_name(const Json& value);

// The value as the client wrote it, for messages: JSON text, cut to `max_bytes` at a UTF-8
// character boundary (then ending in "...").
std::string show(const Json& value, size_t max_bytes = 64);

// "<path> must be <expected>, got <type>" (param = path).
ApiError wrong_type(std::string_view path, std::string_view expected, const Json& got);

// The member `key` of `object`, or nullptr when absent or null. `object` must be an object.
const Json* find(const Json& object, std::string_view key);

// Inclusive or exclusive bounds of a number, and how to say them in a message.
struct Range {
  double lo = 0.0;
  double hi = 0.0;
  bool lo_exclusive = false;
  bool hi_exclusive = false;
  bool contains(double value) const;
  // "between 0 and 2", "greater than 0 and at most 1".
  std::string describe() const;
};

Check read_bool(const Json& object, std::string_view key, std::string_view path, bool& out);
Check read_string(const Json& object, std::string_view key, std::string_view path,
                  std::string& out);
// A JSON number (integer or floating point) within `range`.
Check read_number(const Json& object, std::string_view key, std::string_view path,
                  const Range& range, double& out);
// A JSON integer in [lo, hi]; floating-point values (2.0 included) are rejected.
Check read_int(const Json& object, std::string_view key, std::string_view path, int64_t lo,
               int64_t hi, int64_t& out);
// True when `text` (JSON) nests arrays/objects deeper than `limit`; counted without parsing
// (brackets inside strings skipped), so a body of a million '[' is refused before any recursive
// walk over it could exhaust the stack.
bool nests_deeper_than(std::string_view text, int limit);

// The integer value of `value` when it is a JSON integer that fits in int64_t.
std::optional<int64_t> as_int64(const Json& value);

}  // namespace mx::json_fields
