// Internal to the matmul kernels (matmul*.cpp): the layout of quantized activations in scratch
// and the per-path kernel tables. Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "kernels/cpu/fp8.h"
#include "kernels/cpu/quants_grid.h"
#include "kernels/cpu/simd.h"

namespace mx::matmul_detail {

constexpr int64_t kLegacyBlock = 32;  // Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 elements per block
constexpr int64_t kSuperBlock = 256;  // K-type elements per super-block
constexpr int64_t kKGroup = 16;       // K-type activation sums are kept per 16 elements

inline int64_t round_up(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// Blocks of 32: x = d * (q - offset) (Q8_0, Q4_0, Q5_0), x = d * q + m (Q4_1, Q5_1),
// x = d * kIq4Values[q] (IQ4_NL) or x = e8m0_half(e) * kMxfp4Values[q] (MXFP4, whose scale is
// a byte, not an fp16).
inline bool is_legacy(DType t) {
  return t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q4_1 || t == DType::Q5_0 ||
         t == DType::Q5_1 || t == DType::IQ4_NL || t == DType::MXFP4;
}
// Super-blocks of 256 in KBlockInts' form: the K types, IQ4_XS and the grid types
// (quants_grid.h: IQ1_*, IQ2_*, IQ3_*, TQ*).
inline bool is_k_type(DType t) {
  return t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K || t == DType::Q2_K ||
         t == DType::Q3_K || t == DType::IQ4_XS || quant::is_grid_type(t);
}
// Types whose weights are signed bytes (Q8_0 as stored, IQ4_NL / IQ4_XS / MXFP4 from their
// value tables, the grid types from quant::decode_grid_block): the kernels without VNNI move
// their sign onto the activations (vpmaddubsw takes one unsigned operand).
constexpr bool signed_weights(DType t) {
  return t == DType::Q8_0 || t == DType::IQ4_NL || t == DType::IQ4_XS || t == DType::MXFP4 ||
         quant::is_grid_type(t);
}
// K-form types with mins (KBlockInts::min from the format); IQ4_XS and the grid types have
// none (their scalar form's min = 128 * scale only undoes the + 128 of q).
constexpr bool k_has_mins(DType t) { return !signed_weights(t); }
// Legacy types with a per-block minimum m (x = d * q + m): the records also carry d * sum(q)
// per block (ActLayout::msum_offset).
constexpr bool legacy_has_min(DType t) { return t == DType::Q4_1 || t == DType::Q5_1; }
// Zero point of the unsigned legacy weights: x = d * (q - offset).
constexpr int legacy_offset(DType t) { return t == DType::Q4_0 ? 8 : (t == DType::Q5_0 ? 16 : 0); }
// Bytes per block and where the 4-bit values (and Q5's fifth bits, a little-endian uint32 whose
// bit j belongs to element j) start in it; the fp16 d is at 0 and Q4_1 / Q5_1's fp16 m at 2.
constexpr int64_t legacy_block_bytes(DType t) {
  switch (t) {
    case DType::Q8_0:
      return 34;
    case DType::Q4_0:
    case DType::IQ4_NL:
      return 18;
    case DType::MXFP4:
      return 17;
    case DType::Q4_1:
      return 20;
    case DType::Q5_0:
      return 22;
    default:
      return 24;  // Q5_1
  }
}
constexpr int64_t legacy_qs_offset(DType t) {
  if (t == DType::MXFP4) return 1;
  return t == DType::Q4_1 ? 4 : (t == DType::Q5_0 ? 6 : (t == DType::Q5_1 ? 8 : 2));
}
constexpr int64_t legacy_qh_offset(DType t) { return t == DType::Q5_1 ? 4 : 2; }
constexpr bool legacy_five_bits(DType t) { return t == DType::Q5_0 || t == DType::Q5_1; }
// K types whose mins (KBlockInts::min) vary per 16 values; Q4_K / Q5_K's are per 32.
constexpr bool k_mins_per_16(DType t) {
  return t == DType::Q6_K || t == DType::Q2_K || t == DType::Q3_K;
}
constexpr int64_t k_block_bytes(DType t) {
  switch (t) {
    case DType::Q2_K:
      return 84;
    case DType::Q3_K:
      return 110;
    case DType::Q4_K:
      return 144;
    case DType::Q5_K:
      return 176;
    case DType::IQ4_XS:
      return 136;
    case DType::Q6_K:
      return 210;
    default:
      return quant::grid_block_bytes(t);
  }
}

// One token's quantized activations, a 64-byte aligned record in scratch:
//  q      int8 [cols_pad]                 values, zero padded (legacy: cols_pad = cols rounded
//                                          up to 64 so kernels can take blocks in pairs)
//  legacy (block 32, n_pairs = cols_pad / 64):
//    d16  float [n_pairs][16]            lanes 0-7: scale of block 2p, 8-15: of block 2p + 1
//    bias int32 [cols_pad / 4]           -offset * (sum of each 4 consecutive q), offset is the
//                                          weight zero point the path folds in (0, 8, 16 or 128)
//    msum float [n_pairs][16]            Q4_1 / Q5_1 only: d * (sum of q) per block, in the
//                                          lanes each path reads (scalar: plain [n_blocks])
//  K types (n_super = cols / 256):
//    d    float [n_super rounded up to 16] scale per super-block
//    sums float [cols / 16]              d * (sum of q over each 16 elements)
struct ActLayout {
  int64_t cols_pad = 0;
  int64_t d_offset = 0;      // bytes from record start
  int64_t extra_offset = 0;  // bias (legacy) or sums (K)
  int64_t msum_offset = 0;   // legacy types with a minimum (legacy_has_min)
  int64_t token_bytes = 0;   // record size, multiple of 64
};

inline ActLayout act_layout(DType w_type, int64_t cols) {
  ActLayout layout;
  if (is_legacy(w_type)) {
    layout.cols_pad = round_up(cols, 64);
    layout.d_offset = layout.cols_pad;
    layout.extra_offset = layout.d_offset + layout.cols_pad / 64 * 16 * 4;
    layout.msum_offset = layout.extra_offset + layout.cols_pad;  // bias: int32 per 4 values
    layout.token_bytes = layout.msum_offset;
    if (legacy_has_min(w_type)) layout.token_bytes += layout.cols_pad / 64 * 16 * 4;
  } else if (is_k_type(w_type)) {
    layout.cols_pad = cols;
    layout.d_offset = cols;
    layout.extra_offset = layout.d_offset + round_up(cols / kSuperBlock, 16) * 4;
    layout.token_bytes = layout.extra_offset + cols / kKGroup * 4;
  }
  layout.token_bytes = round_up(layout.token_bytes, 64);
  return layout;
}

// Prefill with tokens in the vector lanes (matmul_lanes_avx512_vnni.cpp): per group of 16
// tokens, after the per-token records of all tokens in scratch:
//  a     uint8 [cols / 4][16][4]  token t's a + 128 for columns 4j..4j+3 at (j * 16 + t) * 4
//  d     float [n_d][16]          activation scale per block (legacy: 32 columns, K: 256)
//  msum  float [cols / g][16]     types with mins: d * (sum of q over each g columns), g =
//                                 lanes_msum_group (Q2_K 16; Q4_K, Q5_K, Q4_1, Q5_1 32)
constexpr int64_t kLanesMinTokens = 16;
// With weights read in place (MatmulJob::w_aux) nothing is unpacked per call, and a partly
// filled group of 16 tokens beats the per-token tiles from this many tokens on.
constexpr int64_t kLanesMinTokensInPlace = 6;

inline int64_t lanes_min_tokens(DType w_type, bool has_aux) {
  return w_type == DType::Q8_0 && has_aux ? kLanesMinTokensInPlace : kLanesMinTokens;
}

struct LanesLayout {
  int64_t d_offset = 0;
  int64_t msum_offset = 0;
  int64_t group_bytes = 0;
};

// Columns per min term of the lanes kernels (weights with a min: Q2_K per 16 values; Q4_K, Q5_K,
// Q4_1, Q5_1 per 32), 0 for the types without.
constexpr int64_t lanes_msum_group(DType t) {
  if (t == DType::Q2_K) return 16;
  return t == DType::Q4_K || t == DType::Q5_K || legacy_has_min(t) ? 32 : 0;
}

inline LanesLayout lanes_layout(DType w_type, int64_t cols) {
  LanesLayout layout;
  layout.d_offset = 16 * cols;
  int64_t n_d = cols / (is_legacy(w_type) ? kLegacyBlock : kSuperBlock);
  layout.msum_offset = layout.d_offset + n_d * 64;
  const int64_t msum_group = lanes_msum_group(w_type);
  layout.group_bytes = round_up(layout.msum_offset + (msum_group ? cols / msum_group * 64 : 0), 64);
  return layout;
}

// matmul_prepare_aux() output for Q8_0: one entry per (row, 32-column group), row-major.
//  bias  -128 * sum of the group's int8 weights (the lanes kernels feed a + 128 to vpdpbusd)
//  scale the group's f16 scale as float
struct Q8LanesAux {
  int32_t bias;
  float scale;
};

// Everything a kernel needs for one call; row and token ranges come separately.
struct MatmulJob {
  DType w_type = DType::F32;
  const uint8_t* w = nullptr;
  int64_t w_row_bytes = 0;
  int64_t cols = 0;
  const float* x = nullptr;  // float types read x directly
  int64_t x_stride = 0;
  const uint8_t* acts = nullptr;  // quantized types read the records
  ActLayout layout;
  float* y = nullptr;
  int64_t y_stride = 0;
  const uint8_t* lanes = nullptr;  // interleaved activations (LanesLayout), lanes kernels only
  LanesLayout lanes_layout;
  const void* w_aux = nullptr;  // MatmulArgs::w_aux (Q8LanesAux for Q8_0), or nullptr
  Fp8Scales w_fp8;              // MatmulArgs::w_fp8 (F8_E4M3 only)
};

// Writes y[t, r] for r in [r0, r1), t in [t0, t1).
using MatmulKernel = void (*)(const MatmulJob& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1);
// Fills one token's record (layout above) from x [cols].
using ActQuantizer = void (*)(DType w_type, const float* x, int64_t cols, const ActLayout& layout,
                              uint8_t* record);

struct PathKernels {
  MatmulKernel kernel = nullptr;    // nullptr: this path does not handle the type
  ActQuantizer quantize = nullptr;  // for quantized types
};

// Fills token group `group`'s interleaved activations from the records (all quantized).
using LanesInterleaver = void (*)(const MatmulJob& job, int64_t group, int64_t n_tokens);

struct LanesKernels {
  MatmulKernel kernel = nullptr;  // nullptr: no lanes kernel for this type on this path
  LanesInterleaver interleave = nullptr;
};

PathKernels scalar_kernels(DType w_type);
PathKernels avx2_kernels(DType w_type);
PathKernels avx512_kernels(DType w_type);
PathKernels avx512_vnni_kernels(DType w_type);
LanesKernels avx512_vnni_lanes_kernels(DType w_type);
// F32 / F16 / BF16 kernels (matmul_float_simd.inc), called only by the path tables above.
PathKernels avx2_float_kernels(DType w_type);
PathKernels avx512_float_kernels(DType w_type);
// Integer kernels (legacy and K types) of the AVX2 path (matmul_avx2_quant*.cpp), called
// only by avx2_kernels().
PathKernels avx2_quant_kernels(DType w_type);
// F8_E4M3 kernels (matmul_fp8*.cpp) for a resolved path: scalar, AVX2 or AVX-512.
PathKernels fp8_kernels(CpuPath path);
PathKernels avx2_fp8_kernels();
PathKernels avx512_fp8_kernels();

// 6-bit scales and mins of Q4_K / Q5_K: 8 of each packed into 12 bytes. Sub-blocks 0-3 keep
// theirs in the low 6 bits of bytes 0-3 (scale) and 4-7 (min); sub-blocks 4-7 take their low 4
// bits from the nibbles of bytes 8-11 and their top 2 bits from the spare top bits of bytes 0-7.
inline void unpack_k_scales(const uint8_t* packed, uint8_t scale[8], uint8_t min[8]) {
  for (int s = 0; s < 4; ++s) {
    scale[s] = packed[s] & 63;
    min[s] = packed[s + 4] & 63;
    scale[s + 4] = static_cast<uint8_t>((packed[s + 8] & 0x0f) | ((packed[s] >> 6) << 4));
    min[s + 4] = static_cast<uint8_t>((packed[s + 8] >> 4) | ((packed[s + 4] >> 6) << 4));
  }
}

// Q3_K's 16 six-bit scales (stored + 32 in 12 bytes: low 4 bits in bytes 0-7, low nibble for
// sub-blocks 0-7 and high for 8-15; top 2 bits in byte 8 + s % 4 at bit 2 * (s / 4)) as int8
// in [-32, 31], on 32-bit words four sub-blocks at a time (as ggml does).
inline void unpack_q3k_scales(const uint8_t* packed, int8_t out[16]) {
  uint32_t a0, a1, top;
  std::memcpy(&a0, packed, 4);
  std::memcpy(&a1, packed + 4, 4);
  std::memcpy(&top, packed + 8, 4);
  const uint32_t words[4] = {(a0 & 0x0f0f0f0fu) | ((top & 0x03030303u) << 4),
                             (a1 & 0x0f0f0f0fu) | (((top >> 2) & 0x03030303u) << 4),
                             ((a0 >> 4) & 0x0f0f0f0fu) | (((top >> 4) & 0x03030303u) << 4),
                             ((a1 >> 4) & 0x0f0f0f0fu) | (((top >> 6) & 0x03030303u) << 4)};
  uint8_t bytes[16];
  std::memcpy(bytes, words, 16);
  for (int s = 0; s < 16; ++s) out[s] = static_cast<int8_t>(bytes[s] - 32);
}

// A K-type super-block in one common form: element i = d * scale[i / 16] * q[i] - dmin *
// min[i / 16], q unsigned (Q2_K 0..3, Q3_K 0..7, Q4_K 0..15, Q5_K 0..31, Q6_K 0..63). Q6_K's
// x = d * sc * (q - 32) becomes scale = sc, min = 32 * sc, dmin = d; Q3_K's x = d * sc * q3
// with q3 in [-4, 3] becomes q = q3 + 4, scale = sc, min = 4 * sc, dmin = d; IQ4_XS's
// x = d * ls * v (v on the grid, in [-127, 113]) becomes q = v + 128, scale = ls, min = 128 * ls,
// dmin = d (the SIMD kernels take v signed instead: q would not fit vpmaddubsw's int16 pairs);
// the grid types' GridBlockInts (d * scale * v, v signed) becomes q = v + 128, min = 128 * scale
// in the same way.
struct KBlockInts {
  float d = 0.0f;
  float dmin = 0.0f;
  uint8_t q[kSuperBlock];
  int32_t scale[kSuperBlock / kKGroup];
  int32_t min[kSuperBlock / kKGroup];
};

// Decodes super-block `block` of a K-type row (matmul_scalar.cpp).
void decode_k_block(DType w_type, const uint8_t* block, KBlockInts& out);

// The scalar quantizer (also used by the SIMD paths' records through their own fill of the
// extra fields): q and d per block exactly as quantize_activations_row.
void quantize_block_scalar(const float* x, int64_t n, int8_t* q, float* d);

}  // namespace mx::matmul_detail
