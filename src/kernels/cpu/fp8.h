// FP8 E4M3 ("e4m3fn") decoding and the reference dequantization of block-scaled FP8 weights.
//
// E4M3 as stored by DeepSeek-V3 checkpoints (OCP FP8): 1 sign bit, 4 exponent bits (bias 7),
// 3 mantissa bits. Exponent 0 is subnormal (m/8 * 2^-6, smallest 2^-9); there are no
// infinities; S.1111.111 (0x7F, 0xFF) is NaN, so the largest finite value is 448.
//
// Block scaling: a weight W [rows = out_features, cols = in_features] of E4M3 codes comes with
// scale_inv [ceil(rows / block_rows), ceil(cols / block_cols)] F32 (row-major; 128 x 128 blocks
// in DeepSeek-V3). The real weight is value(W[r][c]) * scale_inv[r / block_rows][c / block_cols]
// ("scale_inv" because the quantizer divided by it). This file is the plain reference that
// optimized kernels are tested against; it knows nothing of WeightMap or files.
#pragma once

#include <cstdint>

namespace mx {

// The value of one E4M3 code (NaN for 0x7F and 0xFF; -0.0f for 0x80).
float fp8_e4m3_to_float(uint8_t code);

// All 256 values, indexed by code: a lookup table for kernels.
const float* fp8_e4m3_table();

struct Fp8BlockShape {
  int64_t rows = 128;  // weight rows (out_features) per scale entry
  int64_t cols = 128;  // weight columns (in_features) per scale entry
};

// Where the rows of an FP8 matrix find their block scales. The matrix may be a row slice
// (one expert, one head) of a bigger tensor whose scale_inv it shares: row r of the matrix is
// row row0 + r of the tensor, so its scales are
//   scale_inv[((row0 + r) / block.rows) * scale_cols + c / block.cols].
struct Fp8Scales {
  const float* scale_inv = nullptr;  // [ceil(tensor rows / block.rows), scale_cols]
  int64_t scale_cols = 0;            // ceil(tensor cols / block.cols)
  Fp8BlockShape block;
  int64_t row0 = 0;
  // The scales of row r's block-row: scale_cols floats.
  const float* row_scales(int64_t r) const {
    return scale_inv + ((row0 + r) / block.rows) * scale_cols;
  }
  // Scales present, blocks non-empty and scale rows wide enough for `cols` columns.
  bool valid_for(int64_t cols) const {
    return scale_inv != nullptr && block.rows > 0 && block.cols > 0 && row0 >= 0 &&
           scale_cols >= (cols + block.cols - 1) / block.cols;
  }
};

// One row: out[c] = value(row[c]) * scale_row[c / block_cols], c in [0, cols).
// scale_row: the ceil(cols / block_cols) scales of the block-row this row belongs to.
void dequantize_fp8_e4m3_row(const uint8_t* row, const float* scale_row, int64_t cols,
                             int64_t block_cols, float* out);

// The whole matrix: weight [rows, cols] codes, scale_inv [ceil(rows/b.rows), ceil(cols/b.cols)],
// out [rows, cols] floats. All row-major and contiguous; pointers naturally aligned.
void dequantize_fp8_e4m3_blocks(const uint8_t* weight, const float* scale_inv, int64_t rows,
                                int64_t cols, Fp8BlockShape block, float* out);

}  // namespace mx
