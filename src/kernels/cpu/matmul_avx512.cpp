// AVX-512 path of matmul without VNNI: integer kernels from matmul_avx512_quant.inc with
// vpmaddubsw/vpmaddwd, float weights from matmul_avx512_float.inc.
#define MX_VNNI 0
#include "kernels/cpu/matmul_avx512_quant.inc"

namespace mx::matmul_detail {

PathKernels avx512_kernels(DType w_type) { return quant_kernels(w_type); }

}  // namespace mx::matmul_detail
