// Row normalization and small vector helpers for the layers around the matmuls.
//
// rmsnorm: y[i, :] = x[i, :] / sqrt(mean(x[i, :]^2) + eps) * w  (w may be null: no weight).
// Rows are independent; x and y may be the same buffer (in place). Sums of squares accumulate in
// f32 lanes (scalar path: double), so paths differ by float rounding only (tests: 1e-5 rel.).
#pragma once

#include <cstdint>

#include "core/thread_pool.h"
#include "kernels/cpu/simd.h"

namespace mx {

// x [n_rows, n] with row stride x_stride floats, w [n] or null, y [n_rows, n] stride y_stride.
// Rows are spread over the pool when there are enough of them to pay for a region.
void rmsnorm(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
             int64_t n_rows, int64_t n, float eps, ThreadPool& pool,
             CpuPath path = CpuPath::kAuto);

// y[i] = a[i] + b[i] for i < n (the residual add); y may alias a or b.
void add(const float* a, const float* b, float* y, int64_t n, CpuPath path = CpuPath::kAuto);

// y[i] *= s for i < n.
void scale(float* y, int64_t n, float s, CpuPath path = CpuPath::kAuto);

namespace norm_detail {
// One row, per path (scalar reference and SIMD variants, same contract as rmsnorm).
void rmsnorm_row_scalar(const float* x, const float* w, float* y, int64_t n, float eps);
void rmsnorm_row_avx2(const float* x, const float* w, float* y, int64_t n, float eps);
void rmsnorm_row_avx512(const float* x, const float* w, float* y, int64_t n, float eps);
void add_avx2(const float* a, const float* b, float* y, int64_t n);
void add_avx512(const float* a, const float* b, float* y, int64_t n);
void scale_avx2(float* y, int64_t n, float s);
void scale_avx512(float* y, int64_t n, float s);
}  // namespace norm_detail

}  // namespace mx
