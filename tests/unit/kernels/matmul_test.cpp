// matmul() on every weight type and every dispatch path this CPU has, against a reference that
// dequantizes W with the reference dequantizer (quants.h) and uses the same int8 activations
// (quantize_activations_row), summed in double.
// Tolerances: |y - ref| <= 2e-5 * sum_c |W[r,c] xq[t,c]| + 1e-6 (float summation order only);
// against unquantized x (with one 25-sigma outlier channel, as real activations have):
// RMS over outputs of (y - exact) <= 1% of RMS of sum_c |W[r,c] x[t,c]| (int8 activations).
#include "kernels/cpu/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/quants.h"
#include "random_blocks.h"

namespace mx {
namespace {

const CpuPath kPaths[] = {CpuPath::kScalar, CpuPath::kAvx2, CpuPath::kAvx512, CpuPath::kAvx512Vnni};
const DType kTypes[] = {DType::F32,   DType::F16,     DType::BF16,  DType::Q8_0,    DType::Q4_0,
                        DType::Q4_1,  DType::Q5_0,    DType::Q5_1,  DType::Q2_K,    DType::Q3_K,
                        DType::Q4_K,  DType::Q5_K,    DType::Q6_K,  DType::IQ4_NL,  DType::IQ4_XS,
                        DType::MXFP4, DType::IQ3_XXS, DType::IQ3_S, DType::IQ2_XXS, DType::IQ2_XS,
                        DType::IQ2_S, DType::IQ1_S,   DType::IQ1_M, DType::TQ1_0,   DType::TQ2_0};
// The integer-kernel types (legacy blocks of 32 and K super-blocks of 256).
const DType kQuantTypes[] = {
    DType::Q8_0,  DType::Q4_0,    DType::Q4_1,  DType::Q5_0,    DType::Q5_1,   DType::Q2_K,
    DType::Q3_K,  DType::Q4_K,    DType::Q5_K,  DType::Q6_K,    DType::IQ4_NL, DType::IQ4_XS,
    DType::MXFP4, DType::IQ3_XXS, DType::IQ3_S, DType::IQ2_XXS, DType::IQ2_XS, DType::IQ2_S,
    DType::IQ1_S, DType::IQ1_M,   DType::TQ1_0, DType::TQ2_0};

struct Problem {
  DType type;
  int64_t rows, cols, n_tokens;
  std::vector<uint8_t> w;
  std::vector<float> w_f32;  // dequantized W
  std::vector<float> x;      // [n_tokens, x_stride]
  int64_t x_stride;
};

Problem make_problem(DType type, int64_t rows, int64_t cols, int64_t n_tokens, uint32_t seed) {
  Problem p{type, rows, cols, n_tokens, {}, {}, {}, cols + 5};
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  size_t row_size = static_cast<size_t>(*row_bytes(type, static_cast<uint64_t>(cols)));
  p.w.resize(row_size * static_cast<size_t>(rows));
  p.w_f32.resize(static_cast<size_t>(rows * cols));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* packed = p.w.data() + r * row_size;
    if (can_quantize(type)) {
      for (float& v : row) v = normal(rng) * 0.1f;
      EXPECT_TRUE(quantize_row(type, row.data(), packed, cols));
    } else {  // the grid types (llama-quantize's): random valid blocks
      test::fill_random_grid_blocks(type, packed, cols / 256, 1e-3f, rng);
    }
    EXPECT_TRUE(dequantize_row(type, packed, p.w_f32.data() + r * cols, cols));
  }
  p.x.resize(static_cast<size_t>(n_tokens * p.x_stride));
  for (float& v : p.x) v = normal(rng);
  if (cols >= 64) p.x[3] = 25.0f;  // an outlier channel, as real activations have
  return p;
}

// Activations exactly as matmul() sees them: int8 dequantized for quantized types.
std::vector<float> effective_x(const Problem& p, int64_t t) {
  const float* x = p.x.data() + t * p.x_stride;
  std::vector<float> out(x, x + p.cols);
  int block = activation_block_elems(p.type);
  if (block == 0) return out;
  std::vector<int8_t> q(static_cast<size_t>(p.cols));
  std::vector<float> d(static_cast<size_t>(p.cols / block));
  quantize_activations_row(p.type, x, p.cols, q.data(), d.data());
  for (int64_t c = 0; c < p.cols; ++c) out[c] = q[c] * d[c / block];
  return out;
}

// use_aux: with the per-weight data of matmul_prepare_aux() (types and paths that have it).
std::vector<float> run(const Problem& p, CpuPath path, ThreadPool& pool, int64_t y_stride,
                       bool use_aux) {
  std::vector<float> y(static_cast<size_t>(p.n_tokens * y_stride), -7.0f);
  std::vector<uint8_t> aux(use_aux ? matmul_aux_bytes(p.type, p.rows, p.cols, path) : 0);
  if (use_aux) {
    Status prepared =
        matmul_prepare_aux(p.type, p.w.data(), p.rows, p.cols, aux.data(), aux.size(), pool, path);
    EXPECT_TRUE(prepared.ok()) << (prepared.ok() ? "" : prepared.error().message);
  }
  std::vector<uint8_t> scratch(matmul_scratch_bytes(p.type, p.n_tokens, p.cols) + 64);
  void* aligned = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
  MatmulArgs args{p.type,     p.w.data(), p.rows,   p.cols,     p.x.data(),
                  p.x_stride, y.data(),   y_stride, p.n_tokens, use_aux ? aux.data() : nullptr};
  Status status = matmul(args, aligned, scratch.size() - 64, pool, path);
  EXPECT_TRUE(status.ok()) << (status.ok() ? "" : status.error().message);
  return y;
}

// rms_vs_exact: also bound the error against unquantized x (a statistic: needs enough outputs).
void check_one(const Problem& p, CpuPath path, ThreadPool& pool, bool use_aux, bool rms_vs_exact) {
  int64_t y_stride = p.rows + 3;
  std::vector<float> y = run(p, path, pool, y_stride, use_aux);
  double err_sq = 0.0, ref_sq = 0.0;
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    std::vector<float> xq = effective_x(p, t);
    const float* x = p.x.data() + t * p.x_stride;
    for (int64_t r = 0; r < p.rows; ++r) {
      const float* w = p.w_f32.data() + r * p.cols;
      double ref = 0.0, magnitude = 0.0, exact = 0.0;
      for (int64_t c = 0; c < p.cols; ++c) {
        ref += double{w[c]} * xq[c];
        magnitude += std::fabs(double{w[c]} * xq[c]);
        exact += double{w[c]} * x[c];
      }
      float got = y[t * y_stride + r];
      ASSERT_NEAR(got, ref, 2e-5 * magnitude + 1e-6)
          << dtype_name(p.type) << " " << cpu_path_name(path) << " rows=" << p.rows
          << " cols=" << p.cols << " tokens=" << p.n_tokens << " aux=" << use_aux << " t=" << t
          << " r=" << r;
      err_sq += (got - exact) * (got - exact);
      ref_sq += magnitude * magnitude;
    }
    for (int64_t r = p.rows; r < y_stride; ++r) ASSERT_EQ(y[t * y_stride + r], -7.0f);
  }
  if (rms_vs_exact) {
    EXPECT_LE(std::sqrt(err_sq / std::max(ref_sq, 1e-30)), 0.01) << dtype_name(p.type);
  }
}

// Without and (where this type and path have it) with the prepared per-weight data.
void check(const Problem& p, CpuPath path, ThreadPool& pool, bool rms_vs_exact = true) {
  check_one(p, path, pool, false, rms_vs_exact);
  if (matmul_aux_bytes(p.type, p.rows, p.cols, path) > 0) {
    check_one(p, path, pool, true, rms_vs_exact);
  }
}

TEST(Matmul, AllTypesPathsAndShapes) {
  ThreadPool pool1(1, false), pool2(2, false);
  uint32_t seed = 1;
  for (DType type : kTypes) {
    bool k_type = activation_block_elems(type) == 256;
    std::vector<int64_t> cols_list =
        k_type ? std::vector<int64_t>{256, 768} : std::vector<int64_t>{32, 96, 1056};
    if (type == DType::F32 || type == DType::F16 || type == DType::BF16) cols_list.push_back(37);
    for (int64_t cols : cols_list) {
      for (auto [rows, tokens] : {std::pair<int64_t, int64_t>{1, 1}, {7, 3}, {33, 17}, {20, 64}}) {
        Problem p = make_problem(type, rows, cols, tokens, seed++);
        // The RMS bound against unquantized x is a statistic: not over one output (1.3% for
        // one 1 x 1 q6_K problem).
        const bool rms_vs_exact = rows * tokens >= 16;
        for (CpuPath path : kPaths) {
          if (!cpu_path_supported(path)) continue;
          check(p, path, tokens % 2 ? pool2 : pool1, rms_vs_exact);
        }
      }
    }
  }
}

TEST(Matmul, PathsAgreeOnLargerDecodeAndPrefill) {
  ThreadPool pool(2, false);
  for (DType type : {DType::Q8_0, DType::Q5_0, DType::Q4_1, DType::Q2_K, DType::Q3_K, DType::Q4_K,
                     DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS, DType::MXFP4, DType::IQ3_XXS,
                     DType::IQ2_XS, DType::IQ1_M, DType::TQ1_0, DType::F16}) {
    for (int64_t tokens : {1, 40}) {
      Problem p = make_problem(type, 260, 2048, tokens, 99);
      for (CpuPath path : kPaths) {
        if (cpu_path_supported(path)) check(p, path, pool);
      }
    }
  }
}

// Float weights on the SIMD tile kernels (matmul_float_simd.inc): cols below one vector, with a
// 7-element tail after full 8- and 16-lane vectors, and 16-aligned; rows leaving 1-3 rows after
// the 4-row tiles; token counts leaving every remainder of the 6-token (AVX-512) and 2-token
// (AVX2) tiles. Same tolerance as above: f32 products, only the summation order differs.
TEST(Matmul, FloatWeightsOddShapesOnEveryPath) {
  ThreadPool pool1(1, false), pool2(2, false);
  uint32_t seed = 500;
  for (DType type : {DType::F32, DType::F16, DType::BF16}) {
    for (int64_t cols : {5, 23, 1031, 2048}) {
      for (auto [rows, tokens] :
           {std::pair<int64_t, int64_t>{13, 1}, {6, 2}, {1, 5}, {15, 11}, {37, 14}, {258, 1}}) {
        Problem p = make_problem(type, rows, cols, tokens, seed++);
        for (CpuPath path : kPaths) {
          if (cpu_path_supported(path)) check(p, path, rows > 100 ? pool2 : pool1);
        }
      }
    }
  }
}

// Prefill on the lanes kernels: columns in several unpacked segments (the last one partial),
// token counts at and just past a group of 16, rows not a multiple of the 8-row tile.
TEST(Matmul, PrefillOverSeveralColumnSegments) {
  ThreadPool pool(2, false);
  for (DType type : kQuantTypes) {
    for (int64_t tokens : {16, 33}) {
      Problem p = make_problem(type, 21, 4352, tokens, 7);
      for (CpuPath path : kPaths) {
        if (cpu_path_supported(path)) check(p, path, pool);
      }
    }
  }
}

// Quantized weights on the SIMD tile kernels: every remainder of the token tiles (AVX2: 4 for
// Q8_0/Q4_0, 6 for K types; AVX-512: 6 and 8), rows left over after 2-row tiles, and legacy
// rows of one block, one pair and an odd number of blocks (the AVX2 kernels take blocks in
// pairs). The problems are tiny, so only the comparison with the quantized reference applies
// (the RMS against unquantized x over 2 outputs was 1.06%, over the 1% meant for many).
TEST(Matmul, QuantizedTileRemaindersOnEveryPath) {
  ThreadPool pool(1, false);
  uint32_t seed = 900;
  for (DType type : kQuantTypes) {
    bool k_type = activation_block_elems(type) == 256;
    std::vector<int64_t> cols_list =
        k_type ? std::vector<int64_t>{256, 512} : std::vector<int64_t>{32, 64, 160};
    for (int64_t cols : cols_list) {
      for (int64_t rows : {1, 2, 3, 5}) {
        for (int64_t tokens = 1; tokens <= 9; ++tokens) {
          Problem p = make_problem(type, rows, cols, tokens, seed++);
          for (CpuPath path : kPaths) {
            if (cpu_path_supported(path)) check(p, path, pool, false);
          }
        }
      }
    }
  }
}

// Every path's activation quantizer must give exactly quantize_activations_row's int8 values
// and scales. With W the identity, y[t, r] = w_rr * q[r] * d, so one q off by one moves y by
// |w_rr| * d; the kernels' float rounding stays far below a tenth of that (the K types' min
// correction cancels terms ~32 times the result, so check()'s relative tolerance would not
// fit). Token 0 has amax 127 (scale 1) and only halfway values k + 0.5 (round half to even),
// token 1 an irregular amax, token 2 an all-zero row (d = 0), token 3 a negative amax.
TEST(Matmul, ActivationQuantizationIsIdenticalOnEveryPath) {
  ThreadPool pool(1, false);
  for (DType type : kQuantTypes) {
    if (!can_quantize(type)) continue;  // identity weights; the grid types have no zero value
    const int64_t n = 512;
    const int64_t block = activation_block_elems(type);
    Problem p = make_problem(type, n, n, 4, 77);
    size_t row_size = static_cast<size_t>(*row_bytes(type, static_cast<uint64_t>(n)));
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r) {
      std::fill(row.begin(), row.end(), 0.0f);
      row[static_cast<size_t>(r)] = 1.0f;
      ASSERT_TRUE(quantize_row(type, row.data(), p.w.data() + r * row_size, n));
      ASSERT_TRUE(dequantize_row(type, p.w.data() + r * row_size, p.w_f32.data() + r * n, n));
    }
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> uniform(-3.0f, 3.0f);
    for (int64_t c = 0; c < n; ++c) {
      float* x = p.x.data();
      x[c] = c % block == 0 ? 127.0f : static_cast<float>((c * 37) % 251 - 125) + 0.5f;
      x[p.x_stride + c] = uniform(rng) * (c % block == 5 ? 1.37f : 1.0f);
      x[2 * p.x_stride + c] = 0.0f;
      x[3 * p.x_stride + c] = c % block == 7 ? -90.0f : uniform(rng) * 30.0f;
    }
    for (CpuPath path : kPaths) {
      if (!cpu_path_supported(path)) continue;
      std::vector<float> y = run(p, path, pool, p.rows, false);
      for (int64_t t = 0; t < p.n_tokens; ++t) {
        std::vector<int8_t> q(static_cast<size_t>(n));
        std::vector<float> d(static_cast<size_t>(n / block));
        quantize_activations_row(type, p.x.data() + t * p.x_stride, n, q.data(), d.data());
        for (int64_t r = 0; r < n; ++r) {
          double ref = 0.0;
          for (int64_t c = 0; c < n; ++c) ref += double{p.w_f32[r * n + c]} * q[c] * d[c / block];
          double one_step = std::fabs(p.w_f32[r * n + r]) * d[r / block];
          ASSERT_NEAR(y[t * p.rows + r], ref, 0.1 * one_step + 1e-7)
              << dtype_name(type) << " " << cpu_path_name(path) << " t=" << t << " r=" << r
              << " q=" << int{q[r]};
        }
      }
    }
  }
}

TEST(Matmul, ReferenceMatchesHandComputedProduct) {
  // 2x2 F32 weights: checks the reference wiring itself (y = x W^T, strides).
  ThreadPool pool(1, false);
  float w[] = {1, 2, 3, 4};
  float x[] = {10, 20, 0, 1, 1, 0};  // two tokens, stride 3
  float y[6] = {0, 0, -1, 0, 0, -1};
  MatmulArgs args{DType::F32, w, 2, 2, x, 3, y, 3, 2};
  ASSERT_TRUE(matmul(args, nullptr, 0, pool, CpuPath::kScalar).ok());
  EXPECT_FLOAT_EQ(y[0], 50.0f);   // 1*10 + 2*20
  EXPECT_FLOAT_EQ(y[1], 110.0f);  // 3*10 + 4*20
  EXPECT_FLOAT_EQ(y[2], -1.0f);   // untouched padding
  EXPECT_FLOAT_EQ(y[3], 3.0f);    // token 1: x = (1, 1)
  EXPECT_FLOAT_EQ(y[4], 7.0f);
}

TEST(Matmul, RejectsBadArguments) {
  ThreadPool pool(1, false);
  std::vector<uint8_t> w(34 * 2);
  std::vector<float> x(64), y(4);
  MatmulArgs args{DType::Q8_0, w.data(), 2, 48, x.data(), 48, y.data(), 2, 1};
  EXPECT_FALSE(matmul(args, nullptr, 0, pool).ok());  // 48 is not a multiple of 32
  args.cols = 32;
  args.x_stride = 32;
  EXPECT_FALSE(matmul(args, nullptr, 0, pool).ok());  // no scratch
  args.w_type = DType::Q8_1;  // an activation type: no weights are stored in it
  EXPECT_EQ(matmul(args, nullptr, 0, pool).error().code, ErrorCode::kUnsupported);
}

TEST(Matmul, PrepareAuxRejectsWrongSizes) {
  ThreadPool pool(1, false);
  std::vector<uint8_t> w(34 * 2), aux(64);
  EXPECT_EQ(matmul_aux_bytes(DType::Q4_K, 2, 256), 0u);  // only Q8_0 has aux data
  EXPECT_EQ(matmul_aux_bytes(DType::Q8_0, 2, 32, CpuPath::kScalar), 0u);
  if (matmul_aux_bytes(DType::Q8_0, 2, 32) == 0) return;  // no VNNI here
  EXPECT_EQ(matmul_aux_bytes(DType::Q8_0, 2, 32), 16u);
  EXPECT_FALSE(matmul_prepare_aux(DType::Q8_0, w.data(), 2, 32, aux.data(), 15, pool).ok());
  ASSERT_TRUE(matmul_prepare_aux(DType::Q8_0, w.data(), 2, 32, aux.data(), 16, pool).ok());
}

TEST(Matmul, ActivationQuantizationRoundsToNearestEven) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;  // amax: scale 1
  x[1] = 2.5f;    // halfway: rounds to even 2
  x[2] = -3.5f;   // rounds to -4
  std::vector<int8_t> q(32);
  float d = 0.0f;
  quantize_activations_row(DType::Q8_0, x.data(), 32, q.data(), &d);
  EXPECT_FLOAT_EQ(d, 1.0f);
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], 2);
  EXPECT_EQ(q[2], -4);
}

}  // namespace
}  // namespace mx
