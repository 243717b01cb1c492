// dequantize_row against values computed by llama.cpp's gguf-py (tests/data/quants, written by
// tests/tools/make_quant_goldens.py). Tolerance: none — every float must be bitwise equal
// (NaNs compared as NaN). Our scalar code rounds product and sum separately like numpy does,
// so there is no reason for a last-bit difference; a mismatch means a layout bug.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/half.h"
#include "kernels/cpu/quants.h"

namespace mx {
namespace {

std::vector<uint8_t> read_bytes(const std::string& name) {
  std::string path = std::string(MX_TEST_DATA_DIR) + "/quants/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing golden file " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> read_floats(const std::string& name) {
  std::vector<uint8_t> bytes = read_bytes(name);
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return float_bits(a) == float_bits(b);
}

class DequantizeGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(DequantizeGolden, MatchesGgufPyBitForBit) {
  const std::string name = GetParam();
  auto type = dtype_from_name(name);
  ASSERT_TRUE(type.has_value()) << name;
  auto traits = dtype_traits(*type);
  std::vector<uint8_t> blocks = read_bytes(name + ".bin");
  std::vector<float> expected = read_floats(name + ".f32");
  ASSERT_FALSE(expected.empty());
  ASSERT_EQ(blocks.size() % traits->block_bytes, 0u);
  ASSERT_EQ(blocks.size() / traits->block_bytes * traits->block_elems, expected.size());

  // Decode from an odd address too: rows inside a mapping need not be aligned.
  std::vector<uint8_t> shifted(blocks.size() + 1);
  std::memcpy(shifted.data() + 1, blocks.data(), blocks.size());
  for (const uint8_t* src : {blocks.data(), shifted.data() + 1}) {
    std::vector<float> actual(expected.size(), -1.0f);
    ASSERT_TRUE(dequantize_row(*type, src, actual.data(), static_cast<int64_t>(actual.size())));
    int mismatches = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      if (!same_float(actual[i], expected[i]) && ++mismatches <= 5) {
        ADD_FAILURE() << name << " element " << i << " (block " << i / traits->block_elems
                      << "): got " << actual[i] << ", gguf-py " << expected[i];
      }
    }
    EXPECT_EQ(mismatches, 0) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantizeGolden,
                         ::testing::Values("f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0",
                                           "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q8_K", "iq4_nl",
                                           "iq4_xs", "mxfp4", "iq2_xxs", "iq2_xs", "iq2_s",
                                           "iq3_xxs", "iq3_s", "iq1_s", "iq1_m", "tq1_0", "tq2_0"));

// float32 -> 16-bit rounding against numpy (fp16) and gguf-py (bf16): round to nearest even
// at every tie, overflow to Inf, subnormals. Bitwise equal.
void check_half_quantize(DType type, const std::string& name) {
  std::vector<float> inputs = read_floats(name + "_quantize.f32");
  std::vector<uint8_t> expected_bytes = read_bytes(name + "_quantize.bin");
  ASSERT_EQ(expected_bytes.size(), inputs.size() * 2);
  std::vector<uint16_t> actual(inputs.size());
  ASSERT_TRUE(
      quantize_row(type, inputs.data(), actual.data(), static_cast<int64_t>(inputs.size())));
  int mismatches = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    uint16_t expected;
    std::memcpy(&expected, expected_bytes.data() + 2 * i, 2);
    if (actual[i] != expected && ++mismatches <= 5) {
      ADD_FAILURE() << name << ": " << inputs[i] << " (0x" << std::hex << float_bits(inputs[i])
                    << ") -> 0x" << actual[i] << ", reference 0x" << expected << std::dec;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(QuantizeGolden, F16MatchesNumpy) { check_half_quantize(DType::F16, "f16"); }
TEST(QuantizeGolden, Bf16MatchesGgufPy) { check_half_quantize(DType::BF16, "bf16"); }

}  // namespace
}  // namespace mx
