#include "kernels/cpu/matmul_internal.h"

namespace mx::matmul_detail {

PathKernels avx2_kernels(DType) { return {}; }

}  // namespace mx::matmul_detail
