#include "server/key_directory.h"

#include <gtest/gtest.h>

#include "fake_key_store.h"

namespace mx {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

constexpr int64_t kNow = 1'800'000'000'000;

bool is_open(KeyDirectory& keys) {
  auto open = keys.open_mode();
  EXPECT_TRUE(open.ok()) << open.error().message;
  return open.ok() && *open;
}

TEST(KeyDirectoryTest, OpenOnlyWhileTheStoreNeverHeldAKey) {
  test::FakeKeyStore store;
  KeyDirectory keys(store, milliseconds(0));
  EXPECT_TRUE(is_open(keys));
  store.add(test::key_fields("ops", true));
  EXPECT_FALSE(is_open(keys));
}

// Issue 14, item 1: revoking the only key must not turn the server keyless.
TEST(KeyDirectoryTest, RevokedOrExpiredKeysKeepTheServerClosed) {
  test::FakeKeyStore store;
  std::string secret = store.add(test::key_fields("ops", true));
  store.keys[0].revoked = true;
  KeyDirectory keys(store, milliseconds(0));
  EXPECT_FALSE(is_open(keys));
  auto no_key = keys.authenticate("", kNow);
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.error().http_status, 401);
  auto revoked = keys.authenticate("Bearer " + secret, kNow);
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error().http_status, 403);

  test::FakeKeyStore expired_store;
  expired_store.add(test::key_fields("old", false, {}, kNow - 1));
  KeyDirectory expired(expired_store, milliseconds(0));
  EXPECT_FALSE(is_open(expired));
}

TEST(KeyDirectoryTest, ClosedForGoodOnceAKeyWasSeen) {
  test::FakeKeyStore store;
  store.add(test::key_fields("ops"));
  KeyDirectory keys(store, milliseconds(0));
  EXPECT_FALSE(is_open(keys));
  store.keys.clear();  // rows deleted behind the server's back
  keys.invalidate();
  EXPECT_FALSE(is_open(keys));
}

// While open, the answer is cached for ttl; invalidate() (the admin API changed a key) re-reads.
TEST(KeyDirectoryTest, OpenModeIsRereadAfterTtlOrInvalidate) {
  test::FakeKeyStore store;
  KeyDirectory keys(store, hours(1));
  EXPECT_TRUE(is_open(keys));
  store.add(test::key_fields("ops"));
  EXPECT_TRUE(is_open(keys));  // cached: another process's key shows within ttl
  keys.invalidate();
  EXPECT_FALSE(is_open(keys));
  const int reads = store.list_calls;
  EXPECT_FALSE(is_open(keys));
  EXPECT_EQ(store.list_calls, reads);  // closed is final: no more reads
}

// Fail closed: a store that cannot be read is never taken for "no keys".
TEST(KeyDirectoryTest, UnreadableStoreIsNeverOpen) {
  test::FakeKeyStore store;
  store.unreachable = true;
  KeyDirectory keys(store, milliseconds(0));
  auto open = keys.open_mode();
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().http_status, 503);

  test::FakeKeyStore was_open;
  KeyDirectory later(was_open, milliseconds(0));
  EXPECT_TRUE(is_open(later));
  was_open.unreachable = true;
  open = later.open_mode();
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().http_status, 503);
}

// RFC 9110 §11.1: the auth scheme is case-insensitive; one or more spaces follow it.
TEST(KeyDirectoryTest, BearerSchemeIsCaseInsensitive) {
  test::FakeKeyStore store;
  std::string secret = store.add(test::key_fields("ci"));
  KeyDirectory keys(store, hours(1));
  for (const std::string& header :
       {"Bearer " + secret, "bearer " + secret, "BEARER " + secret, "Bearer   " + secret}) {
    auto key = keys.authenticate(header, kNow);
    ASSERT_TRUE(key.ok()) << header << ": " << key.error().message;
    EXPECT_EQ(key->name, "ci");
  }
  for (const std::string& header : {std::string("Bearer"), std::string("Bearer "),
                                    "Basic " + secret, "Bearer" + secret, "Bearerx " + secret}) {
    auto key = keys.authenticate(header, kNow);
    ASSERT_FALSE(key.ok()) << header;
    EXPECT_EQ(key.error().http_status, 401) << header;
  }
}

}  // namespace
}  // namespace mx
