// AVX2 integer kernels for the legacy types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) and the AVX2 path's
// activation quantizer (K-type kernels: matmul_avx2_quant_k.cpp). The design of the AVX-512
// kernels without VNNI (matmul_avx512_quant.inc) in 256-bit form: weights stay in their GGUF
// blocks, are unpacked to unsigned bytes in registers once per tile of 2 rows x 4 tokens
// (decode: one row, one token) and dotted against every token's int8 activations with
// vpmaddubsw + vpmaddwd.
//
// Records (ActLayout in matmul_internal.h): quantize_record below fills them and only this
// path's kernels read them. q int8 [cols] exactly as quantize_activations_row (zeros up to
// cols_pad for legacy types). K types: d per super-block, d * sum(q) per 16 values (Q6_K, Q2_K,
// Q3_K) or per 32 (Q4_K / Q5_K, whose mins are per 32: one fma per super-block, not two).
// Legacy types, per pair p of blocks (2p, 2p + 1; a missing 2p + 1 counts as zeros):
//   d    float [n_pairs][8] at d_offset      [d0 d0 d1 d1 d0 d0 d1 d1], the lane order of the
//                                             vphaddd below (the layout's 16 floats a pair fit)
//   bias int32 [n_pairs][8] at extra_offset  Q4_0 / Q5_0: -offset * sum(a) over the 8 values
//                                             of each lane of the vphaddd below (offset 8, 16)
//   msum float [n_pairs][8] at msum_offset   Q4_1 / Q5_1: d_a * sum(a) of each block / 4 in the
//                                             lanes of d (4 lanes per block, summed at the end)
//
// Legacy, per pair of blocks of row r and token t (32 values of a block = one ymm):
//   Q8_0 (sign trick, vpmaddubsw wants one unsigned side): dot_b = dot(|w_b|, sign(a_b, w_b))
//   others (q in 0..15 or 0..31 unsigned):                dot_b = dot(q_b, a_b)
//   acc = vphaddd(dot_2p, dot_2p+1) (+ bias)   lanes [2p 2p 2p+1 2p+1 | 2p 2p ...]
//   y[t, r] += float(acc) * (d_w pair lanes) * (d_a pair lanes) (+ m_w lanes * msum lanes)
// where dot(u, s) = vpmaddwd(vpmaddubsw(u, s), 1): int16 pairs |u s + u s| <= 2 * 128 * 127 <
// 2^15 (|w| <= 128 even for a stored -128, |a| <= 127), int32 lanes <= 8 * 128 * 127 plus the
// bias 8 * 16 * 127: exact. One vphaddd per pair halves the float work (cvt, mul, fma), which
// was a third of the instructions: Q8_0 prefill 10% faster than one block at a time.
#include "kernels/cpu/matmul_avx2_quant.h"

#include <algorithm>
#include <type_traits>

namespace mx::matmul_detail {
namespace {

// ---- activation quantizer ------------------------------------------------------------------

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// One block of n (32 or 256) values exactly as quantize_block_scalar: q = round half to even
// of x * (127 / amax) (vcvtps2dq in the default rounding mode), d = amax / 127.
inline float quantize_block(const float* x, int n, int8_t* q) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 amax_v = _mm256_setzero_ps();
  // max(|x|, amax) keeps amax for a NaN x, as std::max(amax, |x|) does in the scalar code.
  for (int i = 0; i < n; i += 8) {
    amax_v = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask), amax_v);
  }
  float amax = hmax(amax_v);
  __m256 inv = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
  // Packing 4 x 8 int32 to bytes interleaves 4-value groups across the 128-bit lanes: dwords
  // come out as values 0-3, 8-11, 16-19, 24-27, 4-7, ...; vpermd puts them back in order.
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int i = 0; i < n; i += 32) {
    __m256i v[4];
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * k), inv));
    }
    __m256i bytes =
        _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i),
                        _mm256_permutevar8x32_epi32(bytes, order));
  }
  return amax / 127.0f;
}

// Sums of q over each 8 values of 32 as 64-bit lanes (vpsadbw adds 8 unsigned bytes, so q is
// biased by 128 first: each sum is 8 * 128 too high).
inline __m256i sums_of_8_biased(__m256i q) {
  return _mm256_sad_epu8(_mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))),
                         _mm256_setzero_si256());
}

// Sums of q over each 16 values of 32: int32 lanes 0 and 4, each 16 * 128 too high.
inline __m256i sums_of_16_biased(__m256i q) {
  __m256i s = sums_of_8_biased(q);
  return _mm256_add_epi64(s, _mm256_bsrli_epi128(s, 8));
}

void quantize_record(DType type, const float* x, int64_t cols, const ActLayout& layout,
                     uint8_t* record) {
  auto* q = reinterpret_cast<int8_t*>(record);
  auto* d = reinterpret_cast<float*>(record + layout.d_offset);
  if (is_legacy(type)) {
    auto* bias = reinterpret_cast<int32_t*>(record + layout.extra_offset);
    auto* msum = reinterpret_cast<float*>(record + layout.msum_offset);
    const int64_t n_blocks = cols / kLegacyBlock;
    // The kernels read an odd last block's neighbour (weights 0): keep it a defined 0.
    std::memset(q + cols, 0, static_cast<size_t>(layout.cols_pad - cols));
    for (int64_t p = 0; p < (n_blocks + 1) / 2; ++p) {
      float scale[2] = {0.0f, 0.0f};
      for (int64_t b = 2 * p; b < std::min(2 * p + 2, n_blocks); ++b) {
        scale[b % 2] = quantize_block(x + b * kLegacyBlock, kLegacyBlock, q + b * kLegacyBlock);
      }
      _mm256_storeu_ps(d + 8 * p, _mm256_setr_ps(scale[0], scale[0], scale[1], scale[1], scale[0],
                                                 scale[0], scale[1], scale[1]));
      if (legacy_has_min(type)) {
        // d * sum(q) of each block, a quarter in each of its 4 lanes (the kernel adds all 8).
        float quarter[2] = {0.0f, 0.0f};
        for (int64_t b = 2 * p; b < std::min(2 * p + 2, n_blocks); ++b) {
          int32_t sum = 0;
          for (int64_t i = 0; i < kLegacyBlock; ++i) sum += q[b * kLegacyBlock + i];
          quarter[b % 2] = 0.25f * scale[b % 2] * static_cast<float>(sum);
        }
        _mm256_storeu_ps(msum + 8 * p,
                         _mm256_setr_ps(quarter[0], quarter[0], quarter[1], quarter[1], quarter[0],
                                        quarter[0], quarter[1], quarter[1]));
      }
      const int offset = legacy_offset(type);
      if (offset == 0) continue;
      // Q4_0 / Q5_0: each lane's bias covers the 8 values that lane of the kernel's vphaddd sums
      // (block 2p values 0-7, 8-15, block 2p + 1 values 0-7, 8-15, then 16-23, 24-31 of each), so
      // every lane is sum((q_w - offset) * a) over its 8 values: no large terms that cancel across
      // lanes (one bias per block in lane 0 left float rounding of ~1e-5 relative on small
      // results).
      __m256i s0 =
          sums_of_8_biased(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64 * p)));
      __m256i s1 =
          sums_of_8_biased(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64 * p + 32)));
      __m256i sums8 = _mm256_castps_si256(
          _mm256_shuffle_ps(_mm256_castsi256_ps(s0), _mm256_castsi256_ps(s1), 0x88));
      // -offset * (sum - 8 * 128); a missing block 2p + 1 reads the zero padding: bias 0.
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(bias + 8 * p),
                          _mm256_mullo_epi32(_mm256_sub_epi32(_mm256_set1_epi32(8 * 128), sums8),
                                             _mm256_set1_epi32(offset)));
    }
    return;
  }
  auto* sums = reinterpret_cast<float*>(record + layout.extra_offset);
  for (int64_t b = 0; b < cols / kSuperBlock; ++b) {
    d[b] = quantize_block(x + b * kSuperBlock, kSuperBlock, q + b * kSuperBlock);
    for (int64_t c = 0; c < kSuperBlock / 32; ++c) {
      __m256i s = sums_of_16_biased(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + b * kSuperBlock + 32 * c)));
      int32_t sum0 = _mm256_cvtsi256_si32(s) - 16 * 128,
              sum1 = _mm256_extract_epi32(s, 4) - 16 * 128;
      if (k_mins_per_16(type)) {
        sums[b * 16 + 2 * c] = d[b] * static_cast<float>(sum0);
        sums[b * 16 + 2 * c + 1] = d[b] * static_cast<float>(sum1);
      } else {  // Q4_K / Q5_K mins are per 32 values
        sums[b * 8 + c] = d[b] * static_cast<float>(sum0 + sum1);
      }
    }
  }
}

// ---- legacy types (blocks of 32) ------------------------------------------------------------

template <DType kType>
constexpr int64_t kLegacyBytes = legacy_block_bytes(kType);
// Decode prefetches one 64-byte line per this many blocks.
template <DType kType>
constexpr int64_t kPrefetchEvery = kType == DType::Q8_0 ? 2 : 4;

// Byte j = 0x10 where bit j of the 32 fifth bits at p is set (Q5_0 / Q5_1).
inline __m256i fifth_bits(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  // Byte j takes source byte j / 8 of the broadcast word, then tests its bit j % 8.
  __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                                  _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                   2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
  return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

// Unsigned bytes of one weight block for vpmaddubsw: Q8_0 |w| (-128 -> 0x80, read as 128), the
// others q in 0..15 / 0..31 (element j < 16 in the low nibble of qs[j], j >= 16 in the high
// nibble of qs[j - 16]; Q5 types add bit j of qh as bit 4).
template <DType kType>
inline __m256i legacy_unsigned(const uint8_t* block) {
  if constexpr (kType == DType::Q8_0) {
    return _mm256_abs_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2)));
  } else if constexpr (kType == DType::IQ4_NL) {
    return _mm256_abs_epi8(iq4_values(block + 2));
  } else if constexpr (kType == DType::MXFP4) {
    return _mm256_abs_epi8(mxfp4_values(block + 1));
  } else {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + legacy_qs_offset(kType)));
    __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(0x0f));
    if constexpr (legacy_five_bits(kType)) {
      q = _mm256_or_si256(q, fifth_bits(block + legacy_qh_offset(kType)));
    }
    return q;
  }
}

// a with the sign of the Q8_0 / IQ4_NL / MXFP4 weights (zero where w is 0); the other types keep a.
template <DType kType>
inline __m256i legacy_signed(__m256i a, const uint8_t* block) {
  if constexpr (kType == DType::Q8_0) {
    return _mm256_sign_epi8(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2)));
  } else if constexpr (kType == DType::IQ4_NL) {
    return _mm256_sign_epi8(a, iq4_values(block + 2));
  } else if constexpr (kType == DType::MXFP4) {
    return _mm256_sign_epi8(a, mxfp4_values(block + 1));
  }
  return a;
}

// int32 lanes of dot(u, s) = sum of u * s over each 4 bytes (bounds in the file comment).
inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// The fp16s at `first` and `first + bytes` (the same field of blocks 2p and 2p + 1) as
// [d0 d0 d1 d1 d0 d0 d1 d1] (the lanes of vphaddd below); a missing second block
// (second = false) gets 0.
inline __m256 pair_scales(const uint8_t* first, int64_t bytes, bool second) {
  uint32_t both =
      read_u16(first) | (second ? static_cast<uint32_t>(read_u16(first + bytes)) << 16 : 0u);
  __m128i h = _mm_shufflelo_epi16(_mm_cvtsi32_si128(static_cast<int>(both)), 0x50);
  return _mm256_cvtph_ps(_mm_unpacklo_epi64(h, h));
}

// MXFP4: the e8m0 scales of blocks 2p and 2p + 1 in pair_scales' lane order.
inline __m256 pair_scales_e8m0(const uint8_t* first, int64_t bytes, bool second) {
  const float d0 = e8m0_half(first[0]), d1 = second ? e8m0_half(first[bytes]) : 0.0f;
  return _mm256_setr_ps(d0, d0, d1, d1, d0, d0, d1, d1);
}

// One token's record (see the file comment for the legacy layout).
struct LegacyAct {
  const int8_t* q;
  const float* d;       // [n_pairs][8]
  const int32_t* bias;  // [n_pairs][8], Q4_0 / Q5_0 only
  const float* msum;    // [n_pairs][8], Q4_1 / Q5_1 only
};

inline LegacyAct legacy_act(const MatmulJob& job, int64_t t) {
  const uint8_t* rec = job.acts + t * job.layout.token_bytes;
  return {reinterpret_cast<const int8_t*>(rec),
          reinterpret_cast<const float*>(rec + job.layout.d_offset),
          reinterpret_cast<const int32_t*>(rec + job.layout.extra_offset),
          reinterpret_cast<const float*>(rec + job.layout.msum_offset)};
}

// Rows [r0, r0 + R) x tokens [t0, t0 + T): full dot products written to y. Per pair of blocks
// and (row, token): 2 x (vpsignb for Q8_0, vpmaddubsw, vpmaddwd), one vphaddd that puts both
// blocks' int32 sums in one register, then one cvt + mul + fma for both scales.
template <DType kType, int R, int T>
void legacy_tile(const MatmulJob& job, int64_t r0, int64_t t0) {
  constexpr int64_t kBytes = kLegacyBytes<kType>;
  const int64_t n_blocks = job.cols / kLegacyBlock;
  __m256 acc[R][T];
  for (auto& row : acc) {
    for (auto& v : row) v = _mm256_setzero_ps();
  }
  LegacyAct act[T];
  for (int t = 0; t < T; ++t) act[t] = legacy_act(job, t0 + t);
  const uint8_t* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = job.w + (r0 + r) * job.w_row_bytes;
  // Decode (and two tokens) is bound by memory: short rows prefetch the next tile at the same
  // offset, long rows kPrefetchAhead bytes along the same row.
  const int64_t ahead =
      R * job.w_row_bytes <= kPrefetchTileBytes ? R * job.w_row_bytes : kPrefetchAhead;
  // Blocks b and b + 1; kSecond false: b is an odd last block.
  auto pair = [&](int64_t b, auto second_tag) {
    constexpr bool kSecond = decltype(second_tag)::value;
    const uint8_t* blocks[R];
    __m256i u0[R], u1[R];
    __m256 d_w[R], m_w[R];
    for (int r = 0; r < R; ++r) {
      blocks[r] = rows[r] + b * kBytes;
      if constexpr (T <= 2) {
        if (b % kPrefetchEvery<kType> == 0) prefetch(blocks[r] + ahead);
      }
      u0[r] = legacy_unsigned<kType>(blocks[r]);
      u1[r] = kSecond ? legacy_unsigned<kType>(blocks[r] + kBytes) : _mm256_setzero_si256();
      d_w[r] = kType == DType::MXFP4 ? pair_scales_e8m0(blocks[r], kBytes, kSecond)
                                     : pair_scales(blocks[r], kBytes, kSecond);
      if constexpr (legacy_has_min(kType)) m_w[r] = pair_scales(blocks[r] + 2, kBytes, kSecond);
    }
    for (int t = 0; t < T; ++t) {
      // Record q is padded to a multiple of 64 values, so a1 is in bounds (zeros past cols).
      __m256i a0 =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[t].q + b * kLegacyBlock));
      __m256i a1 =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[t].q + b * kLegacyBlock + 32));
      if constexpr (R > 1) {
        in_register(a0);
        in_register(a1);
      }
      __m256 d_a = _mm256_loadu_ps(act[t].d + 4 * b);
      for (int r = 0; r < R; ++r) {
        __m256i dot0 = dot_u8s8(u0[r], legacy_signed<kType>(a0, blocks[r]));
        __m256i dot1 = kSecond ? dot_u8s8(u1[r], legacy_signed<kType>(a1, blocks[r] + kBytes))
                               : _mm256_setzero_si256();
        __m256i dot = _mm256_hadd_epi32(dot0, dot1);  // [b0 b0 b1 b1 | b0 b0 b1 b1]
        if constexpr (legacy_offset(kType) != 0) {
          dot = _mm256_add_epi32(
              dot, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[t].bias + 4 * b)));
        }
        acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(d_w[r], d_a), acc[r][t]);
        if constexpr (legacy_has_min(kType)) {  // + m * d_a * sum(a) per block
          acc[r][t] = _mm256_fmadd_ps(m_w[r], _mm256_loadu_ps(act[t].msum + 4 * b), acc[r][t]);
        }
      }
    }
  };
  int64_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) pair(b, std::true_type{});
  if (b < n_blocks) pair(b, std::false_type{});
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) job.y[(t0 + t) * job.y_stride + r0 + r] = hsum(acc[r][t]);
  }
}

// Tile of 2 rows x 4 tokens. Its 8 accumulators, 2 rows x (two blocks' unsigned weights,
// scales), a pair of activations and temporaries exceed the 16 ymm registers, so GCC keeps a
// few accumulators in L1 (a load and a store per pair); still as fast as or faster than 2 x 3
// (which fits) and 1 x 4-6 in alternating runs. Q8_0 reads w for vpsignb from L1.
constexpr int kLegacyRows = 2;
constexpr int kLegacyTokens = 4;

template <DType kType, int T>
void legacy_rows(const MatmulJob& job, int64_t r0, int64_t r1, int64_t t0) {
  int64_t r = r0;
  // One token (decode): one row at a time, so each thread reads its chunk of W as a single
  // sequential stream (several rows at once were slower in the AVX-512 kernels).
  if constexpr (T > 1) {
    for (; r + kLegacyRows <= r1; r += kLegacyRows) legacy_tile<kType, kLegacyRows, T>(job, r, t0);
  }
  for (; r < r1; ++r) legacy_tile<kType, 1, T>(job, r, t0);
}

template <DType kType>
void legacy_kernel(const MatmulJob& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  int64_t t = t0;
  for (; t + kLegacyTokens <= t1; t += kLegacyTokens) {
    legacy_rows<kType, kLegacyTokens>(job, r0, r1, t);
  }
  if (t == t1) return;
  // The 1 .. kLegacyTokens - 1 tokens left over.
  static constexpr void (*kTail[kLegacyTokens])(const MatmulJob&, int64_t, int64_t, int64_t) = {
      nullptr, legacy_rows<kType, 1>, legacy_rows<kType, 2>, legacy_rows<kType, 3>};
  kTail[t1 - t](job, r0, r1, t);
}

}  // namespace

PathKernels avx2_quant_kernels(DType w_type) {
  switch (w_type) {
    case DType::Q8_0:
      return {legacy_kernel<DType::Q8_0>, quantize_record};
    case DType::Q4_0:
      return {legacy_kernel<DType::Q4_0>, quantize_record};
    case DType::Q4_1:
      return {legacy_kernel<DType::Q4_1>, quantize_record};
    case DType::Q5_0:
      return {legacy_kernel<DType::Q5_0>, quantize_record};
    case DType::Q5_1:
      return {legacy_kernel<DType::Q5_1>, quantize_record};
    case DType::IQ4_NL:
      return {legacy_kernel<DType::IQ4_NL>, quantize_record};
    case DType::MXFP4:
      return {legacy_kernel<DType::MXFP4>, quantize_record};
    case DType::IQ4_XS:
    case DType::IQ2_XXS:
    case DType::IQ2_XS:
    case DType::IQ2_S:
    case DType::IQ3_XXS:
    case DType::IQ3_S:
    case DType::IQ1_S:
    case DType::IQ1_M:
    case DType::TQ1_0:
    case DType::TQ2_0:
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      return {avx2_k_kernel(w_type), quantize_record};
    default:
      return {};
  }
}

}  // namespace mx::matmul_detail
