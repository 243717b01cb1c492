// AVX-512 path of matmul without VNNI: integer kernels from matmul_avx512_quant.inc with
// vpmaddubsw/vpmaddwd, float weights from matmul_float_avx512.cpp.
#define MX_VNNI 0
#include "kernels/cpu/matmul_avx512_quant.inc"

namespace mx::matmul_detail {

PathKernels avx512_kernels(DType w_type) {
  PathKernels kernels = quant_kernels(w_type);
  return kernels.kernel ? kernels : avx512_float_kernels(w_type);
}

}  // namespace mx::matmul_detail
