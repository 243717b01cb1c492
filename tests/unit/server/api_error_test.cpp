#include "server/api_error.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace mx {
namespace {

TEST(ApiError, UnavailableIs503WithRetryAfter) {
  // The engine refuses work once it is stopping: a client must see "retry", not "bad request".
  ApiError error = ApiError::from(
      Error{ErrorCode::kUnavailable, "the server is shutting down; retry elsewhere"});
  EXPECT_EQ(error.http_status, 503);
  EXPECT_EQ(error.type, "server_error");
  EXPECT_EQ(error.retry_after_s, kUnavailableRetryAfterSeconds);
  EXPECT_GT(error.retry_after_s, 0);
  EXPECT_EQ(nlohmann::json::parse(error.to_json())["error"]["message"],
            "the server is shutting down; retry elsewhere");
  EXPECT_STREQ(error_code_name(ErrorCode::kUnavailable), "unavailable");
}

TEST(ApiError, LibraryErrorsMapToTheirStatus) {
  EXPECT_EQ(ApiError::from(Error{ErrorCode::kInvalidArgument, "x"}).http_status, 400);
  EXPECT_EQ(ApiError::from(Error{ErrorCode::kNotFound, "x"}).http_status, 404);
  EXPECT_EQ(ApiError::from(Error{ErrorCode::kInternal, "x"}).http_status, 500);
  EXPECT_EQ(ApiError::from(Error{ErrorCode::kInvalidArgument, "x"}).retry_after_s, 0);
}

}  // namespace
}  // namespace mx
