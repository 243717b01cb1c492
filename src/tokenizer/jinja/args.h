// Binding call arguments to Python-style parameters for built-in filters, tests, methods and
// globals (internal to the jinja folder).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tokenizer/jinja/value.h"

namespace mx::jinja {

class ArgReader {
 public:
  ArgReader(std::string_view function, CallArgs& args) : function_(function), args_(args) {}

  // The next parameter, from the positional arguments in order, else from the keyword `name`.
  std::optional<Value> take(std::string_view name) {
    if (next_positional_ < args_.positional.size()) return args_.positional[next_positional_++];
    for (auto it = args_.keyword.begin(); it != args_.keyword.end(); ++it) {
      if (it->first == name) {
        Value value = std::move(it->second);
        args_.keyword.erase(it);
        return value;
      }
    }
    return std::nullopt;
  }
  Value take_or(std::string_view name, Value fallback) {
    std::optional<Value> value = take(name);
    return value ? std::move(*value) : std::move(fallback);
  }
  Value required(std::string_view name) {
    std::optional<Value> value = take(name);
    if (!value) fail("{}() missing required argument '{}'", function_, name);
    return std::move(*value);
  }
  // Remaining positional arguments (for *args parameters).
  std::vector<Value> rest() {
    std::vector<Value> rest(args_.positional.begin() + static_cast<long>(next_positional_),
                            args_.positional.end());
    next_positional_ = args_.positional.size();
    return rest;
  }
  // Remaining keyword arguments (for **kwargs parameters).
  std::vector<std::pair<std::string, Value>> rest_keywords() {
    std::vector<std::pair<std::string, Value>> rest = std::move(args_.keyword);
    args_.keyword.clear();
    return rest;
  }
  // Fails on arguments nobody took.
  void finish() {
    if (next_positional_ < args_.positional.size()) {
      fail("{}() takes at most {} positional argument(s), got {}", function_, next_positional_,
           args_.positional.size());
    }
    if (!args_.keyword.empty()) {
      fail("{}() got an unexpected keyword argument '{}'", function_, args_.keyword.front().first);
    }
  }

 private:
  std::string_view function_;
  CallArgs& args_;
  size_t next_positional_ = 0;
};

// Argument conversions with Python's TypeErrors.
inline const std::string& expect_string(const Value& value, std::string_view what) {
  if (!value.is_string()) fail("{} must be a string, not '{}'", what, value.type_name());
  return value.as_string();
}
inline int64_t expect_int(const Value& value, std::string_view what) {
  if (value.is_bool()) return value.as_bool();
  if (!value.is_int()) fail("{} must be an integer, not '{}'", what, value.type_name());
  return value.as_int();
}

// Bound methods of built-in types, looked up by attribute access (methods.cpp, str_methods.cpp).
Value string_method(const Value& self, const std::string& name);  // Undefined when not a method
Value callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn);
// printf-style `format % args` (format.cpp).
Value format_percent(Interpreter& interp, const std::string& format, const Value& args);

}  // namespace mx::jinja
