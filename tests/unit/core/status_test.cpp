#include "core/status.h"

#include <gtest/gtest.h>

#include "core/dtype.h"

namespace mx {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return make_error(ErrorCode::kInvalidArgument, "must be positive, got {}", x);
  return x;
}

Result<int> doubled(int x) {
  MX_ASSIGN_OR_RETURN(int y, parse_positive(x));
  return 2 * y;
}

TEST(Status, PropagatesValueAndError) {
  ASSERT_TRUE(doubled(3).ok());
  EXPECT_EQ(doubled(3).value(), 6);
  Result<int> bad = doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message, "must be positive, got -1");
  EXPECT_EQ(bad.error().with_context("x.gguf").message, "x.gguf: must be positive, got -1");
}

TEST(DType, SizesFollowGgmlBlockLayouts) {
  EXPECT_EQ(row_bytes(DType::Q4_K, 512).value(), 2u * 144u);
  EXPECT_EQ(row_bytes(DType::Q8_0, 64).value(), 68u);
  EXPECT_FALSE(row_bytes(DType::Q8_0, 33).has_value());
  EXPECT_FALSE(dtype_traits_from_id(4).has_value());  // removed GGML type id
  EXPECT_EQ(dtype_from_name("Q6_K").value(), DType::Q6_K);
  EXPECT_EQ(dtype_name(DType::BF16), "bf16");
}

}  // namespace
}  // namespace mx
