// AVX2 path of attention.h's inner loops (body in attention_simd.inc).
#define MX_VEC_WIDTH 8
#define MX_ATTN_OPS kAvx2Ops
#include "kernels/cpu/attention_simd.inc"
