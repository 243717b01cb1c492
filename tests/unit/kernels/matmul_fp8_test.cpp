// matmul() on F8_E4M3 weights with block scales, every dispatch path this CPU has, against a
// double-precision product with the reference dequantization (dequantize_fp8_e4m3_blocks):
// |y - ref| <= 2e-5 * sum_c |W[r,c] x[t,c]| + 1e-6, i.e. f32 summation order only (the kernels
// multiply the exact dequantized weights; no activation quantization). Shapes with partial edge
// blocks (rows and cols not multiples of the block), blocks that are not a multiple of the
// vector width, row slices starting inside a block (one expert / head of a bigger tensor),
// 1 and many tokens, strided x and y.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/fp8.h"
#include "kernels/cpu/matmul.h"

namespace mx {
namespace {

const CpuPath kPaths[] = {CpuPath::kScalar, CpuPath::kAvx2, CpuPath::kAvx512, CpuPath::kAvx512Vnni};

// A whole FP8 tensor [tensor_rows, cols] with its scales, and x.
struct Fp8Problem {
  int64_t tensor_rows, cols, n_tokens;
  Fp8BlockShape block;
  std::vector<uint8_t> codes;
  std::vector<float> scale_inv, w_f32, x;
  int64_t x_stride;
};

Fp8Problem make_fp8_problem(int64_t rows, int64_t cols, int64_t n_tokens, Fp8BlockShape block,
                            uint32_t seed) {
  Fp8Problem p{rows, cols, n_tokens, block, {}, {}, {}, {}, cols + 3};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> code(0, 255);
  std::uniform_real_distribution<float> scale(1e-4f, 3e-3f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  p.codes.resize(static_cast<size_t>(rows * cols));
  for (uint8_t& c : p.codes) {
    do {
      c = static_cast<uint8_t>(code(rng));
    } while ((c & 0x7F) == 0x7F);  // no NaN codes (checkpoints hold none)
  }
  const int64_t scale_rows = (rows + block.rows - 1) / block.rows;
  const int64_t scale_cols = (cols + block.cols - 1) / block.cols;
  p.scale_inv.resize(static_cast<size_t>(scale_rows * scale_cols));
  for (float& s : p.scale_inv) s = scale(rng);
  p.w_f32.resize(p.codes.size());
  dequantize_fp8_e4m3_blocks(p.codes.data(), p.scale_inv.data(), rows, cols, block, p.w_f32.data());
  p.x.resize(static_cast<size_t>(n_tokens * p.x_stride));
  for (float& v : p.x) v = normal(rng);
  return p;
}

MatmulArgs slice_args(const Fp8Problem& p, int64_t row0, int64_t rows, float* y, int64_t y_stride) {
  MatmulArgs a;
  a.w_type = DType::F8_E4M3;
  a.w = p.codes.data() + row0 * p.cols;
  a.rows = rows;
  a.cols = p.cols;
  a.x = p.x.data();
  a.x_stride = p.x_stride;
  a.y = y;
  a.y_stride = y_stride;
  a.n_tokens = p.n_tokens;
  a.w_fp8 =
      Fp8Scales{p.scale_inv.data(), (p.cols + p.block.cols - 1) / p.block.cols, p.block, row0};
  return a;
}

// Rows [row0, row0 + rows) of the tensor on one path; y checked against the double reference.
void check_slice(const Fp8Problem& p, int64_t row0, int64_t rows, CpuPath path, ThreadPool& pool) {
  const int64_t y_stride = rows + 2;
  std::vector<float> y(static_cast<size_t>(p.n_tokens * y_stride), -7.0f);
  const MatmulArgs args = slice_args(p, row0, rows, y.data(), y_stride);
  ASSERT_EQ(matmul_scratch_bytes(DType::F8_E4M3, p.n_tokens, p.cols), 0u);
  Status status = matmul(args, nullptr, 0, pool, path);
  ASSERT_TRUE(status.ok()) << status.error().message;
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    const float* x = p.x.data() + t * p.x_stride;
    for (int64_t r = 0; r < rows; ++r) {
      const float* w = p.w_f32.data() + (row0 + r) * p.cols;
      double ref = 0.0, magnitude = 0.0;
      for (int64_t c = 0; c < p.cols; ++c) {
        ref += double{w[c]} * x[c];
        magnitude += std::fabs(double{w[c]} * x[c]);
      }
      ASSERT_NEAR(y[t * y_stride + r], ref, 2e-5 * magnitude + 1e-6)
          << cpu_path_name(path) << " tensor_rows=" << p.tensor_rows << " cols=" << p.cols
          << " block=" << p.block.rows << "x" << p.block.cols << " row0=" << row0
          << " rows=" << rows << " tokens=" << p.n_tokens << " t=" << t << " r=" << r;
    }
    for (int64_t r = rows; r < y_stride; ++r) ASSERT_EQ(y[t * y_stride + r], -7.0f);
  }
}

TEST(MatmulFp8, OddShapesEveryPath) {
  ThreadPool pool1(1, false), pool2(2, false);
  uint32_t seed = 1;
  for (Fp8BlockShape block : {Fp8BlockShape{128, 128}, Fp8BlockShape{8, 24}}) {
    for (int64_t cols : {1, 5, 24, 128, 200, 257, 384}) {
      for (auto [rows, tokens] :
           {std::pair<int64_t, int64_t>{1, 1}, {7, 3}, {130, 1}, {37, 7}, {300, 16}, {5, 13}}) {
        const Fp8Problem p = make_fp8_problem(rows, cols, tokens, block, seed++);
        for (CpuPath path : kPaths) {
          if (!cpu_path_supported(path)) continue;
          ThreadPool& pool = tokens % 2 ? pool2 : pool1;
          check_slice(p, 0, rows, path, pool);
          if (rows > 4) check_slice(p, 3, rows - 4, path, pool);  // a slice starting mid-block
        }
      }
    }
  }
}

// The SIMD paths against the scalar kernel on a DeepSeek-sized decode and prefill.
TEST(MatmulFp8, PathsAgreeOnLargerShapes) {
  ThreadPool pool(2, false);
  for (int64_t tokens : {1, 40}) {
    const Fp8Problem p = make_fp8_problem(260, 2112, tokens, {128, 128}, 77);
    for (CpuPath path : kPaths) {
      if (cpu_path_supported(path)) check_slice(p, 0, p.tensor_rows, path, pool);
    }
  }
}

// matmul_batch (MoE experts): FP8 calls, each a slice of one tensor, in one region.
TEST(MatmulFp8, BatchOfSlicesMatchesSingleCalls) {
  ThreadPool pool(2, false);
  const Fp8Problem p = make_fp8_problem(96, 200, 3, {16, 128}, 5);
  std::vector<float> batched(static_cast<size_t>(3 * 96)), single(batched.size());
  std::vector<MatmulArgs> calls;
  for (int64_t e = 0; e < 4; ++e) calls.push_back(slice_args(p, e * 24, 24, &batched[e * 24], 96));
  ASSERT_TRUE(matmul_batch(calls, nullptr, 0, pool).ok());
  ASSERT_TRUE(matmul(slice_args(p, 0, 96, single.data(), 96), nullptr, 0, pool).ok());
  for (size_t i = 0; i < single.size(); ++i) ASSERT_FLOAT_EQ(batched[i], single[i]) << i;
}

TEST(MatmulFp8, MissingScalesAreAnError) {
  ThreadPool pool(1, false);
  const Fp8Problem p = make_fp8_problem(4, 32, 1, {128, 128}, 9);
  std::vector<float> y(4);
  MatmulArgs args = slice_args(p, 0, 4, y.data(), 4);
  args.w_fp8.scale_inv = nullptr;
  EXPECT_FALSE(matmul(args, nullptr, 0, pool).ok());
  args = slice_args(p, 0, 4, y.data(), 4);
  args.w_fp8.scale_cols = 0;
  EXPECT_FALSE(matmul(args, nullptr, 0, pool).ok());
}

}  // namespace
}  // namespace mx
