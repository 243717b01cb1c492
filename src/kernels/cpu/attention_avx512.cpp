// AVX-512 path of attention.h's inner loops (body in attention_simd.inc).
#define MX_VEC_WIDTH 16
#define MX_ATTN_OPS kAvx512Ops
#include "kernels/cpu/attention_simd.inc"
