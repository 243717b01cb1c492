#include "kernels/cpu/fp8.h"

#include <array>
#include <cmath>
#include <limits>

namespace mx {
namespace {

// Decodes from the bit fields (kept separate from the table so tests can compare the two).
float decode_e4m3(uint8_t code) {
  const bool negative = (code & 0x80) != 0;
  const int exponent = (code >> 3) & 0xF;
  const int mantissa = code & 0x7;
  float magnitude;
  if (exponent == 0xF && mantissa == 0x7) {
    magnitude = std::numeric_limits<float>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -9);  // (m / 8) * 2^-6
  } else {
    magnitude = std::ldexp(static_cast<float>(8 + mantissa), exponent - 10);  // (1 + m/8) 2^(e-7)
  }
  return negative ? -magnitude : magnitude;
}

const std::array<float, 256>& table() {
  static const std::array<float, 256> values = [] {
    std::array<float, 256> result{};
    for (int code = 0; code < 256; ++code) result[code] = decode_e4m3(static_cast<uint8_t>(code));
    return result;
  }();
  return values;
}

}  // namespace

float fp8_e4m3_to_float(uint8_t code) { return decode_e4m3(code); }

const float* fp8_e4m3_table() { return table().data(); }

void dequantize_fp8_e4m3_row(const uint8_t* row, const float* scale_row, int64_t cols,
                             int64_t block_cols, float* out) {
  const float* lut = fp8_e4m3_table();
  for (int64_t block_start = 0, b = 0; block_start < cols; block_start += block_cols, ++b) {
    const float scale = scale_row[b];
    const int64_t block_end = block_start + block_cols < cols ? block_start + block_cols : cols;
    for (int64_t c = block_start; c < block_end; ++c) out[c] = lut[row[c]] * scale;
  }
}

void dequantize_fp8_e4m3_blocks(const uint8_t* weight, const float* scale_inv, int64_t rows,
                                int64_t cols, Fp8BlockShape block, float* out) {
  const int64_t scale_cols = (cols + block.cols - 1) / block.cols;
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_fp8_e4m3_row(weight + r * cols, scale_inv + (r / block.rows) * scale_cols, cols,
                            block.cols, out + r * cols);
  }
}

}  // namespace mx
