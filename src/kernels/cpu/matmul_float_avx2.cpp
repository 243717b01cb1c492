// AVX2 path of matmul for F32 / F16 / BF16 weights (body in matmul_float_simd.inc).
#define MX_VEC_WIDTH 8
#define MX_FLOAT_KERNELS_NAME avx2_float_kernels
#include "kernels/cpu/matmul_float_simd.inc"
