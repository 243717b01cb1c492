// Errors raised while lexing, parsing or rendering a Jinja template.
//
// Inside the interpreter errors are C++ exceptions: every AST node can fail and the evaluator is
// deeply recursive, so threading Result<T> through each call would double the code without
// adding information. Exceptions never cross the module boundary: Template::parse and
// Template::render catch them and return mx::Result with the message and template position.
#pragma once

#include <fmt/format.h>

#include <exception>
#include <string>
#include <utility>

#include "core/status.h"

namespace mx::jinja {

struct SourcePos {
  int line = 0;  // 1-based; 0 = unknown
  int column = 0;
};

enum class TemplateErrorKind {
  kSyntax,       // the template text is not valid Jinja
  kUnsupported,  // valid Jinja that this interpreter does not implement
  kRuntime,      // a type error, undefined attribute use, division by zero, ...
  kRaised,       // the template called raise_exception(message): user-data error
  kLimit,        // a runaway-template guard tripped (output size, loop steps, recursion)
};

class TemplateError : public std::exception {
 public:
  TemplateError(TemplateErrorKind kind, std::string message, SourcePos pos = {})
      : kind_(kind), message_(std::move(message)), pos_(pos) {}

  const char* what() const noexcept override { return message_.c_str(); }
  TemplateErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  SourcePos pos() const { return pos_; }
  bool has_pos() const { return pos_.line > 0; }
  void set_pos(SourcePos pos) { pos_ = pos; }

  // "message (template line 3, column 7)" as an mx::Error.
  Error to_error() const;

 private:
  TemplateErrorKind kind_;
  std::string message_;
  SourcePos pos_;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw TemplateError(TemplateErrorKind::kRuntime,
                      fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail_unsupported(fmt::format_string<Args...> format, Args&&... args) {
  throw TemplateError(TemplateErrorKind::kUnsupported,
                      fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace mx::jinja
