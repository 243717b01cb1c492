#include "kernels/cpu/norm.h"

#include <cmath>

namespace mx {

namespace norm_detail {

void rmsnorm_row_scalar(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum_sq = 0.0;
  for (int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  float inv_rms = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * inv_rms * (w ? w[i] : 1.0f);
}

}  // namespace norm_detail

namespace {

using RowFn = void (*)(const float*, const float*, float*, int64_t, float);

RowFn rmsnorm_fn(CpuPath path) {
  switch (resolve_cpu_path(path)) {
    case CpuPath::kAvx512Vnni:
    case CpuPath::kAvx512: return norm_detail::rmsnorm_row_avx512;
    case CpuPath::kAvx2: return norm_detail::rmsnorm_row_avx2;
    default: return norm_detail::rmsnorm_row_scalar;
  }
}

bool wide(CpuPath path) {
  CpuPath p = resolve_cpu_path(path);
  return p == CpuPath::kAvx512 || p == CpuPath::kAvx512Vnni;
}

}  // namespace

void rmsnorm(const float* x, int64_t x_stride, const float* w, float* y, int64_t y_stride,
             int64_t n_rows, int64_t n, float eps, ThreadPool& pool, CpuPath path) {
  RowFn row_fn = rmsnorm_fn(path);
  auto rows = [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) row_fn(x + r * x_stride, w, y + r * y_stride, n, eps);
  };
  // A region costs about a microsecond; below ~64k elements one thread is as fast.
  if (n_rows * n < (1 << 16) || pool.size() == 1) {
    rows(0, n_rows);
  } else {
    pool.parallel_for(n_rows, rows);
  }
}

void add(const float* a, const float* b, float* y, int64_t n, CpuPath path) {
  CpuPath p = resolve_cpu_path(path);
  if (wide(path)) return norm_detail::add_avx512(a, b, y, n);
  if (p == CpuPath::kAvx2) return norm_detail::add_avx2(a, b, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void scale(float* y, int64_t n, float s, CpuPath path) {
  CpuPath p = resolve_cpu_path(path);
  if (wide(path)) return norm_detail::scale_avx512(y, n, s);
  if (p == CpuPath::kAvx2) return norm_detail::scale_avx2(y, n, s);
  for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

}  // namespace mx
