// fp16/bf16 conversions: exhaustive over all 65536 half patterns (widen, then narrow back must
// be the identity for every non-NaN), plus hand-picked rounding cases. Golden comparisons with
// numpy/gguf-py are in tests/unit/kernels/quant_goldens_test.cpp.
#include "core/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace mx {
namespace {

TEST(Half, Fp16RoundTripsEveryPattern) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    auto half = static_cast<uint16_t>(bits);
    float value = fp16_to_fp32(half);
    bool is_nan = (half & 0x7c00) == 0x7c00 && (half & 0x03ff) != 0;
    ASSERT_EQ(std::isnan(value), is_nan) << std::hex << bits;
    if (is_nan) {
      EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(value)))) << std::hex << bits;
      EXPECT_EQ(fp32_to_fp16(value) & 0x8000, half & 0x8000) << "sign of NaN kept";
    } else {
      ASSERT_EQ(fp32_to_fp16(value), half) << std::hex << bits;
    }
  }
}

TEST(Half, Fp16KnownValues) {
  EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_EQ(fp16_to_fp32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(fp16_to_fp32(0x8000)));
}

TEST(Half, Fp16RoundsToNearestEven) {
  // 1 + 2^-11 is exactly between 1 and 1 + 2^-10: ties to the even mantissa (1.0).
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // 1 + 3 * 2^-11 is between 1 + 2^-10 (odd) and 1 + 2^-9 (even): rounds up.
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(fp32_to_fp16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3c01);
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);  // below the Inf threshold 65520
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-1e10f), 0xfc00);
  // Subnormals: 2^-25 is a tie between 0 and the smallest subnormal: to even (0).
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 units: tie to even 2
  EXPECT_EQ(fp32_to_fp16(-std::ldexp(1.0f, -30)), 0x8000);
  // The largest subnormal rounds up into the smallest normal.
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1023.75f, -24)), 0x0400);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::quiet_NaN()) & 0x7e00, 0x7e00);
}

TEST(Half, Bf16) {
  EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: to even (1.0); just above rounds up.
  EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(std::nextafter(1.0f + std::ldexp(1.0f, -8), 2.0f)), 0x3f81);
  EXPECT_EQ(fp32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  // The largest float rounds to Inf; Inf stays Inf; NaN stays NaN even with a low payload.
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(fp32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(float_from_bits(0x7f800001)))));
  EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(float_from_bits(0xffffffff)))));
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    auto bf16 = static_cast<uint16_t>(bits);
    float value = bf16_to_fp32(bf16);
    if (!std::isnan(value)) {
      ASSERT_EQ(fp32_to_bf16(value), bf16) << std::hex << bits;
    }
  }
}

}  // namespace
}  // namespace mx
