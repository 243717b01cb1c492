// AVX2 (+FMA, F16C) path of matmul: integer kernels for Q8_0 / Q4_0 (matmul_avx2_quant.cpp) and
// Q4_K / Q5_K / Q6_K (matmul_avx2_quant_k.cpp) with vpmaddubsw + vpmaddwd, as the AVX-512 path
// without VNNI; float weights from matmul_float_avx2.cpp.
#include "kernels/cpu/matmul_internal.h"

namespace mx::matmul_detail {

PathKernels avx2_kernels(DType w_type) {
  PathKernels kernels = avx2_quant_kernels(w_type);
  return kernels.kernel ? kernels : avx2_float_kernels(w_type);
}

}  // namespace mx::matmul_detail
