// AVX-512 path of matmul for F32 / F16 / BF16 weights (body in matmul_float_simd.inc); the VNNI
// path uses it too (no integer dot products here).
#define MX_VEC_WIDTH 16
#define MX_FLOAT_KERNELS_NAME avx512_float_kernels
#include "kernels/cpu/matmul_float_simd.inc"
