// AVX-512 path of activations.h (body in activations_simd.inc).
#define MX_VEC_WIDTH 16
#define MX_ACT_OPS kAvx512Ops
#include "kernels/cpu/activations_simd.inc"
