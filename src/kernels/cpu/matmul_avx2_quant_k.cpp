// AVX2 integer kernels for the K types Q2_K..Q6_K (the records come from the AVX2 quantizer in
// matmul_avx2_quant.cpp; K types keep the common form: d per super-block and d * sum(q) per 16
// values). A super-block (256 values) is 8 chunks of 32, one ymm each. Per row, super-block and
// tile of T tokens:
//   each chunk c is unpacked once to unsigned bytes q_c (Q2_K 0..3, Q3_K 0..7, Q4_K 0..15,
//   Q5_K 0..31, Q6_K 0..63) and int16 scales sc_c, then for every token
//     iacc_t += vpmaddwd(vpmaddubsw(q_c, a_t[c]), sc_c)
//   |pair| <= 2 * 63 * 127 = 16002 < 2^15; |lane| <= 8 chunks * 2 * 16002 * 128 < 2^25: exact
//   (Q6_K scales are int8, Q3_K 6-bit signed, Q2_K 4-bit, Q4_K / Q5_K 6-bit); then per token
//     y += float(iacc_t) * d * d_a + corr . sums16     corr = -dmin * min per 16 values
// (KBlockInts' form: Q6_K's q - 32 is q with min = 32 * sc, dmin = d; Q3_K's q3 is q - 4 with
// min = 4 * sc, dmin = d). Unpacking a chunk costs
// 3-6 instructions and its scale 1-2, shared by the T tokens of the tile; each token costs 3
// per chunk (vpmaddubsw with a as memory operand, vpmaddwd, vpaddd).
#include <algorithm>
#include <utility>

#include "kernels/cpu/matmul_avx2_quant.h"
#include "kernels/cpu/quants_grids.h"

namespace mx::matmul_detail {
namespace {

template <DType kType>
constexpr int64_t kKBytes = k_block_bytes(kType);

// Per-super-block data of one row; the chunks are unpacked from `block` as they are used.
struct KHeader {
  __m256i scales;  // int16 scales, the source of the per-chunk vectors (chunk_scales)
  __m256i qh;      // Q5_K fifth bits qh[32], Q3_K third bits hmask[32]
  __m256 corr[2];  // -dmin * min per 16 values (Q6_K: groups 0-7, 8-15) or per 32 (corr[0])
  __m256 d;        // super-block scale in every lane
  const int8_t* grid_q = nullptr;  // grid types: the block's signed values, decoded
};

#include "kernels/cpu/matmul_avx2_grid.inc"

// unpack_k_scales (matmul_internal.h) on the 32-bit words d0, d1, d2 of the 12 packed bytes,
// in one xmm: bytes 0-7 of the result are the 8 scales, bytes 8-15 the 8 mins.
//   scales 0-3 = d0 & 0x3f..   scales 4-7 = (d2 & 0x0f..) | ((d0 >> 2) & 0x30..)
//   mins 0-3   = d1 & 0x3f..   mins 4-7   = ((d2 >> 4) & 0x0f..) | ((d1 >> 2) & 0x30..)
// The top 2 bits of sub-blocks 4-7 sit in bits 6-7 of bytes 0-7; shifting the word right by 2
// puts them at bits 4-5 of the same byte. Reads 16 bytes (the block continues after 12).
inline __m128i unpack_k_scales_simd(const uint8_t* packed) {
  __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));
  __m128i low = _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 1, 2, 0));   // d0 d2 d1 d2
  __m128i high = _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 1, 0, 0));  // d0 d0 d1 d1
  low = _mm_and_si128(_mm_srlv_epi32(low, _mm_setr_epi32(0, 0, 0, 4)),
                      _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
  high = _mm_and_si128(_mm_srli_epi32(high, 2), _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
  return _mm_or_si128(low, high);
}

// Types with a scale per 16 values (Q6_K, Q3_K, Q2_K): int8 scales sc8 [16] and per-16 mins
// mins8 [16] (int8), corr = -dmin * min.
inline void per16_header(KHeader& h, __m128i sc8, __m128i mins8, float d, float dmin) {
  h.d = _mm256_set1_ps(d);
  // int16 scales, the even groups in the low 128-bit lane and the odd ones in the high lane,
  // so that one vpshufb gives chunk C its pair (groups 2C, 2C + 1; chunk_scales).
  h.scales = _mm256_cvtepi8_epi16(
      _mm_shuffle_epi8(sc8, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15)));
  __m256 minus_dmin = _mm256_set1_ps(-dmin);
  h.corr[0] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(mins8)), minus_dmin);
  h.corr[1] =
      _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(mins8, 8))), minus_dmin);
}

template <DType kType>
inline KHeader load_k_header(const uint8_t* block, quant::GridBlockInts& grid) {
  KHeader h;
  h.qh = _mm256_setzero_si256();
  if constexpr (avx2_grid_unpack(kType)) {  // the chunks are unpacked in chunk_weights
    (void)grid;
    alignas(16) int8_t sc[16];
    const float d = grid_scales<kType>(block, sc);
    per16_header(h, _mm_load_si128(reinterpret_cast<const __m128i*>(sc)), _mm_setzero_si128(), d,
                 0.0f);
    return h;
  } else if constexpr (quant::is_grid_type(kType)) {
    // TQ1_0 / TQ2_0: unpacked by the portable decoder into `grid` (int8 values and per-16
    // scales, L1-resident), shared by the tile's tokens.
    quant::decode_grid_block(kType, block, grid);
    per16_header(h, _mm_loadu_si128(reinterpret_cast<const __m128i*>(grid.scale)),
                 _mm_setzero_si128(), grid.d, 0.0f);
    h.grid_q = grid.q;
    return h;
  }
  if constexpr (kType == DType::Q6_K) {
    __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 192));  // int8 [16]
    float d = _cvtsh_ss(read_u16(block + 208));
    // min = 32 * sc, dmin = d: -d * 32 * sc
    per16_header(h, sc8, sc8, d, 32.0f * d);
    return h;
  }
  if constexpr (kType == DType::Q3_K) {
    int8_t sc[16];
    unpack_q3k_scales(block + 96, sc);
    __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sc));
    float d = _cvtsh_ss(read_u16(block + 108));
    per16_header(h, sc8, sc8, d, 4.0f * d);  // min = 4 * sc, dmin = d
    h.qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block));
    return h;
  }
  if constexpr (kType == DType::IQ4_XS) {  // ls - 32 per 32 values, no mins
    const uint8_t* b = block;
    uint16_t high = read_u16(b + 2);
    alignas(16) int16_t ls[8];
    for (int s = 0; s < 8; ++s) {
      ls[s] = static_cast<int16_t>(
          (((b[4 + s / 2] >> (4 * (s % 2))) & 0x0f) | (((high >> (2 * s)) & 3) << 4)) - 32);
    }
    h.d = broadcast_fp16(block);
    h.scales = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(ls)));
    h.corr[0] = h.corr[1] = _mm256_setzero_ps();
    return h;
  }
  if constexpr (kType == DType::Q2_K) {  // scales[16]: scale | min << 4
    __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block));
    const __m128i low4 = _mm_set1_epi8(0x0f);
    per16_header(h, _mm_and_si128(packed, low4), _mm_and_si128(_mm_srli_epi16(packed, 4), low4),
                 _cvtsh_ss(read_u16(block + 80)), _cvtsh_ss(read_u16(block + 82)));
    return h;
  }
  h.d = broadcast_fp16(block);
  __m256 minus_dmin = _mm256_set1_ps(-_cvtsh_ss(read_u16(block + 2)));
  __m128i scales_mins = unpack_k_scales_simd(block + 4);
  // 8 int16 scales, in both 128-bit lanes so vpshufb can broadcast one of them (chunk_scales).
  h.scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_mins));
  // -dmin * min of sub-block s (32 values), against the record's sums per 32.
  h.corr[0] = _mm256_mul_ps(
      _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(scales_mins, 8))), minus_dmin);
  h.corr[1] = _mm256_setzero_ps();
  if constexpr (kType == DType::Q5_K) {
    h.qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 16));
  }
  return h;
}

// int16 scales of chunk C: int16 lane i multiplies values 2i and 2i + 1 of the chunk, so the
// low 128-bit lane holds the scale of values 0-15 and the high lane that of values 16-31.
template <int C>
inline __m256i chunk_scales(const KHeader& h) {
  // Q6_K: int16 C of each lane (groups 2C and 2C + 1); Q4_K / Q5_K: sub-block C has one scale
  // for all 32 values, int16 C of both lanes.
  return _mm256_shuffle_epi8(h.scales, _mm256_set1_epi16(static_cast<short>(0x0100 + 0x0202 * C)));
}

// Unsigned weights of chunk C (values 32C .. 32C + 31) in element order.
template <DType kType, int C>
inline __m256i chunk_weights(const uint8_t* block, const KHeader& h) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  if constexpr (avx2_grid_unpack(kType)) {
    (void)h;
    return grid_chunk<kType, C>(block);
  } else if constexpr (quant::is_grid_type(kType)) {  // signed values, decoded in load_k_header
    (void)block;
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h.grid_q + 32 * C));
  } else if constexpr (kType == DType::IQ4_XS) {  // signed grid values of sub-block C
    (void)h;
    return iq4_values(block + 8 + 16 * C);
  } else if constexpr (kType == DType::Q2_K || kType == DType::Q3_K) {
    // Chunk C: bits 2 (C % 4) of qs[32 (C / 4)..] (16-bit shifts: the mask keeps each byte's
    // own two bits); Q3_K adds bit C of hmask[l] as bit 2.
    constexpr int kN = C / 4, kK = C % 4;
    __m256i l = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(block + (kType == DType::Q3_K ? 32 : 16) + 32 * kN));
    if constexpr (kK > 0) l = _mm256_srli_epi16(l, 2 * kK);
    __m256i q = _mm256_and_si256(l, _mm256_set1_epi8(3));
    if constexpr (kType == DType::Q3_K) {
      __m256i bit = h.qh;
      if constexpr (C < 2) bit = _mm256_slli_epi16(bit, 2 - C);
      if constexpr (C > 2) bit = _mm256_srli_epi16(bit, C - 2);
      q = _mm256_or_si256(q, _mm256_and_si256(bit, _mm256_set1_epi8(4)));
    }
    return q;
  } else if constexpr (kType == DType::Q6_K) {
    // Half n = C / 4 (128 values) from ql[64n..] and qh[32n..]; in it, chunk k = C % 4 takes the
    // low (k < 2) or high nibbles of ql[32 (k % 2)..] and bits 2k, 2k + 1 of qh as bits 4-5.
    constexpr int kN = C / 4, kK = C % 4;
    __m256i l =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 64 * kN + 32 * (kK % 2)));
    if constexpr (kK >= 2) l = _mm256_srli_epi16(l, 4);
    __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 128 + 32 * kN));
    // 16-bit shifts move bits across bytes; the 0x30 mask keeps only each byte's own two bits.
    if constexpr (kK < 2) hi = _mm256_slli_epi16(hi, 4 - 2 * kK);
    if constexpr (kK == 3) hi = _mm256_srli_epi16(hi, 2);
    return _mm256_or_si256(_mm256_and_si256(l, low4), _mm256_and_si256(hi, _mm256_set1_epi8(0x30)));
  } else {
    // Q4_K / Q5_K: sub-blocks 2p and 2p + 1 in the low / high nibbles of qs[32p..].
    constexpr bool kFive = kType == DType::Q5_K;
    __m256i x = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(block + (kFive ? 48 : 16) + 32 * (C / 2)));
    if constexpr (C % 2 == 1) x = _mm256_srli_epi16(x, 4);
    __m256i q = _mm256_and_si256(x, low4);
    if constexpr (kFive) {  // fifth bit: bit C of qh[l], moved to bit 4 (masking as above)
      __m256i bit = h.qh;
      if constexpr (C < 4) bit = _mm256_slli_epi16(bit, 4 - C);
      if constexpr (C > 4) bit = _mm256_srli_epi16(bit, C - 4);
      q = _mm256_or_si256(q, _mm256_and_si256(bit, _mm256_set1_epi8(0x10)));
    }
    return q;
  }
}

// Calls f(std::integral_constant<int, C>) for C = 0..7 (the chunks of a super-block).
template <typename F, int... C>
inline void for_each_chunk(F&& f, std::integer_sequence<int, C...>) {
  (f(std::integral_constant<int, C>{}), ...);
}

// Row r x tokens [t0, t0 + T): full dot products written to y.
template <DType kType, int T>
void k_tile(const MatmulJob& job, int64_t r, int64_t t0) {
  constexpr int64_t kBytes = kKBytes<kType>;
  const int64_t n_super = job.cols / kSuperBlock;
  const uint8_t* row = job.w + r * job.w_row_bytes;
  __m256 acc[T];
  const int8_t* a_rec[T];
  const float* d_rec[T];
  const float* sums_rec[T];
  for (int t = 0; t < T; ++t) {
    acc[t] = _mm256_setzero_ps();
    const uint8_t* rec = job.acts + (t0 + t) * job.layout.token_bytes;
    a_rec[t] = reinterpret_cast<const int8_t*>(rec);
    d_rec[t] = reinterpret_cast<const float*>(rec + job.layout.d_offset);
    sums_rec[t] = reinterpret_cast<const float*>(rec + job.layout.extra_offset);
  }
  // Decode: at least 1 KiB ahead (one short row ahead was too close on AVX-512).
  const int64_t ahead = job.w_row_bytes <= kPrefetchTileBytes
                            ? std::max(job.w_row_bytes, kPrefetchAhead)
                            : kPrefetchAhead;
  for (int64_t b = 0; b < n_super; ++b) {
    const uint8_t* block = row + b * kBytes;
    if constexpr (T <= 2) {
      for (int64_t line = 0; line < kBytes; line += 64) prefetch(block + ahead + line);
    }
    quant::GridBlockInts grid;
    KHeader h = load_k_header<kType>(block, grid);
    __m256i iacc[T];
    for (auto& v : iacc) v = _mm256_setzero_si256();
    for_each_chunk(
        [&](auto chunk) {
          constexpr int kC = decltype(chunk)::value;
          __m256i q = chunk_weights<kType, kC>(block, h);
          // IQ4_XS: signed weights; |w| against a with w's sign (|pair| <= 2 * 127 * 127).
          __m256i u = signed_weights(kType) ? _mm256_abs_epi8(q) : q;
          __m256i sc = chunk_scales<kC>(h);
          for (int t = 0; t < T; ++t) {
            __m256i a = _mm256_loadu_si256(
                reinterpret_cast<const __m256i*>(a_rec[t] + b * kSuperBlock + 32 * kC));
            if constexpr (signed_weights(kType)) a = _mm256_sign_epi8(a, q);
            iacc[t] = _mm256_add_epi32(iacc[t], _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), sc));
            in_register(iacc[t]);  // a chain, not a tree of live products (see in_register)
          }
        },
        std::make_integer_sequence<int, 8>{});
    for (int t = 0; t < T; ++t) {
      __m256 scale = _mm256_mul_ps(h.d, _mm256_broadcast_ss(d_rec[t] + b));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[t]), scale, acc[t]);
      if constexpr (!k_has_mins(kType)) {
        // IQ4_XS, grid types: no mins
      } else if constexpr (k_mins_per_16(kType)) {
        acc[t] = _mm256_fmadd_ps(h.corr[0], _mm256_loadu_ps(sums_rec[t] + 16 * b), acc[t]);
        acc[t] = _mm256_fmadd_ps(h.corr[1], _mm256_loadu_ps(sums_rec[t] + 16 * b + 8), acc[t]);
      } else {
        acc[t] = _mm256_fmadd_ps(h.corr[0], _mm256_loadu_ps(sums_rec[t] + 8 * b), acc[t]);
      }
    }
  }
  for (int t = 0; t < T; ++t) job.y[(t0 + t) * job.y_stride + r] = hsum(acc[t]);
}

// Tokens per tile: 6 int32 and 6 float accumulators, the chunk's weights and scales and a
// temporary fill the 16 registers (the float accumulators, touched once per super-block, may
// live in L1). 6 was 5-10% faster than 4; 8 no faster than 6.
constexpr int kKTokens = 6;

template <DType kType>
void k_kernel(const MatmulJob& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  int64_t t = t0;
  for (; t + kKTokens <= t1; t += kKTokens) {
    for (int64_t r = r0; r < r1; ++r) k_tile<kType, kKTokens>(job, r, t);
  }
  if (t == t1) return;
  // The 1 .. kKTokens - 1 tokens left over.
  static constexpr void (*kTail[kKTokens])(const MatmulJob&, int64_t, int64_t) = {
      nullptr,          k_tile<kType, 1>, k_tile<kType, 2>,
      k_tile<kType, 3>, k_tile<kType, 4>, k_tile<kType, 5>};
  for (int64_t r = r0; r < r1; ++r) kTail[t1 - t](job, r, t);
}

}  // namespace

MatmulKernel avx2_k_kernel(DType w_type) {
  switch (w_type) {
    case DType::Q2_K:
      return k_kernel<DType::Q2_K>;
    case DType::Q3_K:
      return k_kernel<DType::Q3_K>;
    case DType::Q4_K:
      return k_kernel<DType::Q4_K>;
    case DType::Q5_K:
      return k_kernel<DType::Q5_K>;
    case DType::Q6_K:
      return k_kernel<DType::Q6_K>;
    case DType::IQ4_XS:
      return k_kernel<DType::IQ4_XS>;
    case DType::IQ2_XXS:
      return k_kernel<DType::IQ2_XXS>;
    case DType::IQ2_XS:
      return k_kernel<DType::IQ2_XS>;
    case DType::IQ2_S:
      return k_kernel<DType::IQ2_S>;
    case DType::IQ3_XXS:
      return k_kernel<DType::IQ3_XXS>;
    case DType::IQ3_S:
      return k_kernel<DType::IQ3_S>;
    case DType::IQ1_S:
      return k_kernel<DType::IQ1_S>;
    case DType::IQ1_M:
      return k_kernel<DType::IQ1_M>;
    case DType::TQ1_0:
      return k_kernel<DType::TQ1_0>;
    case DType::TQ2_0:
      return k_kernel<DType::TQ2_0>;
    default:
      return nullptr;
  }
}

}  // namespace mx::matmul_detail
