#include "server/json_parse.h"

#include <gtest/gtest.h>

#include <string>

namespace mx {
namespace {

using Json = nlohmann::ordered_json;

// {"k0": 0, "k1": 1, ...}
std::string object_of(size_t n_keys, const std::string& prefix = "k") {
  std::string text = "{";
  for (size_t i = 0; i < n_keys; ++i) {
    if (i > 0) text += ",";
    text += "\"" + prefix + std::to_string(i) + "\":" + std::to_string(i);
  }
  return text + "}";
}

TEST(JsonParse, KeepsKeyOrderLikeOrderedJson) {
  const std::string text = R"({"z": 1, "a": [true, null, 2.5, "s"], "m": {"y": {}, "b": []}})";
  Result<Json> parsed = parse_json_bounded(text, JsonLimits{});
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, Json::parse(text));
  EXPECT_EQ(parsed->dump(), Json::parse(text).dump());
}

TEST(JsonParse, DuplicatedKeysLastValueWinsAtFirstPosition) {
  // Small objects (linear search) and large ones (hash index) behave the same.
  for (size_t n : {size_t{3}, size_t{200}}) {
    std::string text = object_of(n);
    text.pop_back();
    text += R"(,"k1":"again","k0":{"x":1}})";
    Result<Json> parsed = parse_json_bounded(text, JsonLimits{});
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->size(), n);
    EXPECT_EQ((*parsed)["k1"], "again");
    EXPECT_EQ(parsed->begin().key(), "k0");
    EXPECT_EQ((*parsed)["k0"]["x"], 1);
    EXPECT_EQ(*parsed, Json::parse(text)) << "same result as ordered_json::parse";
  }
}

TEST(JsonParse, ManyKeysParseUpToTheBound) {
  JsonLimits limits;
  limits.max_keys = 100'000;
  Result<Json> parsed = parse_json_bounded(object_of(100'000), limits);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->size(), 100'000u);
  EXPECT_EQ((*parsed)["k99999"], 99'999);
}

TEST(JsonParse, BoundsNameTheirLimit) {
  JsonLimits limits{4, 10, 20};
  auto error_of = [&](const std::string& text) {
    Result<Json> parsed = parse_json_bounded(text, limits, "request body");
    return parsed.ok() ? std::string("(parsed)") : parsed.error().message;
  };
  EXPECT_EQ(error_of(object_of(11)),
            "request body has more than 10 object keys; send fewer fields");
  std::string nineteen_ones = "[1";  // the array and its 19 elements: 20 values
  for (int i = 1; i < 19; ++i) nineteen_ones += ",1";
  EXPECT_EQ(error_of(nineteen_ones + "]"), "(parsed)");
  EXPECT_EQ(error_of(nineteen_ones + ",1]"),
            "request body has more than 20 JSON values; send a smaller body");
  EXPECT_EQ(error_of("[[[[[]]]]]"), "request body nests arrays/objects deeper than 4 levels");
  EXPECT_EQ(error_of("[[[[]]]]"), "(parsed)");
  EXPECT_EQ(parse_json_bounded(object_of(11), limits).error().code, ErrorCode::kInvalidArgument);
}

TEST(JsonParse, SyntaxErrorsSayWhere) {
  Result<Json> parsed = parse_json_bounded(R"({"a": })", JsonLimits{}, "tool call");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message.rfind("tool call is not valid JSON: parse error at line 1", 0),
            0u)
      << parsed.error().message;
  EXPECT_NE(parsed.error().message.find("(byte 7)"), std::string::npos) << parsed.error().message;
  EXPECT_FALSE(parse_json_bounded("", JsonLimits{}).ok());
  EXPECT_FALSE(parse_json_bounded("{} x", JsonLimits{}).ok());
  EXPECT_EQ(parse_json_bounded("1e400", JsonLimits{}).error().message,
            "request body is not valid JSON: number overflow parsing '1e400'");
}

}  // namespace
}  // namespace mx
