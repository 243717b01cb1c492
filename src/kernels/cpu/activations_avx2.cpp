// AVX2 path of activations.h (body in activations_simd.inc).
#define MX_VEC_WIDTH 8
#define MX_ACT_OPS kAvx2Ops
#include "kernels/cpu/activations_simd.inc"
