// Reference (plain scalar) conversion of rows between float32 and GGML's storage types.
//
// dequantize_row expands n elements stored as `type` (blocks laid out as in quant_blocks.h)
// into n floats; quantize_row does the reverse. n must be a multiple of the type's block size
// (32 for Q4_0..Q8_1, IQ4_NL and MXFP4, 256 for the K, IQ and TQ types, 1 for F32/F16/BF16). Both
// return false, writing nothing, for a type they do not handle or a bad n; callers that validated
// the tensor (row_bytes succeeded) and checked can_dequantize/can_quantize can treat false as a
// bug.
//
// These are the correctness references that optimized kernels are tested against, and the
// quantizers used to build test models: they favour clarity over speed. The quantizers need
// not match llama.cpp bit for bit; they pick scales by a small least-squares search and keep
// round-trip error near the best the format allows (tests/unit/kernels/quants_test.cpp).
// Source and destination need no alignment (blocks are copied out with memcpy).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace mx {

// F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q6_K, Q8_K, IQ4_NL, IQ4_XS, MXFP4,
// IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, TQ1_0, TQ2_0.
bool can_dequantize(DType type);
// The same less the IQ1 / IQ2 / IQ3 and TQ types (no quantizers: llama-quantize writes them).
bool can_quantize(DType type);

[[nodiscard]] bool dequantize_row(DType type, const void* src, float* dst, int64_t n);
[[nodiscard]] bool quantize_row(DType type, const float* src, void* dst, int64_t n);

// W8A8 weights (I8 + one float scale per row, matmul.h): src [n] -> dst int8 [n] with
// q = round_half_even(x * 127 / max|x|), q in [-127, 127]; returns the row's scale max|x| / 127
// (0 for an all-zero row), so x ~= q * scale.
float quantize_row_w8a8(const float* src, int8_t* dst, int64_t n);

namespace quant {

// Per-family entry points over whole blocks (n_blocks = n / block size). Used by the
// dispatchers above; exposed for kernels that want one type without a switch.
void dequantize_q4_0(const void* src, float* dst, int64_t n_blocks);
void dequantize_q4_1(const void* src, float* dst, int64_t n_blocks);
void dequantize_q5_0(const void* src, float* dst, int64_t n_blocks);
void dequantize_q5_1(const void* src, float* dst, int64_t n_blocks);
void dequantize_q8_0(const void* src, float* dst, int64_t n_blocks);
void dequantize_q8_1(const void* src, float* dst, int64_t n_blocks);
void dequantize_q2_k(const void* src, float* dst, int64_t n_blocks);
void dequantize_q3_k(const void* src, float* dst, int64_t n_blocks);
void dequantize_q4_k(const void* src, float* dst, int64_t n_blocks);
void dequantize_q5_k(const void* src, float* dst, int64_t n_blocks);
void dequantize_q6_k(const void* src, float* dst, int64_t n_blocks);
void dequantize_q8_k(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq4_nl(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq4_xs(const void* src, float* dst, int64_t n_blocks);
void dequantize_mxfp4(const void* src, float* dst, int64_t n_blocks);
// The grid types (quants_grid.h).
void dequantize_iq2_xxs(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq2_xs(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq2_s(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq3_xxs(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq3_s(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq1_s(const void* src, float* dst, int64_t n_blocks);
void dequantize_iq1_m(const void* src, float* dst, int64_t n_blocks);
void dequantize_tq1_0(const void* src, float* dst, int64_t n_blocks);
void dequantize_tq2_0(const void* src, float* dst, int64_t n_blocks);

void quantize_q4_0(const float* src, void* dst, int64_t n_blocks);
void quantize_q4_1(const float* src, void* dst, int64_t n_blocks);
void quantize_q5_0(const float* src, void* dst, int64_t n_blocks);
void quantize_q5_1(const float* src, void* dst, int64_t n_blocks);
void quantize_q8_0(const float* src, void* dst, int64_t n_blocks);
void quantize_q8_1(const float* src, void* dst, int64_t n_blocks);
void quantize_q2_k(const float* src, void* dst, int64_t n_blocks);
void quantize_q3_k(const float* src, void* dst, int64_t n_blocks);
void quantize_q4_k(const float* src, void* dst, int64_t n_blocks);
void quantize_q5_k(const float* src, void* dst, int64_t n_blocks);
void quantize_q6_k(const float* src, void* dst, int64_t n_blocks);
void quantize_q8_k(const float* src, void* dst, int64_t n_blocks);
void quantize_iq4_nl(const float* src, void* dst, int64_t n_blocks);
void quantize_iq4_xs(const float* src, void* dst, int64_t n_blocks);
void quantize_mxfp4(const float* src, void* dst, int64_t n_blocks);

// MXFP4's scale: 2^(e - 128), ggml's e8m0_to_fp32_half (the e2m1 values are kept doubled).
float e8m0_to_fp32_half(uint8_t e);

}  // namespace quant
}  // namespace mx
