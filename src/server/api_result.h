// ApiResult<T>: a T or the ApiError to send back. The OpenAI protocol layer returns it instead
// of Result<T> because a request error carries what Error lacks: the HTTP status and the `param`
// naming the offending request field.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "server/api_error.h"

namespace mx {

template <typename T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : state_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  ApiResult(ApiError error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const ApiError& error() const& {
    assert(!ok());
    return std::get<1>(state_);
  }
  ApiError&& error() && {
    assert(!ok());
    return std::get<1>(std::move(state_));
  }

 private:
  std::variant<T, ApiError> state_;
};

}  // namespace mx
