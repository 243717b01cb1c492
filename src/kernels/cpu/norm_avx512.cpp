// AVX-512 path of norm.h (body in norm_simd.inc).
#define MX_VEC_WIDTH 16
#define MX_NORM_SUFFIX(name) name##_avx512
#include "kernels/cpu/norm_simd.inc"
