// AVX2 path of matmul: float weights only (matmul_float_avx2.cpp); quantized types run the
// scalar kernels on this path.
#include "kernels/cpu/matmul_internal.h"

namespace mx::matmul_detail {

PathKernels avx2_kernels(DType w_type) { return avx2_float_kernels(w_type); }

}  // namespace mx::matmul_detail
