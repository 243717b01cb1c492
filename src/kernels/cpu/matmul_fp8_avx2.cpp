// AVX2 path of matmul for F8_E4M3 weights (body in matmul_fp8_simd.inc).
#define MX_VEC_WIDTH 8
#define MX_FP8_KERNELS_NAME avx2_fp8_kernels
#include "kernels/cpu/matmul_fp8_simd.inc"
