#include "server/json_fields.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace mx::json_fields {

const char* type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::string:
      return "a string";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::null:
      return "null";
    default:
      return "an unsupported value";
  }
}

std::string show(const Json& value, size_t max_bytes) {
  if (value.is_number_float() && !std::isfinite(value.get<double>())) {
    return fmt::format("{}", value.get<double>());
  }
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  // Back up to a character boundary: never cut a UTF-8 sequence (the message must stay valid).
  while (cut > 0 && (static_cast<uint8_t>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

ApiError wrong_type(std::string_view path, std::string_view expected, const Json& got) {
  std::string message = fmt::format("{} must be {}, got {}", path, expected, type_name(got));
  if (got.is_number()) message += fmt::format(" ({})", show(got));
  return ApiError::bad_request(std::move(message), std::string(path));
}

const Json* find(const Json& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

bool Range::contains(double value) const {
  const bool above_lo = lo_exclusive ? value > lo : value >= lo;
  const bool below_hi = hi_exclusive ? value < hi : value <= hi;
  return above_lo && below_hi;  // false for NaN
}

std::string Range::describe() const {
  if (!lo_exclusive && !hi_exclusive) return fmt::format("between {} and {}", lo, hi);
  return fmt::format("{} {} and {} {}", lo_exclusive ? "greater than" : "at least", lo,
                     hi_exclusive ? "less than" : "at most", hi);
}

Check read_bool(const Json& object, std::string_view key, std::string_view path, bool& out) {
  const Json* value = find(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) return wrong_type(path, "a boolean (true or false)", *value);
  out = value->get<bool>();
  return std::nullopt;
}

Check read_string(const Json& object, std::string_view key, std::string_view path,
                  std::string& out) {
  const Json* value = find(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) return wrong_type(path, "a string", *value);
  out = value->get<std::string>();
  return std::nullopt;
}

Check read_number(const Json& object, std::string_view key, std::string_view path,
                  const Range& range, double& out) {
  const Json* value = find(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) return wrong_type(path, "a number", *value);
  const double number = value->get<double>();
  if (!range.contains(number)) {
    return ApiError::bad_request(
        fmt::format("{} must be {}, got {}", path, range.describe(), show(*value)),
        std::string(path));
  }
  out = number;
  return std::nullopt;
}

std::optional<int64_t> as_int64(const Json& value) {
  if (value.is_number_integer() && !value.is_number_unsigned()) return value.get<int64_t>();
  if (value.is_number_unsigned()) {
    const uint64_t number = value.get<uint64_t>();
    if (number <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(number);
    }
  }
  return std::nullopt;
}

Check read_int(const Json& object, std::string_view key, std::string_view path, int64_t lo,
               int64_t hi, int64_t& out) {
  const Json* value = find(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number_integer()) return wrong_type(path, "an integer", *value);
  const std::optional<int64_t> number = as_int64(*value);
  if (!number || *number < lo || *number > hi) {
    // Open-ended limits (max_tokens) read "at least 1" unless the value is above the limit.
    const bool open_ended = hi >= std::numeric_limits<int32_t>::max();
    const bool too_small = number && *number < lo;
    std::string allowed = open_ended && too_small ? fmt::format("at least {}", lo)
                                                  : fmt::format("between {} and {}", lo, hi);
    return ApiError::bad_request(fmt::format("{} must be {}, got {}", path, allowed, show(*value)),
                                 std::string(path));
  }
  out = *number;
  return std::nullopt;
}

bool nests_deeper_than(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace mx::json_fields
