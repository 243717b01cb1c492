// AVX2 path of norm.h (body in norm_simd.inc).
#define MX_VEC_WIDTH 8
#define MX_NORM_SUFFIX(name) name##_avx2
#include "kernels/cpu/norm_simd.inc"
