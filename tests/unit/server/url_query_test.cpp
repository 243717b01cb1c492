// parse_query (the query string of /v1/usage) and errors that quote client bytes.
#include "server/url_query.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace mx {
namespace {

TEST(UrlQuery, DecodesNamesAndValues) {
  auto params = parse_query("/v1/usage?from=2026-11-23T07%3A00%3A00Z&group_by=day&model=a+b&x");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(params->at("from"), "2026-11-23T07:00:00Z");
  EXPECT_EQ(params->at("group_by"), "day");
  EXPECT_EQ(params->at("model"), "a b");
  EXPECT_EQ(params->at("x"), "");
  EXPECT_TRUE(parse_query("/v1/usage")->empty());
  EXPECT_EQ(parse_query("/v1/usage?a=1&a=2#frag")->at("a"), "2");  // last value wins
}

TEST(UrlQuery, MalformedEscapesNameTheParameter) {
  for (const char* target : {"/u?from=%G1", "/u?from=%4", "/u?from=%"}) {
    auto params = parse_query(target);
    ASSERT_FALSE(params.ok()) << target;
    EXPECT_EQ(params.error().http_status, 400);
    EXPECT_EQ(params.error().param, "from");
  }
}

// Found by fuzz_service_inputs: a parameter name that is not UTF-8 went into the error
// message, and serializing the error threw.
TEST(UrlQuery, ErrorsQuotingNonUtf8BytesStillSerialize) {
  auto params = parse_query("/u?ke\xf3\xf3=%Z");
  ASSERT_FALSE(params.ok());
  auto body = nlohmann::json::parse(params.error().to_json());
  EXPECT_NE(body["error"]["message"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
}

}  // namespace
}  // namespace mx
