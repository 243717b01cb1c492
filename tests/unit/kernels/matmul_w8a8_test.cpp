// W8A8 matmul (I8 weights + per-row scales, per-token int8 activations) on every dispatch path,
// against a reference computed here in double from the same int8 values
// (quantize_row_w8a8 for W, quantize_activations_row for x).
// Tolerances: the integer sums are exact on every path, and every path applies the two scales
// in the same float operations, so paths must agree bit for bit; against the double reference
// |y - ref| <= 1e-6 * |ref| + 1e-6 (one float rounding of an exact integer and two products);
// against unquantized W and x: RMS error <= 2% of the RMS of sum_c |W x| (int8 rounding).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quants.h"

namespace mx {
namespace {

const CpuPath kPaths[] = {CpuPath::kScalar, CpuPath::kAvx2, CpuPath::kAvx512, CpuPath::kAvx512Vnni};

struct Problem {
  int64_t rows, cols, n_tokens, x_stride;
  std::vector<float> w_f32;  // unquantized W [rows, cols]
  std::vector<int8_t> w;     // [rows, cols]
  std::vector<float> scale;  // [rows]
  std::vector<float> x;      // [n_tokens, x_stride]
};

Problem make_problem(int64_t rows, int64_t cols, int64_t n_tokens, uint32_t seed) {
  Problem p{rows, cols, n_tokens, cols + 3, {}, {}, {}, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  p.w_f32.resize(static_cast<size_t>(rows * cols));
  for (float& v : p.w_f32) v = normal(rng) * 0.05f;
  if (rows > 2) p.w_f32[cols + 1] = 3.0f;  // a row with an outlier: a large scale
  p.w.resize(p.w_f32.size());
  p.scale.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    p.scale[r] = quantize_row_w8a8(&p.w_f32[r * cols], &p.w[r * cols], cols);
  }
  p.x.resize(static_cast<size_t>(n_tokens * p.x_stride));
  for (float& v : p.x) v = normal(rng);
  if (n_tokens > 1) {
    for (int64_t c = 0; c < cols; ++c) p.x[p.x_stride + c] = 0.0f;  // an all-zero token
  }
  return p;
}

std::vector<float> run(const Problem& p, CpuPath path, ThreadPool& pool, bool use_aux,
                       int64_t y_stride) {
  std::vector<float> y(static_cast<size_t>(p.n_tokens * y_stride), -7.0f);
  std::vector<uint8_t> aux(use_aux ? matmul_aux_bytes(DType::I8, p.rows, p.cols, path) : 0);
  if (!aux.empty()) {
    Status prepared = matmul_prepare_aux(DType::I8, p.w.data(), p.rows, p.cols, aux.data(),
                                         aux.size(), pool, path);
    EXPECT_TRUE(prepared.ok()) << prepared.error().message;
  }
  std::vector<uint8_t> scratch(matmul_scratch_bytes(DType::I8, p.n_tokens, p.cols) + 64);
  void* aligned = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
  MatmulArgs args{
      DType::I8,     p.w.data(), p.rows,   p.cols,     p.x.data(),
      p.x_stride,    y.data(),   y_stride, p.n_tokens, aux.empty() ? nullptr : aux.data(),
      p.scale.data()};
  Status status = matmul(args, aligned, scratch.size() - 64, pool, path);
  EXPECT_TRUE(status.ok()) << status.error().message;
  return y;
}

// y[t, r] in double from the int8 values matmul() sees.
std::vector<double> reference(const Problem& p) {
  std::vector<double> y(static_cast<size_t>(p.n_tokens * p.rows));
  std::vector<int8_t> q(static_cast<size_t>(p.cols));
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    float d = 0.0f;
    quantize_activations_row(DType::I8, &p.x[t * p.x_stride], p.cols, q.data(), &d);
    for (int64_t r = 0; r < p.rows; ++r) {
      double dot = 0.0;
      for (int64_t c = 0; c < p.cols; ++c) dot += double(p.w[r * p.cols + c]) * q[c];
      y[t * p.rows + r] = dot * p.scale[r] * d;
    }
  }
  return y;
}

void check(const Problem& p, ThreadPool& pool) {
  const int64_t y_stride = p.rows + 2;
  const std::vector<double> ref = reference(p);
  const std::vector<float> scalar = run(p, CpuPath::kScalar, pool, false, y_stride);
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    for (int64_t r = 0; r < p.rows; ++r) {
      double want = ref[t * p.rows + r];
      ASSERT_NEAR(scalar[t * y_stride + r], want, 1e-6 * std::fabs(want) + 1e-6)
          << "rows=" << p.rows << " cols=" << p.cols << " tokens=" << p.n_tokens << " t=" << t
          << " r=" << r;
    }
  }
  for (CpuPath path : kPaths) {
    for (bool use_aux : {false, true}) {
      const std::vector<float> y = run(p, path, pool, use_aux, y_stride);
      for (int64_t t = 0; t < p.n_tokens; ++t) {
        for (int64_t r = 0; r < y_stride; ++r) {  // padding columns of y stay untouched
          ASSERT_EQ(y[t * y_stride + r], scalar[t * y_stride + r])
              << cpu_path_name(path) << " aux=" << use_aux << " rows=" << p.rows
              << " cols=" << p.cols << " tokens=" << p.n_tokens << " t=" << t << " r=" << r;
        }
      }
    }
  }
}

TEST(MatmulW8A8, EveryPathMatchesTheReferenceOnOddShapes) {
  ThreadPool pool(2);
  uint32_t seed = 1;
  for (int64_t rows : {1, 3, 5, 17, 35}) {
    for (int64_t cols : {32, 96, 160, 1056}) {
      for (int64_t n_tokens : {1, 2, 3, 4, 5, 16, 17, 33}) {
        check(make_problem(rows, cols, n_tokens, seed++), pool);
      }
    }
  }
}

TEST(MatmulW8A8, PrefillShapeOfARealLayer) {
  ThreadPool pool(2);
  check(make_problem(200, 1024, 70, 99), pool);
  check(make_problem(48, 3072, 19, 98), pool);
}

TEST(MatmulW8A8, CloseToTheUnquantizedProduct) {
  ThreadPool pool(1);
  Problem p = make_problem(64, 512, 8, 7);
  const std::vector<float> y = run(p, CpuPath::kAuto, pool, false, p.rows);
  double err2 = 0.0, mag2 = 0.0;
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    for (int64_t r = 0; r < p.rows; ++r) {
      double exact = 0.0, mag = 0.0;
      for (int64_t c = 0; c < p.cols; ++c) {
        double prod = double(p.w_f32[r * p.cols + c]) * p.x[t * p.x_stride + c];
        exact += prod;
        mag += std::fabs(prod);
      }
      err2 += (y[t * p.rows + r] - exact) * (y[t * p.rows + r] - exact);
      mag2 += mag * mag;
    }
  }
  EXPECT_LE(std::sqrt(err2), 0.02 * std::sqrt(mag2));
}

TEST(MatmulW8A8, HandComputedProduct) {
  ThreadPool pool(1);
  // W = [[1, -2, 0...], [127, 0...]] with scales 0.5 and 2; x = [127, 1, 0...] (d = 1).
  std::vector<int8_t> w(64, 0);
  w[0] = 1;
  w[1] = -2;
  w[32] = 127;
  std::vector<float> scale = {0.5f, 2.0f};
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 1.0f;
  for (CpuPath path : kPaths) {
    std::vector<float> y(2, 0.0f);
    std::vector<uint8_t> scratch(matmul_scratch_bytes(DType::I8, 1, 32));
    MatmulArgs args{DType::I8, w.data(), 2, 32,      x.data(),    32,
                    y.data(),  2,        1, nullptr, scale.data()};
    ASSERT_TRUE(matmul(args, scratch.data(), scratch.size(), pool, path).ok());
    EXPECT_FLOAT_EQ(y[0], (127.0f - 2.0f) * 0.5f) << cpu_path_name(path);
    EXPECT_FLOAT_EQ(y[1], 127.0f * 127.0f * 2.0f) << cpu_path_name(path);
  }
}

TEST(MatmulW8A8, RejectsColumnsItCannotTake) {
  ThreadPool pool(1);
  std::vector<int8_t> w(48 * 2, 1);
  std::vector<float> scale(2, 1.0f), x(48, 1.0f), y(2);
  std::vector<uint8_t> scratch(matmul_scratch_bytes(DType::I8, 1, 64));
  MatmulArgs args{DType::I8, w.data(), 2, 48, x.data(), 48, y.data(), 2, 1, nullptr, scale.data()};
  Status status = matmul(args, scratch.data(), scratch.size(), pool);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("multiple of 32"), std::string::npos)
      << status.error().message;
  args.cols = 32;
  args.w_scale = nullptr;
  status = matmul(args, scratch.data(), scratch.size(), pool);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("w_scale"), std::string::npos);
  args.w_scale = scale.data();
  EXPECT_TRUE(matmul(args, scratch.data(), scratch.size(), pool).ok());
}

TEST(MatmulW8A8, WeightQuantizerIsSymmetricPerRow) {
  std::vector<float> row = {0.5f, -1.0f, 0.25f, 0.0f};
  std::vector<int8_t> q(4);
  float scale = quantize_row_w8a8(row.data(), q.data(), 4);
  EXPECT_FLOAT_EQ(scale, 1.0f / 127.0f);
  EXPECT_EQ(q, (std::vector<int8_t>{64, -127, 32, 0}));  // 63.5 rounds to even
  std::vector<float> zeros(4, 0.0f);
  EXPECT_EQ(quantize_row_w8a8(zeros.data(), q.data(), 4), 0.0f);
  EXPECT_EQ(q, (std::vector<int8_t>{0, 0, 0, 0}));
}

}  // namespace
}  // namespace mx
