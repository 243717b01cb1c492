#include "server/metering.h"

#include <gtest/gtest.h>

#include "fake_key_store.h"

namespace mx {
namespace {

HttpRequest request_with(HttpHeaders headers) {
  HttpRequest request;
  request.method = "GET";
  request.target = request.path = "/v1/models";
  request.headers = std::move(headers);
  return request;
}

TEST(MeteringTest, OpenModeCallerIsAdminWithoutAKey) {
  test::FakeKeyStore store;
  Metering metering(&store, nullptr, MeteringConfig{"test"});
  EXPECT_TRUE(metering.open_mode());
  auto caller = metering.identify(request_with({}));
  ASSERT_TRUE(caller.ok());
  EXPECT_FALSE(caller->key);
  EXPECT_TRUE(caller->admin());
}

// What cmd_serve asks at start: only revoked keys, or an unreadable store, is not open mode.
TEST(MeteringTest, RevokedKeysOrAnUnreadableStoreAreNotOpenMode) {
  test::FakeKeyStore store;
  store.add(test::key_fields("ops", true));
  store.keys[0].revoked = true;
  Metering metering(&store, nullptr, MeteringConfig{"test"});
  EXPECT_FALSE(metering.open_mode());
  auto caller = metering.identify_admin(request_with({}));
  ASSERT_FALSE(caller.ok());
  EXPECT_EQ(caller.error().http_status, 401);

  test::FakeKeyStore down;
  down.unreachable = true;
  Metering unreadable(&down, nullptr, MeteringConfig{"test"});
  EXPECT_FALSE(unreadable.open_mode());
  caller = unreadable.identify(request_with({}));
  ASSERT_FALSE(caller.ok());
  EXPECT_EQ(caller.error().http_status, 503);
}

TEST(MeteringTest, TwoAuthorizationHeadersAreRefused) {
  test::FakeKeyStore store;
  std::string secret = store.add(test::key_fields("ci"));
  Metering metering(&store, nullptr, MeteringConfig{"test"});
  auto one = metering.identify(request_with({{"authorization", "Bearer " + secret}}));
  ASSERT_TRUE(one.ok()) << one.error().message;
  auto two = metering.identify(
      request_with({{"Authorization", "Bearer " + secret}, {"AUTHORIZATION", "Bearer mxk-other"}}));
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.error().http_status, 400);
  EXPECT_NE(two.error().message.find("more than one Authorization header"), std::string::npos)
      << two.error().message;
}

TEST(MeteringTest, CheckModelFollowsTheKeysAllowList) {
  test::FakeKeyStore store;
  Metering metering(&store, nullptr, MeteringConfig{"test"});
  EXPECT_FALSE(metering.check_model(Caller{}, "qwen3"));  // open mode: every model
  Caller limited{test::key_fields("ci", false, {"llama"})};
  EXPECT_FALSE(metering.check_model(limited, "llama"));
  auto denied = metering.check_model(limited, "qwen3");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->http_status, 403);
  EXPECT_EQ(denied->param, "model");
}

}  // namespace
}  // namespace mx
