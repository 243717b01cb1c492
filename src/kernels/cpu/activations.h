// Elementwise activations and the row softmax.
//
// softmax: y[i, :] = exp(x[i, :] - max) / sum(exp(x[i, :] - max)), numerically stable; -inf
//   inputs give 0 (a row of all -inf gives all zeros rather than NaN).
// silu(x) = x / (1 + e^-x);  swiglu: y = silu(gate) * up  (the SwiGLU FFN's gate * up);
// gelu: the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
// SIMD paths use a polynomial e^x good to ~2 ulp (tests: 2e-6 relative vs std::exp).
// y may alias the inputs.
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/cpu/simd.h"

namespace mx {

// x, y [n_rows, n] with row strides in floats.
void softmax(const float* x, int64_t x_stride, float* y, int64_t y_stride, int64_t n_rows,
             int64_t n, ThreadPool& pool, CpuPath path = CpuPath::kAuto);

void silu(const float* x, float* y, int64_t n, ThreadPool& pool, CpuPath path = CpuPath::kAuto);

// gate, up, y [n_rows, n] with row strides (gate and up are often halves of one wide buffer).
void swiglu(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, float* y,
            int64_t y_stride, int64_t n_rows, int64_t n, ThreadPool& pool,
            CpuPath path = CpuPath::kAuto);

void gelu(const float* x, float* y, int64_t n, ThreadPool& pool, CpuPath path = CpuPath::kAuto);

namespace activations_detail {
// Per-path bodies over one contiguous run (scalar reference + SIMD variants).
struct Ops {
  void (*softmax_row)(const float* x, float* y, int64_t n);
  void (*silu)(const float* x, float* y, int64_t n);
  void (*swiglu)(const float* gate, const float* up, float* y, int64_t n);
  void (*gelu)(const float* x, float* y, int64_t n);
};
extern const Ops kScalarOps;
extern const Ops kAvx2Ops;
extern const Ops kAvx512Ops;
}  // namespace activations_detail

}  // namespace mx
