// Errors across module boundaries: Result<T> holds a value or an Error (code + message).
//
// std::expected is C++23 and Debian's clang 14 (used for libFuzzer) cannot compile libstdc++'s
// <expected>, so this is a minimal equivalent. Every message that can reach a user says what was
// wrong and what to do, e.g. "model.gguf: tensor 'blk.0.attn_q.weight': offset 99 beyond end".
#pragma once

#include <fmt/format.h>

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace mx {

enum class ErrorCode {
  kInvalidArgument,  // the caller (user, request, flag) asked for something wrong
  kNotFound,         // a file, key, tensor or token does not exist
  kIoError,          // the OS failed a read/write/mmap
  kCorruptData,      // a file or message is malformed
  kUnsupported,      // valid input that mxserve cannot handle (yet)
  kOutOfRange,       // a count or size beyond a limit
  kInternal,         // a bug: an invariant that should have held
  kUnavailable,      // not now, retry later: the server is shutting down
  kResourceExhausted,  // valid, but the server is at capacity now (a full queue): retry later
};

const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // "message" with a prefix, e.g. the file name: error.with_context("model.gguf").
  Error with_context(std::string_view context) const {
    return Error{code, fmt::format("{}: {}", context, message)};
  }
};

template <typename... Args>
Error make_error(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  return Error{code, fmt::format(format, std::forward<Args>(args)...)};
}

// Result<T>: a T or an Error. Converts implicitly from both, so functions can
// `return value;` and `return make_error(...);`.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(state_); }
  const T& value() const& { assert(ok()); return std::get<0>(state_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { assert(!ok()); return std::get<1>(state_); }
  Error&& error() && { assert(!ok()); return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

// Status: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { assert(!ok_); return error_; }
  Error&& error() && { assert(!ok_); return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};
using Status = Result<void>;

inline Status ok_status() { return Status(); }

}  // namespace mx

// Propagate an error: MX_RETURN_IF_ERROR(status_expr);
#define MX_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    auto mx_status_ = (expr);                        \
    if (!mx_status_.ok()) return std::move(mx_status_).error(); \
  } while (0)

#define MX_CONCAT_INNER_(a, b) a##b
#define MX_CONCAT_(a, b) MX_CONCAT_INNER_(a, b)
// Assign or propagate: MX_ASSIGN_OR_RETURN(auto file, MappedFile::open(path));
#define MX_ASSIGN_OR_RETURN(lhs, expr) \
  MX_ASSIGN_OR_RETURN_IMPL_(MX_CONCAT_(mx_result_, __LINE__), lhs, expr)
#define MX_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)      \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return std::move(tmp).error();        \
  lhs = std::move(tmp).value()
