// Prefill GEMM with tokens in the vector lanes (AVX-512 VNNI), for every integer weight type
// (legacy blocks of 32: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4; K: Q2_K..Q6_K, IQ4_XS and
// the grid types IQ1_*, IQ2_*, IQ3_*, TQ*, scale groups of 16 from quant::decode_grid_block) and
// n_tokens >= kLanesMinTokens (Q8_0 with weights read in place: kLanesMinTokensInPlace).
//
// The tile kernels of matmul_avx512_quant.inc put 64 consecutive columns of one (row, token) in
// a zmm, so every weight scale group ends in a per-lane float step (cvt + mul + fma per 64 MACs
// for Q8_0). Here a zmm holds 16 tokens x 4 consecutive columns of the activations (interleaved
// once per call, LanesLayout), and a weight's 4 bytes are a {1to16} broadcast operand of
// vpdpbusd, so each int32 lane sums one (row, token) over a whole scale group:
//   iacc[r]  = bias[r][g] + sum_j dpbusd(a16[g, j], bcast(w[r][g, 4j..4j+3]))     G/4 steps
//   facc[r] += float(iacc[r]) * (scale[r][g] * d_a[16 tokens])
//   facc[r] += minterm[r][g] * msum[g][16 tokens]       (Q2_K, Q4_K, Q5_K; Q4_1, Q5_1: m)
// with a + 128 as the unsigned operand and bias = -128 * sum(w over the group), so the float
// work is 3 ops per group of 32 (Q2_K, Q3_K, Q6_K: 16) columns for 16 tokens instead of per 64
// columns for one (K types: cvt + fma per group into a per-super-block sum, times d_a once per
// super-block). A tile is 8 rows x 16 tokens; two tiles (16 rows) are transposed into one 64-byte
// store per token. Weights are unpacked per 8 rows and kSegCols columns into a stack RowPack
// (signed bytes in column order, the group's bias, scale and min term), so each weight block is
// decoded once per call, not per token tile. Q8_0 weights with prepared aux data (bias and scale
// per group, matmul_prepare_aux) skip the unpack and are read in place: at 16 tokens (a batch of
// decodes) the unpack cost as much as the products. Integer sums are exact: |lane| <= 255 * 128 *
// 32 + 128 * 128 * 32 < 2^31.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/matmul_avx512_transpose.h"
#include "kernels/cpu/matmul_internal.h"

namespace mx::matmul_detail {
namespace {

constexpr int kR = 8;               // rows per tile
constexpr int64_t kSegCols = 2048;  // columns unpacked at a time (multiple of 256)
constexpr int64_t kMaxGroups = kSegCols / 16;

// Elements per weight scale group.
constexpr int group_elems(DType t) {
  return t == DType::Q6_K || t == DType::Q3_K || t == DType::Q2_K || quant::is_grid_type(t) ? 16
                                                                                            : 32;
}
constexpr bool has_mins(DType t) { return lanes_msum_group(t) != 0; }
// Blocks of 32 with one scale each (the activation scale varies per block too).
constexpr bool legacy_type(DType t) {
  return t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q4_1 || t == DType::Q5_0 ||
         t == DType::Q5_1 || t == DType::IQ4_NL || t == DType::MXFP4;
}

// IQ4_NL / IQ4_XS codes (0..15 per byte) to their signed grid values (quant::kIq4Values).
inline __m256i iq4_lookup(__m256i codes) {
  const __m256i grid = _mm256_broadcastsi128_si256(
      _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
  return _mm256_shuffle_epi8(grid, codes);
}

// MXFP4 codes (0..15 per byte) to doubled e2m1 values (quant::kMxfp4Values), and its block
// scale 2^(e - 128) (quant::e8m0_to_fp32_half).
inline __m256i mxfp4_lookup(__m256i codes) {
  const __m256i table = _mm256_broadcastsi128_si256(
      _mm_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12));
  return _mm256_shuffle_epi8(table, codes);
}
inline float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

struct RowPack {
  alignas(64) int8_t w[kR][kSegCols];
  int32_t bias[kR][kMaxGroups];
  float scale[kR][kMaxGroups];
  float minterm[kR][kMaxGroups];
};

inline uint16_t read_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Sums of each 8 bytes of v as unsigned (sad against zero), to out[8].
inline void sums8(__m512i v, uint64_t out[8]) {
  _mm512_storeu_si512(out, _mm512_sad_epu8(v, _mm512_setzero_si512()));
}

// acc += dpbusd(a, broadcast of the 4 bytes at w), the broadcast folded into the instruction
// (GCC emits a separate vpbroadcastd for _mm512_set1_epi32 of a load: one more uop per MAC op).
inline __m512i dpbusd_bcast(__m512i acc, __m512i a, const int8_t* w) {
  asm("vpdpbusd %2%{1to16%}, %1, %0"
      : "+v"(acc)
      : "v"(a), "m"(*reinterpret_cast<const int32_t*>(w)));
  return acc;
}

inline int32_t bias_of(int64_t sum_w) { return static_cast<int32_t>(-128 * sum_w); }

// Columns [c0, c0 + n) of one row into pack row pr (c0, n multiples of the block size).
template <DType kType>
void pack_row(const uint8_t* row, int64_t c0, int64_t n, RowPack& pk, int pr) {
  int8_t* w = pk.w[pr];
  uint64_t s[8];
  if constexpr (legacy_type(kType)) {
    constexpr int64_t kBytes = legacy_block_bytes(kType);
    const uint8_t* blk = row + c0 / 32 * kBytes;
    for (int64_t g = 0; g < n / 32; ++g, blk += kBytes) {
      __m256i q;
      if constexpr (kType == DType::Q8_0) {
        q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
      } else {
        // Element j < 16 in the low nibble of qs[j], j >= 16 in the high nibble of qs[j - 16];
        // Q5 types add bit j of qh as 16; then the zero point or the IQ4_NL grid.
        const __m128i mask = _mm_set1_epi8(0x0f);
        __m128i x =
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + legacy_qs_offset(kType)));
        q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(x, 4), mask), _mm_and_si128(x, mask));
        if constexpr (legacy_five_bits(kType)) {
          uint32_t qh;
          std::memcpy(&qh, blk + legacy_qh_offset(kType), 4);
          q = _mm256_mask_add_epi8(q, _cvtu32_mask32(qh), q, _mm256_set1_epi8(16));
        }
        if constexpr (kType == DType::IQ4_NL) q = iq4_lookup(q);
        if constexpr (kType == DType::MXFP4) q = mxfp4_lookup(q);
        if constexpr (legacy_offset(kType) != 0) {
          q = _mm256_sub_epi8(q, _mm256_set1_epi8(legacy_offset(kType)));
        }
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(w + 32 * g), q);
      // sum(q) = sum(q + 128) - 32 * 128
      sums8(_mm512_castsi256_si512(_mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)))),
            s);
      pk.bias[pr][g] = bias_of(static_cast<int64_t>(s[0] + s[1] + s[2] + s[3]) - 4096);
      pk.scale[pr][g] = kType == DType::MXFP4 ? e8m0_half(blk[0]) : _cvtsh_ss(read_u16(blk));
      if constexpr (has_mins(kType)) pk.minterm[pr][g] = _cvtsh_ss(read_u16(blk + 2));
    }
    return;
  }
  if constexpr (kType == DType::Q2_K || kType == DType::Q3_K) {
    constexpr bool kThree = kType == DType::Q3_K;
    for (int64_t b = 0; b < n / 256; ++b) {
      const uint8_t* blk = row + (c0 / 256 + b) * k_block_bytes(kType);
      int8_t sc[16];
      float d, dmin = 0.0f;
      if constexpr (kThree) {
        unpack_q3k_scales(blk + 96, sc);
        d = _cvtsh_ss(read_u16(blk + 108));
      } else {
        for (int k = 0; k < 16; ++k) sc[k] = static_cast<int8_t>(blk[k] & 0x0f);
        d = _cvtsh_ss(read_u16(blk + 80));
        dmin = _cvtsh_ss(read_u16(blk + 82));
      }
      const uint8_t* qs = blk + (kThree ? 32 : 16);
      const __m512i hmask =
          kThree ? _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)))
                 : _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c) {  // 64 values each, as load_q2_q3_block in the tile kernels
        __m512i x = _mm512_broadcast_i64x4(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * (c / 2))));
        __m512i shift =
            _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(4 * (c % 2))),
                               _mm256_set1_epi16(static_cast<short>(4 * (c % 2) + 2)), 1);
        __m512i q = _mm512_and_si512(_mm512_srlv_epi16(x, shift), _mm512_set1_epi8(3));
        if constexpr (kThree) {  // q3 + 4 in 0..7
          __m512i bit =
              _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * c))),
                                 _mm256_set1_epi8(static_cast<char>(1 << (2 * c + 1))), 1);
          q = _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(hmask, bit), q, _mm512_set1_epi8(4));
        }
        constexpr int kZero = kThree ? 4 : 0;  // Q3_K stores q3 = q - 4
        _mm512_storeu_si512(w + 256 * b + 64 * c, _mm512_sub_epi8(q, _mm512_set1_epi8(kZero)));
        sums8(q, s);
        for (int k = 0; k < 4; ++k) {
          int64_t g = 16 * b + 4 * c + k;
          pk.bias[pr][g] = bias_of(static_cast<int64_t>(s[2 * k] + s[2 * k + 1]) - 16 * kZero);
          pk.scale[pr][g] = d * sc[4 * c + k];
          if constexpr (!kThree)
            pk.minterm[pr][g] = -dmin * static_cast<float>(blk[4 * c + k] >> 4);
        }
      }
    }
    return;
  }
  if constexpr (quant::is_grid_type(kType)) {
    // The portable decoder (signed values, scale per 16): its cost is shared by the call's
    // tokens (16 or more here).
    quant::GridBlockInts grid;
    for (int64_t b = 0; b < n / 256; ++b) {
      quant::decode_grid_block(kType, row + (c0 / 256 + b) * quant::grid_block_bytes(kType), grid);
      for (int c = 0; c < 4; ++c) {
        __m512i q = _mm512_loadu_si512(grid.q + 64 * c);
        _mm512_storeu_si512(w + 256 * b + 64 * c, q);
        sums8(_mm512_xor_si512(q, _mm512_set1_epi8(static_cast<char>(0x80))), s);  // q + 128
        for (int k = 0; k < 4; ++k) {
          int64_t g = 16 * b + 4 * c + k;
          pk.bias[pr][g] = bias_of(static_cast<int64_t>(s[2 * k] + s[2 * k + 1]) - 16 * 128);
          pk.scale[pr][g] = grid.d * static_cast<float>(grid.scale[4 * c + k]);
        }
      }
    }
    return;
  }
  if constexpr (kType == DType::IQ4_XS) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    for (int64_t b = 0; b < n / 256; ++b) {
      const uint8_t* blk = row + (c0 / 256 + b) * 136;
      const float d = _cvtsh_ss(read_u16(blk));
      const uint16_t high = read_u16(blk + 2);
      for (int sb = 0; sb < 8; ++sb) {  // sub-block of 32: low nibbles 0-15, high 16-31
        __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 8 + 16 * sb));
        __m256i q = iq4_lookup(_mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), low4));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(w + 256 * b + 32 * sb), q);
        sums8(
            _mm512_castsi256_si512(_mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)))),
            s);
        int64_t g = 8 * b + sb;
        int ls = ((blk[4 + sb / 2] >> (4 * (sb % 2))) & 0x0f) | (((high >> (2 * sb)) & 3) << 4);
        pk.bias[pr][g] = bias_of(static_cast<int64_t>(s[0] + s[1] + s[2] + s[3]) - 4096);
        pk.scale[pr][g] = d * static_cast<float>(ls - 32);
      }
    }
    return;
  }
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  if constexpr (kType == DType::Q6_K) {
    for (int64_t b = 0; b < n / 256; ++b) {
      const uint8_t* blk = row + (c0 / 256 + b) * 210;
      const uint8_t* ql = blk;
      const uint8_t* qh = blk + 128;
      const auto* sc = reinterpret_cast<const int8_t*>(blk + 192);
      float d = _cvtsh_ss(read_u16(blk + 208));
      for (int c = 0; c < 4; ++c) {  // 64 elements each, as load_k_block in the tile kernels
        __m512i l = _mm512_loadu_si512(ql + 64 * (c / 2));
        if (c % 2) l = _mm512_srli_epi16(l, 4);
        __m512i h = _mm512_broadcast_i64x4(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh + 32 * (c / 2))));
        __m512i shift =
            _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(4 * (c % 2))),
                               _mm256_set1_epi16(static_cast<short>(4 * (c % 2) + 2)), 1);
        h = _mm512_and_si512(_mm512_srlv_epi16(h, shift), _mm512_set1_epi8(3));
        __m512i q = _mm512_or_si512(_mm512_and_si512(l, low4), _mm512_slli_epi16(h, 4));  // 0..63
        _mm512_storeu_si512(w + 256 * b + 64 * c, _mm512_sub_epi8(q, _mm512_set1_epi8(32)));
        sums8(q, s);
        for (int k = 0; k < 4; ++k) {
          int64_t g = 16 * b + 4 * c + k;
          pk.bias[pr][g] = bias_of(static_cast<int64_t>(s[2 * k] + s[2 * k + 1]) - 16 * 32);
          pk.scale[pr][g] = d * sc[4 * c + k];
        }
      }
    }
    return;
  }
  constexpr bool kFive = kType == DType::Q5_K;
  constexpr int64_t kBytes = kFive ? 176 : 144;
  for (int64_t b = 0; b < n / 256; ++b) {
    const uint8_t* blk = row + (c0 / 256 + b) * kBytes;
    float d = _cvtsh_ss(read_u16(blk));
    float dmin = _cvtsh_ss(read_u16(blk + 2));
    uint8_t sc[8], mn[8];
    unpack_k_scales(blk + 4, sc, mn);
    const uint8_t* qs = blk + (kFive ? 48 : 16);
    __m256i qh = kFive ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16))
                       : _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * p));
      __m256i lo = _mm256_and_si256(x, _mm512_castsi512_si256(low4));
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), _mm512_castsi512_si256(low4));
      if constexpr (kFive) {
        __m256i sixteen = _mm256_set1_epi8(16);
        lo = _mm256_mask_add_epi8(
            lo, _mm256_test_epi8_mask(qh, _mm256_set1_epi8(static_cast<char>(1 << (2 * p)))), lo,
            sixteen);
        hi = _mm256_mask_add_epi8(
            hi, _mm256_test_epi8_mask(qh, _mm256_set1_epi8(static_cast<char>(1 << (2 * p + 1)))),
            hi, sixteen);
      }
      __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
      _mm512_storeu_si512(w + 256 * b + 64 * p, q);
      sums8(q, s);
      for (int k = 0; k < 2; ++k) {
        int64_t g = 8 * b + 2 * p + k;
        pk.bias[pr][g] =
            bias_of(static_cast<int64_t>(s[4 * k] + s[4 * k + 1] + s[4 * k + 2] + s[4 * k + 3]));
        pk.scale[pr][g] = d * sc[2 * p + k];
        pk.minterm[pr][g] = -dmin * mn[2 * p + k];
      }
    }
  }
}

// The weights of an 8-row tile as the tile code reads them: group g's kG signed bytes, its
// bias (-128 * sum of the bytes), scale and, for Q4_K / Q5_K, min term.
struct PackedRows {  // unpacked per call into a RowPack
  const RowPack& pk;
  const int8_t* weights(int r, int64_t g, int kG) const { return pk.w[r] + g * kG; }
  int32_t bias(int r, int64_t g) const { return pk.bias[r][g]; }
  float scale(int r, int64_t g) const { return pk.scale[r][g]; }
  float minterm(int r, int64_t g) const { return pk.minterm[r][g]; }
};

struct Q8InPlaceRows {  // Q8_0 blocks read where they are, bias and scale from the aux array
  const uint8_t* row[kR];        // at the segment's first block
  const Q8LanesAux* aux[kR];     // at the segment's first group
  const int8_t* weights(int r, int64_t g, int) const {
    return reinterpret_cast<const int8_t*>(row[r] + g * 34 + 2);
  }
  int32_t bias(int r, int64_t g) const { return aux[r][g].bias; }
  float scale(int r, int64_t g) const { return aux[r][g].scale; }
  float minterm(int, int64_t) const { return 0.0f; }
};

// One 8-row x 16-token tile over a segment's columns: accumulates into facc.
//   a     interleaved activations at the segment's first column ([n / 4][16][4] bytes)
//   d     activation scales at the segment's first scale block ([.][16] floats)
//   msum  d_a * sum of a per 32 columns at the segment's first column ([.][16] floats)
// Integer sums of group g for the 8 rows, started from the rows' biases.
template <int kG, typename Rows>
inline void group_dots(const Rows& rows, int64_t g, const uint8_t* ag, __m512i iacc[kR]) {
  const int8_t* w[kR];
  for (int r = 0; r < kR; ++r) {
    iacc[r] = _mm512_set1_epi32(rows.bias(r, g));
    w[r] = rows.weights(r, g, kG);
  }
  for (int j = 0; j < kG / 4; ++j) {
    __m512i av = _mm512_loadu_si512(ag + 64 * j);
    for (int r = 0; r < kR; ++r) iacc[r] = dpbusd_bcast(iacc[r], av, w[r] + 4 * j);
  }
}

template <DType kType, typename Rows>
inline void lanes_tile(const Rows& pk, int64_t n, const uint8_t* a, const float* d,
                       const float* msum, __m512 facc[kR]) {
  constexpr int kG = group_elems(kType);
  __m512i iacc[kR];
  if constexpr (legacy_type(kType)) {
    for (int64_t g = 0; g < n / kG; ++g) {
      group_dots<kG>(pk, g, a + g * kG * 16, iacc);
      __m512 dv = _mm512_loadu_ps(d + g * 16);
      for (int r = 0; r < kR; ++r) {
        facc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[r]),
                                  _mm512_mul_ps(_mm512_set1_ps(pk.scale(r, g)), dv), facc[r]);
      }
      if constexpr (has_mins(kType)) {  // Q4_1 / Q5_1: + m * d_a * sum(a)
        __m512 mv = _mm512_loadu_ps(msum + g * 16);
        for (int r = 0; r < kR; ++r)
          facc[r] = _mm512_fmadd_ps(_mm512_set1_ps(pk.minterm(r, g)), mv, facc[r]);
      }
    }
    return;
  }
  // K types: d_a is constant over a super-block, so the group scales go into sacc (cvt + fma
  // per group) and d_a into facc once per super-block.
  constexpr int64_t kGroups = 256 / kG;
  for (int64_t b = 0; b < n / 256; ++b) {
    __m512 sacc[kR];
    for (int r = 0; r < kR; ++r) sacc[r] = _mm512_setzero_ps();
    for (int64_t g = b * kGroups; g < (b + 1) * kGroups; ++g) {
      group_dots<kG>(pk, g, a + g * kG * 16, iacc);
      for (int r = 0; r < kR; ++r)
        sacc[r] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[r]), _mm512_set1_ps(pk.scale(r, g)), sacc[r]);
      if constexpr (has_mins(kType)) {
        __m512 mv = _mm512_loadu_ps(msum + g * 16);
        for (int r = 0; r < kR; ++r)
          facc[r] = _mm512_fmadd_ps(_mm512_set1_ps(pk.minterm(r, g)), mv, facc[r]);
      }
    }
    __m512 dv = _mm512_loadu_ps(d + b * 16);
    for (int r = 0; r < kR; ++r) facc[r] = _mm512_fmadd_ps(sacc[r], dv, facc[r]);
  }
}

// Fills the two 8-row packs of rows [rb, rb + nr) for columns [c0, c0 + n).
template <DType kType>
void pack_rows(const MatmulJob& job, int64_t rb, int nr, int64_t c0, int64_t n, RowPack pk[2]) {
  for (int r = 0; r < 2 * kR; ++r) {
    RowPack& p = pk[r / kR];
    if (r < nr) {
      pack_row<kType>(job.w + (rb + r) * job.w_row_bytes, c0, n, p, r % kR);
    } else {  // rows past the end: zero, never written
      std::memset(p.w[r % kR], 0, static_cast<size_t>(n));
      std::fill_n(p.bias[r % kR], kMaxGroups, 0);
      std::fill_n(p.scale[r % kR], kMaxGroups, 0.0f);
      std::fill_n(p.minterm[r % kR], kMaxGroups, 0.0f);
    }
  }
}

// Points the two 8-row views at rows [rb, rb + nr) from column c0 (rows past the end repeat
// row rb: computed, never written).
void view_q8_rows(const MatmulJob& job, int64_t rb, int nr, int64_t c0, Q8InPlaceRows v[2]) {
  const int64_t n_groups = job.cols / 32;
  for (int r = 0; r < 2 * kR; ++r) {
    int64_t row = rb + (r < nr ? r : 0);
    v[r / kR].row[r % kR] = job.w + row * job.w_row_bytes + c0 / 32 * 34;
    v[r / kR].aux[r % kR] = static_cast<const Q8LanesAux*>(job.w_aux) + row * n_groups + c0 / 32;
  }
}

// Every token group against the 16 rows at rb over one column segment; adds into y when the
// segment is not the first.
template <DType kType, typename Rows>
void segment_tiles(const MatmulJob& job, const Rows rows[2], int64_t rb, int nr, int64_t c0,
                   int64_t n, int64_t t0, int64_t t1) {
  constexpr int64_t kBlock = legacy_type(kType) ? 32 : 256;
  const LanesLayout& L = job.lanes_layout;
  __mmask16 row_mask = static_cast<__mmask16>((1u << nr) - 1);
  for (int64_t tg = t0 / 16; tg * 16 < t1; ++tg) {
    const uint8_t* grp = job.lanes + tg * L.group_bytes;
    const auto* d = reinterpret_cast<const float*>(grp + L.d_offset) + c0 / kBlock * 16;
    const auto* msum = reinterpret_cast<const float*>(grp + L.msum_offset) +
                       (has_mins(kType) ? c0 / lanes_msum_group(kType) * 16 : 0);
    __m512 facc[2 * kR], out[16];
    for (int r = 0; r < 2 * kR; ++r) facc[r] = _mm512_setzero_ps();
    lanes_tile<kType>(rows[0], n, grp + c0 * 16, d, msum, facc);
    if (nr > kR) lanes_tile<kType>(rows[1], n, grp + c0 * 16, d, msum, facc + kR);
    transpose16(facc, out);
    int64_t nt = std::min<int64_t>(16, t1 - tg * 16);
    for (int64_t t = 0; t < nt; ++t) {
      float* y = job.y + (tg * 16 + t) * job.y_stride + rb;
      __m512 v = out[t];
      if (c0 > 0) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(row_mask, y));
      _mm512_mask_storeu_ps(y, row_mask, v);
    }
  }
}

// Rows are taken 16 at a time (two 8-row packs) so each token's 16 outputs are one 64-byte
// store: scattering 8 rows x 16 tokens as scalars was 12% of the kernel's samples (y lines
// touched twice, from L3).
template <DType kType>
void lanes_kernel(const MatmulJob& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  RowPack pk[2];
  for (int64_t rb = r0; rb < r1; rb += 2 * kR) {
    int nr = static_cast<int>(std::min<int64_t>(2 * kR, r1 - rb));
    for (int64_t c0 = 0; c0 < job.cols; c0 += kSegCols) {
      int64_t n = std::min(kSegCols, job.cols - c0);
      if constexpr (kType == DType::Q8_0) {
        if (job.w_aux) {
          Q8InPlaceRows v[2];
          view_q8_rows(job, rb, nr, c0, v);
          segment_tiles<kType>(job, v, rb, nr, c0, n, t0, t1);
          continue;
        }
      }
      pack_rows<kType>(job, rb, nr, c0, n, pk);
      const PackedRows rows[2] = {{pk[0]}, {pk[1]}};
      segment_tiles<kType>(job, rows, rb, nr, c0, n, t0, t1);
    }
  }
}

// Group tg's interleaved activations from the per-token records (quantized already).
void interleave(const MatmulJob& job, int64_t tg, int64_t n_tokens) {
  const LanesLayout& L = job.lanes_layout;
  uint8_t* grp = const_cast<uint8_t*>(job.lanes) + tg * L.group_bytes;
  // Every lane of a real token is written below; only padding tokens' scales need zeros.
  if ((tg + 1) * 16 > n_tokens) {
    std::memset(grp + L.d_offset, 0, static_cast<size_t>(L.group_bytes - L.d_offset));
  }
  bool legacy = is_legacy(job.w_type);
  // Legacy VNNI records hold a + 128 already; K records hold signed a.
  uint32_t flip = legacy ? 0u : 0x80808080u;
  int64_t n_steps = job.cols / 4;
  auto* a = reinterpret_cast<uint32_t*>(grp);
  auto* d = reinterpret_cast<float*>(grp + L.d_offset);
  auto* msum = reinterpret_cast<float*>(grp + L.msum_offset);
  for (int64_t t = 0; t < 16; ++t) {
    int64_t token = tg * 16 + t;
    if (token >= n_tokens) {
      for (int64_t j = 0; j < n_steps; ++j) a[j * 16 + t] = 0x80808080u;  // a = 0
      continue;
    }
    const uint8_t* rec = job.acts + token * job.layout.token_bytes;
    const auto* rd = reinterpret_cast<const float*>(rec + job.layout.d_offset);
    for (int64_t j = 0; j < n_steps; ++j) {
      uint32_t v;
      std::memcpy(&v, rec + 4 * j, 4);
      a[j * 16 + t] = v ^ flip;
    }
    const int64_t msum_group = lanes_msum_group(job.w_type);
    if (legacy) {
      for (int64_t b = 0; b < job.cols / 32; ++b) d[b * 16 + t] = rd[(b / 2) * 16 + (b % 2) * 8];
      if (msum_group) {  // the record's d_a * sum(a) / 8 per lane of block b, times 8
        const auto* rm = reinterpret_cast<const float*>(rec + job.layout.msum_offset);
        for (int64_t b = 0; b < job.cols / 32; ++b) {
          msum[b * 16 + t] = 8.0f * rm[(b / 2) * 16 + (b % 2) * 8];
        }
      }
    } else {
      const auto* sums = reinterpret_cast<const float*>(rec + job.layout.extra_offset);
      for (int64_t b = 0; b < job.cols / 256; ++b) d[b * 16 + t] = rd[b];
      if (msum_group == 16) {
        for (int64_t s = 0; s < job.cols / 16; ++s) msum[s * 16 + t] = sums[s];
      } else if (msum_group == 32) {
        for (int64_t s = 0; s < job.cols / 32; ++s) {
          msum[s * 16 + t] = sums[2 * s] + sums[2 * s + 1];
        }
      }
    }
  }
}

}  // namespace

LanesKernels avx512_vnni_lanes_kernels(DType w_type) {
  switch (w_type) {
    case DType::Q8_0:
      return {lanes_kernel<DType::Q8_0>, interleave};
    case DType::Q4_0:
      return {lanes_kernel<DType::Q4_0>, interleave};
    case DType::Q4_K:
      return {lanes_kernel<DType::Q4_K>, interleave};
    case DType::Q5_K:
      return {lanes_kernel<DType::Q5_K>, interleave};
    case DType::Q6_K:
      return {lanes_kernel<DType::Q6_K>, interleave};
    case DType::Q4_1:
      return {lanes_kernel<DType::Q4_1>, interleave};
    case DType::Q5_0:
      return {lanes_kernel<DType::Q5_0>, interleave};
    case DType::Q5_1:
      return {lanes_kernel<DType::Q5_1>, interleave};
    case DType::IQ4_NL:
      return {lanes_kernel<DType::IQ4_NL>, interleave};
    case DType::Q2_K:
      return {lanes_kernel<DType::Q2_K>, interleave};
    case DType::Q3_K:
      return {lanes_kernel<DType::Q3_K>, interleave};
    case DType::IQ4_XS:
      return {lanes_kernel<DType::IQ4_XS>, interleave};
    case DType::MXFP4:
      return {lanes_kernel<DType::MXFP4>, interleave};
    case DType::IQ2_XXS:
      return {lanes_kernel<DType::IQ2_XXS>, interleave};
    case DType::IQ2_XS:
      return {lanes_kernel<DType::IQ2_XS>, interleave};
    case DType::IQ2_S:
      return {lanes_kernel<DType::IQ2_S>, interleave};
    case DType::IQ3_XXS:
      return {lanes_kernel<DType::IQ3_XXS>, interleave};
    case DType::IQ3_S:
      return {lanes_kernel<DType::IQ3_S>, interleave};
    case DType::IQ1_S:
      return {lanes_kernel<DType::IQ1_S>, interleave};
    case DType::IQ1_M:
      return {lanes_kernel<DType::IQ1_M>, interleave};
    case DType::TQ1_0:
      return {lanes_kernel<DType::TQ1_0>, interleave};
    case DType::TQ2_0:
      return {lanes_kernel<DType::TQ2_0>, interleave};
    default:
      return {};
  }
}

}  // namespace mx::matmul_detail
