// Member keys and values: the key layout other tools (etcdctl, dashboards) rely on, and JSON that
// survives unknown fields and rejects what is not a member.
#include "cluster/member.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

TEST(MemberTest, KeyIsRoleThenEpochAsSixteenHexDigits) {
  Member member;
  member.role = "worker";
  member.epoch = 0x694d7a7e2b5c9f04;
  EXPECT_EQ(member_key("prod", member), "/mxserve/prod/members/worker/694d7a7e2b5c9f04");
  member.epoch = 255;
  EXPECT_EQ(member_key("prod", member), "/mxserve/prod/members/worker/00000000000000ff");
  EXPECT_EQ(members_prefix("prod"), "/mxserve/prod/members/");
}

TEST(MemberTest, JsonRoundTripKeepsEveryField) {
  Member member{"host-a", "worker", "10.0.0.1:7000", "sha256:abc", 42, 1024, 8};
  auto back = member_from_json(member_to_json(member));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, member);
}

TEST(MemberTest, JsonToleratesUnknownFieldsAndRejectsNonMembers) {
  auto newer = member_from_json(R"({"name":"n","role":"frontend","zone":"eu-1"})");
  ASSERT_TRUE(newer.ok());
  EXPECT_EQ(newer->role, "frontend");
  EXPECT_EQ(newer->capacity_kv_blocks, 0);
  EXPECT_EQ(member_from_json("not json").error().code, ErrorCode::kCorruptData);
  EXPECT_EQ(member_from_json("[1,2]").error().code, ErrorCode::kCorruptData);
  EXPECT_EQ(member_from_json(R"({"max_running":"eight"})").error().code, ErrorCode::kCorruptData);
}

TEST(MemberTest, RolesAreKeySegments) {
  EXPECT_TRUE(validate_role("worker").ok());
  EXPECT_TRUE(validate_role("prefill_2").ok());
  EXPECT_FALSE(validate_role("").ok());
  EXPECT_FALSE(validate_role("a/b").ok());
  EXPECT_FALSE(validate_role("Worker").ok());
  EXPECT_FALSE(validate_role(std::string(33, 'a')).ok());
}

}  // namespace
}  // namespace mx
