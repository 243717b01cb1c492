// softmax / silu / swiglu / gelu on every path against the scalar references (2e-6 relative
// plus 1e-7 absolute: the SIMD e^x is a polynomial), and the references against math.
#include "kernels/cpu/activations.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace mx {
namespace {

const CpuPath kPaths[] = {CpuPath::kScalar, CpuPath::kAvx2, CpuPath::kAvx512};

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const char* what,
                  CpuPath path) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 2e-6f * std::fabs(want[i]) + 1e-7f)
        << what << " " << cpu_path_name(path) << " i=" << i;
  }
}

TEST(Activations, ReferencesMatchMath) {
  ThreadPool pool(1, false);
  float x[] = {0.0f, 1.0f, 2.0f};
  float y[3];
  softmax(x, 3, y, 3, 1, 3, pool, CpuPath::kScalar);
  double total = 1.0 + std::exp(1.0) + std::exp(2.0);
  EXPECT_NEAR(y[0], 1.0 / total, 1e-7);
  EXPECT_NEAR(y[2], std::exp(2.0) / total, 1e-7);
  silu(x, y, 3, pool, CpuPath::kScalar);
  EXPECT_NEAR(y[1], 1.0 / (1.0 + std::exp(-1.0)), 1e-7);
  gelu(x, y, 3, pool, CpuPath::kScalar);
  EXPECT_NEAR(y[2], 1.9545977, 1e-6);  // tanh-approximated GELU(2)
  float big[] = {1000.0f, 1000.0f};    // stable: no overflow
  softmax(big, 2, y, 2, 1, 2, pool, CpuPath::kScalar);
  EXPECT_FLOAT_EQ(y[0], 0.5f);
}

TEST(Activations, PathsMatchReference) {
  ThreadPool pool(2, false);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  for (int64_t n : {1, 15, 16, 17, 100, 40000}) {
    std::vector<float> x(static_cast<size_t>(n)), up(static_cast<size_t>(n));
    for (float& v : x) v = normal(rng);
    for (float& v : up) v = normal(rng);
    x[0] = -100.0f;  // exp underflow region
    std::vector<float> ref(x.size()), got(x.size());
    for (CpuPath path : kPaths) {
      silu(x.data(), ref.data(), n, pool, CpuPath::kScalar);
      silu(x.data(), got.data(), n, pool, path);
      expect_close(got, ref, "silu", path);
      gelu(x.data(), ref.data(), n, pool, CpuPath::kScalar);
      gelu(x.data(), got.data(), n, pool, path);
      expect_close(got, ref, "gelu", path);
      swiglu(x.data(), n, up.data(), n, ref.data(), n, 1, n, pool, CpuPath::kScalar);
      swiglu(x.data(), n, up.data(), n, got.data(), n, 1, n, pool, path);
      expect_close(got, ref, "swiglu", path);
      softmax(x.data(), n, ref.data(), n, 1, n, pool, CpuPath::kScalar);
      softmax(x.data(), n, got.data(), n, 1, n, pool, path);
      expect_close(got, ref, "softmax", path);
    }
  }
}

TEST(Activations, SoftmaxRowsWithInfinities) {
  ThreadPool pool(1, false);
  const float inf = std::numeric_limits<float>::infinity();
  for (CpuPath path : kPaths) {
    std::vector<float> x = {-inf, 0.0f, -inf, 0.0f, -inf, -inf, -inf, -inf};  // 2 rows of 4
    std::vector<float> y(8, 5.0f);
    softmax(x.data(), 4, y.data(), 4, 2, 4, pool, path);
    EXPECT_FLOAT_EQ(y[0], 0.0f);
    EXPECT_FLOAT_EQ(y[1], 0.5f);
    EXPECT_FLOAT_EQ(y[3], 0.5f);
    for (int i = 4; i < 8; ++i) EXPECT_EQ(y[i], 0.0f) << cpu_path_name(path);
  }
}

TEST(Activations, SwigluRowsWithStrides) {
  ThreadPool pool(2, false);
  // gate and up interleaved as halves of one [rows, 2n] buffer, output [rows, n].
  int64_t rows = 3, n = 19;
  std::vector<float> gu(static_cast<size_t>(rows * 2 * n));
  for (size_t i = 0; i < gu.size(); ++i) gu[i] = static_cast<float>(i % 7) - 3.0f;
  for (CpuPath path : kPaths) {
    std::vector<float> y(static_cast<size_t>(rows * n));
    swiglu(gu.data(), 2 * n, gu.data() + n, 2 * n, y.data(), n, rows, n, pool, path);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < n; ++i) {
        float g = gu[r * 2 * n + i], u = gu[r * 2 * n + n + i];
        ASSERT_NEAR(y[r * n + i], g / (1.0f + std::exp(-g)) * u, 1e-5f);
      }
    }
  }
}

}  // namespace
}  // namespace mx
