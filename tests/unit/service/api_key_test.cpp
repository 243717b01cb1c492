#include "service/api_key.h"

#include <gtest/gtest.h>

#include <set>
#include <string_view>

namespace mx {
namespace {

// True when text is prefix followed by `length` characters from `alphabet`. (Not std::regex:
// GCC 12's <regex> trips -Wmaybe-uninitialized under the asan preset.)
bool matches(std::string_view text, std::string_view prefix, size_t length,
             std::string_view alphabet) {
  if (!text.starts_with(prefix) || text.size() != prefix.size() + length) return false;
  return text.substr(prefix.size()).find_first_not_of(alphabet) == std::string_view::npos;
}

constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

TEST(ApiKeyTest, GeneratedKeyHasDocumentedFormats) {
  ApiKey fields;
  fields.name = "ci";
  fields.tenant = "acme";
  fields.models = {"qwen3"};
  fields.tokens_per_day = 1000;
  auto created = generate_key(fields, 1'700'000'000'000);
  ASSERT_TRUE(created.ok()) << created.error().message;
  const NewKey& key = *created;
  EXPECT_TRUE(matches(key.key.id, "key_", 12, kHex)) << key.key.id;
  EXPECT_TRUE(matches(key.secret, "mxk-", 43, kBase64Url)) << key.secret;
  EXPECT_TRUE(matches(key.key.secret_hash, "", 64, kHex)) << key.key.secret_hash;
  // 32 bytes = 42 full sextets + 4 bits: the last character's low 2 bits are zero padding.
  EXPECT_NE(std::string("AEIMQUYcgkosw048").find(key.secret.back()), std::string::npos)
      << key.secret;
  EXPECT_EQ(key.key.secret_hash, hash_secret(key.secret));
  EXPECT_EQ(key.key.created_at_ms, 1'700'000'000'000);
  // The caller's fields are kept.
  EXPECT_EQ(key.key.name, "ci");
  EXPECT_EQ(key.key.tenant, "acme");
  EXPECT_EQ(key.key.models, std::vector<std::string>{"qwen3"});
  EXPECT_EQ(key.key.tokens_per_day, 1000);
}

TEST(ApiKeyTest, GeneratedKeysDiffer) {
  std::set<std::string> ids, secrets;
  for (int i = 0; i < 50; ++i) {
    auto created = generate_key({}, 0);
    ASSERT_TRUE(created.ok());
    ids.insert(created->key.id);
    secrets.insert(created->secret);
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(secrets.size(), 50u);
}

TEST(ApiKeyTest, HashIsLowercaseHexSha256) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hash_secret(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hash_secret("mxk-test"),
            "fe0418ad3689a780321d20052123deac08b2b6cef689b58fd4193051e4e8320b");
}

TEST(ApiKeyTest, ModelAllowList) {
  ApiKey key;
  EXPECT_TRUE(key_allows_model(key, "anything"));  // empty list: all models
  key.models = {"qwen3-8b", "llama3"};
  EXPECT_TRUE(key_allows_model(key, "qwen3-8b"));
  EXPECT_TRUE(key_allows_model(key, "llama3"));
  EXPECT_FALSE(key_allows_model(key, "qwen3"));     // no prefix match
  EXPECT_FALSE(key_allows_model(key, "Qwen3-8B"));  // names are exact
  EXPECT_FALSE(key_allows_model(key, ""));
}

TEST(ApiKeyTest, UnusableWhenRevokedOrExpired) {
  ApiKey key;
  EXPECT_EQ(key_unusable_reason(key, 5'000), "");  // expires_at_ms 0: never
  key.expires_at_ms = 10'000;
  EXPECT_EQ(key_unusable_reason(key, 9'999), "");
  EXPECT_EQ(key_unusable_reason(key, 10'000), "expired");
  EXPECT_EQ(key_unusable_reason(key, 20'000), "expired");
  key.revoked = true;
  EXPECT_EQ(key_unusable_reason(key, 0), "revoked");
}

TEST(ApiKeyTest, FieldProblemsNameTheField) {
  ApiKey key;
  key.name = "ci";
  key.tenant = "acme \xe6\x9d\xb1";
  key.models = {"qwen3"};
  EXPECT_FALSE(find_key_field_problem(key));
  key.name = "bad\xff";
  auto problem = find_key_field_problem(key);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->field, "name");
  EXPECT_EQ(problem->message, "is not valid UTF-8 (byte 0xff at offset 3)");
  key.name = "ci";
  key.tenant = "a\tb";
  ASSERT_TRUE(find_key_field_problem(key));
  EXPECT_EQ(find_key_field_problem(key)->field, "tenant");
  key.tenant = "";
  key.models = {"qwen3", ""};
  ASSERT_TRUE(find_key_field_problem(key));
  EXPECT_EQ(find_key_field_problem(key)->field, "models");
  EXPECT_EQ(find_key_field_problem(key)->message, "has a model name that is empty (model 2)");
  key.models = {};
  key.requests_per_minute = -1;
  ASSERT_TRUE(find_key_field_problem(key));
  EXPECT_EQ(find_key_field_problem(key)->field, "requests_per_minute");
}

}  // namespace
}  // namespace mx
