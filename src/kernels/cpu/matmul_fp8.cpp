// Scalar matmul kernel for F8_E4M3 weights with block scales (DeepSeek-V3 FP8), and the choice
// of the FP8 kernel per path. The codes stay one byte per weight as loaded; each is widened to
// the f32 weight value(code) * scale (exactly what dequantize_fp8_e4m3_row computes) just before
// its product, so every path equals an f32 matmul on the dequantized matrix up to summation
// order. The SIMD paths (matmul_fp8_simd.inc) reach the same weights through f16.
#include "kernels/cpu/fp8.h"
#include "kernels/cpu/matmul_internal.h"

namespace mx::matmul_detail {
namespace {

void kernel_fp8(const MatmulJob& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  const float* lut = fp8_e4m3_table();
  const int64_t block_cols = job.w_fp8.block.cols;
  for (int64_t t = t0; t < t1; ++t) {
    const float* x = job.x + t * job.x_stride;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = job.w + r * job.w_row_bytes;
      const float* scales = job.w_fp8.row_scales(r);
      float sum = 0.0f;
      for (int64_t c0 = 0, b = 0; c0 < job.cols; c0 += block_cols, ++b) {
        const int64_t c1 = c0 + block_cols < job.cols ? c0 + block_cols : job.cols;
        for (int64_t c = c0; c < c1; ++c) sum += lut[row[c]] * scales[b] * x[c];
      }
      job.y[t * job.y_stride + r] = sum;
    }
  }
}

}  // namespace

PathKernels fp8_kernels(CpuPath path) {
  switch (path) {
    case CpuPath::kAvx512Vnni:
    case CpuPath::kAvx512:
      return avx512_fp8_kernels();
    case CpuPath::kAvx2:
      return avx2_fp8_kernels();
    default:
      return {kernel_fp8, nullptr};
  }
}

}  // namespace mx::matmul_detail
