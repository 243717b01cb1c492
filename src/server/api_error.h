// ApiError: an error as the OpenAI API reports it — an HTTP status and the JSON body
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "max_tokens",
//              "code": null}}
// Every handler turns its failures into one of these, so clients (the OpenAI SDKs) see the
// shape they expect and a message that says what to fix.
#pragma once

#include <string>

#include "core/status.h"

namespace mx {

// Retry-After (seconds) of a 503 for ErrorCode::kUnavailable (the server is shutting down).
inline constexpr int kUnavailableRetryAfterSeconds = 5;

struct ApiError {
  int http_status = 400;
  std::string type = "invalid_request_error";  // or "not_found_error", "server_error", ...
  std::string message;
  std::string param;  // the offending request field, empty if none
  std::string code;   // machine-readable code, empty for null
  int retry_after_s = 0;  // > 0: sent as the Retry-After header (429)

  static ApiError bad_request(std::string message, std::string param = {});
  static ApiError not_found(std::string message);
  static ApiError server_error(std::string message);
  // 429 with Retry-After: 1 and code "server_overloaded": the server (not the caller's quota)
  // is at capacity, e.g. its engine queue is full.
  static ApiError overloaded(std::string message);
  // Any other status, with the type OpenAI uses for it: 404 → "not_found_error",
  // 5xx → "server_error", else "invalid_request_error".
  static ApiError of_status(int http_status, std::string message);
  // From a library Error: kInvalidArgument / kOutOfRange / kUnsupported / kCorruptData → 400,
  // kNotFound → 404, kUnavailable → 503 with Retry-After, kResourceExhausted → 429
  // (overloaded()), kIoError / kInternal → 500.
  static ApiError from(const Error& error, std::string param = {});

  std::string to_json() const;
};

}  // namespace mx
