#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace mx {

ApiError ApiError::bad_request(std::string message, std::string param) {
  return ApiError{400, "invalid_request_error", std::move(message), std::move(param), {}, 0};
}

ApiError ApiError::not_found(std::string message) {
  return ApiError{404, "not_found_error", std::move(message), {}, {}, 0};
}

ApiError ApiError::server_error(std::string message) {
  return ApiError{500, "server_error", std::move(message), {}, {}, 0};
}

ApiError ApiError::overloaded(std::string message) {
  return ApiError{429, "rate_limit_error", std::move(message), {}, "server_overloaded", 1};
}

ApiError ApiError::of_status(int http_status, std::string message) {
  std::string type = "invalid_request_error";
  if (http_status == 404) type = "not_found_error";
  if (http_status >= 500) type = "server_error";
  return ApiError{http_status, std::move(type), std::move(message), {}, {}, 0};
}

ApiError ApiError::from(const Error& error, std::string param) {
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kOutOfRange:
    case ErrorCode::kUnsupported:
    case ErrorCode::kCorruptData:
      return bad_request(error.message, std::move(param));
    case ErrorCode::kNotFound:
      return not_found(error.message);
    case ErrorCode::kUnavailable: {
      ApiError unavailable = of_status(503, error.message);
      unavailable.retry_after_s = kUnavailableRetryAfterSeconds;
      return unavailable;
    }
    case ErrorCode::kResourceExhausted:
      return overloaded(error.message);
    case ErrorCode::kIoError:
    case ErrorCode::kInternal:
      break;
  }
  return server_error(error.message);
}

std::string ApiError::to_json() const {
  nlohmann::json body = {{"message", message}, {"type", type}};
  body["param"] = param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param);
  body["code"] = code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code);
  // Messages may quote what the client sent (a query parameter's name, say): bytes that are
  // not UTF-8 become U+FFFD instead of making the error itself fail.
  return nlohmann::json{{"error", std::move(body)}}.dump(-1, ' ', false,
                                                         nlohmann::json::error_handler_t::replace);
}

}  // namespace mx
