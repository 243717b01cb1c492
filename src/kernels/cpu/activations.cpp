#include "kernels/cpu/activations.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mx {
namespace activations_detail {
namespace {

void softmax_row_scalar(const float* x, float* y, int64_t n) {
  float max_value = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) max_value = std::max(max_value, x[i]);
  if (max_value == -std::numeric_limits<float>::infinity()) {
    std::fill(y, y + n, 0.0f);
    return;
  }
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = std::exp(x[i] - max_value);
    sum += y[i];
  }
  float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) y[i] *= inv;
}

float silu_one(float x) { return x / (1.0f + std::exp(-x)); }

void silu_scalar(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = silu_one(x[i]);
}

void swiglu_scalar(const float* gate, const float* up, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = silu_one(gate[i]) * up[i];
}

void gelu_scalar(const float* x, float* y, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    // 0.5 v (1 + tanh(u)) == v / (1 + e^{-2u}): no cancellation when tanh(u) is near -1.
    y[i] = v / (1.0f + std::exp(-2.0f * kSqrt2OverPi * (v + 0.044715f * v * v * v)));
  }
}

}  // namespace

const Ops kScalarOps = {softmax_row_scalar, silu_scalar, swiglu_scalar, gelu_scalar};

}  // namespace activations_detail

namespace {

const activations_detail::Ops& ops_for(CpuPath path) {
  switch (resolve_cpu_path(path)) {
    case CpuPath::kAvx512Vnni:
    case CpuPath::kAvx512: return activations_detail::kAvx512Ops;
    case CpuPath::kAvx2: return activations_detail::kAvx2Ops;
    default: return activations_detail::kScalarOps;
  }
}

// Elementwise work below this many elements runs on the caller alone (a region costs ~1 us).
constexpr int64_t kParallelElements = 1 << 15;

template <typename Fn>
void split_range(ThreadPool& pool, int64_t n, Fn&& fn) {
  if (n < kParallelElements || pool.size() == 1) return fn(int64_t{0}, n);
  // Chunks of 64 elements keep every thread's slice cache-line aligned for aligned inputs.
  int64_t units = (n + 63) / 64;
  pool.parallel_for(units, [&](int64_t begin, int64_t end) {
    fn(begin * 64, std::min(n, end * 64));
  });
}

}  // namespace

void softmax(const float* x, int64_t x_stride, float* y, int64_t y_stride, int64_t n_rows,
             int64_t n, ThreadPool& pool, CpuPath path) {
  const auto& ops = ops_for(path);
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) ops.softmax_row(x + r * x_stride, y + r * y_stride, n);
  };
  if (n_rows * n < kParallelElements || pool.size() == 1) return rows(0, n_rows);
  pool.parallel_for(n_rows, rows);
}

void silu(const float* x, float* y, int64_t n, ThreadPool& pool, CpuPath path) {
  const auto& ops = ops_for(path);
  split_range(pool, n, [&](int64_t b, int64_t e) { ops.silu(x + b, y + b, e - b); });
}

void gelu(const float* x, float* y, int64_t n, ThreadPool& pool, CpuPath path) {
  const auto& ops = ops_for(path);
  split_range(pool, n, [&](int64_t b, int64_t e) { ops.gelu(x + b, y + b, e - b); });
}

void swiglu(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, float* y,
            int64_t y_stride, int64_t n_rows, int64_t n, ThreadPool& pool, CpuPath path) {
  const auto& ops = ops_for(path);
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      ops.swiglu(gate + r * gate_stride, up + r * up_stride, y + r * y_stride, n);
    }
  };
  if (n_rows == 1) {
    split_range(pool, n, [&](int64_t b, int64_t e) { ops.swiglu(gate + b, up + b, y + b, e - b); });
  } else if (n_rows * n < kParallelElements || pool.size() == 1) {
    rows(0, n_rows);
  } else {
    pool.parallel_for(n_rows, rows);
  }
}

}  // namespace mx
