// AVX-512 VNNI path of matmul (integer kernels in matmul_avx512_quant.inc; float weights use
// the plain AVX-512 kernels).
#define MX_VNNI 1
#include "kernels/cpu/matmul_avx512_quant.inc"

namespace mx::matmul_detail {

PathKernels avx512_vnni_kernels(DType w_type) {
  PathKernels kernels = quant_kernels(w_type);
  return kernels.kernel ? kernels : avx512_kernels(w_type);
}

}  // namespace mx::matmul_detail
