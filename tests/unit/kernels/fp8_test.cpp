// FP8 E4M3 against goldens that tests/tools/make_fp8_goldens.py derived in Python (exact
// fractions) from the format definition, independently of the C++.
#include "kernels/cpu/fp8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace mx {
namespace {

std::string fp8_data(const std::string& name) {
  return std::string(MX_TEST_DATA_DIR) + "/fp8/" + name;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::vector<float> read_floats(const std::string& path) {
  std::vector<uint8_t> bytes = read_bytes(path);
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));  // little-endian host
  return values;
}

// Exact equality, with NaN equal to NaN and +0 distinct from -0.
bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

TEST(Fp8, AllCodesMatchGoldenTable) {
  std::ifstream in(fp8_data("e4m3_values.txt"));
  ASSERT_TRUE(in) << "missing goldens: run tests/tools/make_fp8_goldens.py";
  std::string code_text, value_text;
  int count = 0;
  while (in >> code_text >> value_text) {
    int code = static_cast<int>(std::strtol(code_text.c_str(), nullptr, 16));
    ASSERT_EQ(code, count);
    // strtod reads the hex floats exactly; every E4M3 value is exact in float.
    float expected =
        value_text == "nan" ? NAN : static_cast<float>(std::strtod(value_text.c_str(), nullptr));
    EXPECT_TRUE(same_float(fp8_e4m3_to_float(static_cast<uint8_t>(code)), expected))
        << code_text << " -> " << fp8_e4m3_to_float(static_cast<uint8_t>(code)) << ", want "
        << value_text;
    EXPECT_TRUE(same_float(fp8_e4m3_table()[code], expected)) << code_text;
    ++count;
  }
  EXPECT_EQ(count, 256);
}

TEST(Fp8, KnownValues) {
  EXPECT_EQ(fp8_e4m3_to_float(0x7E), 448.0f);  // largest finite
  EXPECT_EQ(fp8_e4m3_to_float(0xFE), -448.0f);
  EXPECT_EQ(fp8_e4m3_to_float(0x38), 1.0f);
  EXPECT_EQ(fp8_e4m3_to_float(0x01), 0.001953125f);  // 2^-9, smallest subnormal
  EXPECT_EQ(fp8_e4m3_to_float(0x08), 0.015625f);     // 2^-6, smallest normal
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_float(0x7F)));
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_float(0xFF)));
  EXPECT_TRUE(std::signbit(fp8_e4m3_to_float(0x80)));
}

void check_case(const std::string& name) {
  std::ifstream meta(fp8_data(name + ".meta"));
  int64_t rows = 0, cols = 0;
  Fp8BlockShape block;
  ASSERT_TRUE(meta >> rows >> cols >> block.rows >> block.cols) << name;
  std::vector<uint8_t> weight = read_bytes(fp8_data(name + ".weight.bin"));
  std::vector<float> scale = read_floats(fp8_data(name + ".scale_inv.bin"));
  std::vector<float> expected = read_floats(fp8_data(name + ".expected.bin"));
  const int64_t scale_rows = (rows + block.rows - 1) / block.rows;
  const int64_t scale_cols = (cols + block.cols - 1) / block.cols;
  ASSERT_EQ(static_cast<int64_t>(weight.size()), rows * cols);
  ASSERT_EQ(static_cast<int64_t>(scale.size()), scale_rows * scale_cols);
  ASSERT_EQ(static_cast<int64_t>(expected.size()), rows * cols);

  std::vector<float> out(rows * cols, -1.0f);
  dequantize_fp8_e4m3_blocks(weight.data(), scale.data(), rows, cols, block, out.data());
  int mismatches = 0;
  for (int64_t i = 0; i < rows * cols && mismatches < 10; ++i) {
    if (!same_float(out[i], expected[i])) {
      ++mismatches;
      ADD_FAILURE() << name << " [" << i / cols << ", " << i % cols << "]: got " << out[i]
                    << ", want " << expected[i] << " (code " << int(weight[i]) << ")";
    }
  }
  // The row entry point gives the same result for a row in the last, partial block-row.
  const int64_t r = rows - 1;
  std::vector<float> row(cols);
  dequantize_fp8_e4m3_row(weight.data() + r * cols, scale.data() + (r / block.rows) * scale_cols,
                          cols, block.cols, row.data());
  for (int64_t c = 0; c < cols; ++c) EXPECT_TRUE(same_float(row[c], out[r * cols + c])) << c;
}

TEST(Fp8, BlockScaledDequantMatchesGoldens) {
  check_case("block128");    // 260 x 136, 128 x 128 blocks: partial blocks on both axes
  check_case("block32x16");  // 70 x 50, 32 x 16 blocks
}

}  // namespace
}  // namespace mx
