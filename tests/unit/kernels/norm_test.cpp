// rmsnorm / add / scale on every path against the scalar reference (1e-5 relative) and the
// reference against the formula computed by hand.
#include "kernels/cpu/norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace mx {
namespace {

const CpuPath kPaths[] = {CpuPath::kScalar, CpuPath::kAvx2, CpuPath::kAvx512};

TEST(RmsNorm, ReferenceMatchesFormula) {
  float x[] = {1.0f, -2.0f, 3.0f, 4.0f};
  float w[] = {1.0f, 0.5f, 2.0f, -1.0f};
  float y[4];
  norm_detail::rmsnorm_row_scalar(x, w, y, 4, 0.0f);
  float rms = std::sqrt((1.0f + 4.0f + 9.0f + 16.0f) / 4.0f);
  EXPECT_FLOAT_EQ(y[0], 1.0f / rms);
  EXPECT_FLOAT_EQ(y[1], -1.0f / rms);
  EXPECT_FLOAT_EQ(y[2], 6.0f / rms);
  EXPECT_FLOAT_EQ(y[3], -4.0f / rms);
}

TEST(RmsNorm, PathsMatchReferenceOnOddShapes) {
  ThreadPool pool(2, false);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int64_t n : {1, 7, 16, 33, 1024, 1031}) {
    for (int64_t rows : {1, 3, 70}) {
      int64_t stride = n + 3;
      std::vector<float> x(static_cast<size_t>(rows * stride)), w(static_cast<size_t>(n));
      for (float& v : x) v = normal(rng);
      for (float& v : w) v = normal(rng);
      std::vector<float> ref(x.size());
      for (int64_t r = 0; r < rows; ++r) {
        norm_detail::rmsnorm_row_scalar(&x[r * stride], w.data(), &ref[r * stride], n, 1e-6f);
      }
      for (CpuPath path : kPaths) {
        std::vector<float> y(x.size(), 9.0f);
        rmsnorm(x.data(), stride, w.data(), y.data(), stride, rows, n, 1e-6f, pool, path);
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t i = 0; i < n; ++i) {
            ASSERT_NEAR(y[r * stride + i], ref[r * stride + i],
                        1e-5f * std::fabs(ref[r * stride + i]) + 1e-6f)
                << cpu_path_name(path) << " n=" << n;
          }
          for (int64_t i = n; i < stride; ++i) ASSERT_EQ(y[r * stride + i], 9.0f);
        }
        // In place, no weight.
        std::vector<float> z = x;
        rmsnorm(z.data(), stride, nullptr, z.data(), stride, rows, n, 1e-6f, pool, path);
        float rms = 0.0f;
        for (int64_t i = 0; i < n; ++i) rms += x[i] * x[i];
        rms = std::sqrt(rms / static_cast<float>(n) + 1e-6f);
        EXPECT_NEAR(z[0], x[0] / rms, 1e-5f * std::fabs(x[0] / rms) + 1e-6f);
      }
    }
  }
}

TEST(Elementwise, AddAndScale) {
  for (CpuPath path : kPaths) {
    for (int64_t n : {0, 5, 16, 37}) {
      std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        a[i] = static_cast<float>(i);
        b[i] = 0.5f * static_cast<float>(i) - 3.0f;
      }
      std::vector<float> y(static_cast<size_t>(n) + 1, 42.0f);
      add(a.data(), b.data(), y.data(), n, path);
      scale(y.data(), n, 2.0f, path);
      for (int64_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(y[i], 2.0f * (a[i] + b[i]));
      EXPECT_EQ(y[n], 42.0f) << cpu_path_name(path);
    }
  }
}

}  // namespace
}  // namespace mx
