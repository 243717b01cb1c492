// AVX-512 path of matmul for F8_E4M3 weights (body in matmul_fp8_simd.inc); the VNNI path uses
// it too (no integer dot products here).
#define MX_VEC_WIDTH 16
#define MX_FP8_KERNELS_NAME avx512_fp8_kernels
#include "kernels/cpu/matmul_fp8_simd.inc"
