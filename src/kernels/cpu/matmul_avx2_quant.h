// Helpers shared by the AVX2 integer matmul kernels (matmul_avx2_quant.cpp: activation
// quantizer, Q8_0 / Q4_0; matmul_avx2_quant_k.cpp: Q4_K / Q5_K / Q6_K). Include only from
// those AVX2 translation units: everything here has internal linkage, so no AVX2 code leaks
// into the portable part of the library (see src/kernels/CMakeLists.txt).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/matmul_internal.h"

namespace mx::matmul_detail {
namespace {  // NOLINT(google-build-namespaces): one copy per AVX2 TU, on purpose

// Decode (one or two tokens) prefetches the weights itself: the next tile for rows up to
// kPrefetchTileBytes, kPrefetchAhead bytes further along the row otherwise (the same distances
// as the AVX-512 kernels, matmul_avx512_quant.inc).
constexpr int64_t kPrefetchAhead = 1024;
constexpr int64_t kPrefetchTileBytes = 16384;

inline uint16_t read_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// The fp16 at p as a float in all 8 lanes.
inline __m256 broadcast_fp16(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(read_u16(p))));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Keeps v in a register at this point: GCC then neither folds the same L1 load into every
// instruction that uses v (once per row of a tile) nor reassociates an integer sum across it
// (it turned the chain iacc += madd(..) of a K tile into a tree of 8 live products per token,
// which spilled).
template <typename V>
inline void in_register(V& v) {
  asm("" : "+x"(v));
}

inline void prefetch(const uint8_t* p) {
  _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
}

// 16 bytes of nibble-packed codes (element j < 16 in the low nibble of x[j], j >= 16 in the
// high nibble of x[j - 16]) as their 32 signed values from a 16-entry table (in both lanes).
inline __m256i nibble_values(const uint8_t* p, __m256i table) {
  __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  __m256i codes =
      _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(0x0f));
  return _mm256_shuffle_epi8(table, codes);
}

// IQ4_NL / IQ4_XS: the codes as their signed grid values (quant::kIq4Values).
inline __m256i iq4_values(const uint8_t* p) {
  return nibble_values(p, _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38,
                                           53, 69, 89, 113, -127, -104, -83, -65, -49, -35, -22,
                                           -10, 1, 13, 25, 38, 53, 69, 89, 113));
}

// MXFP4: the codes as doubled e2m1 values (quant::kMxfp4Values).
inline __m256i mxfp4_values(const uint8_t* p) {
  return nibble_values(
      p, _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12, 0, 1, 2, 3, 4, 6,
                          8, 12, 0, -1, -2, -3, -4, -6, -8, -12));
}

// MXFP4's block scale 2^(e - 128) (quant::e8m0_to_fp32_half, here for the AVX2 files).
inline float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

}  // namespace

// The Q4_K / Q5_K / Q6_K kernel of the AVX2 path (matmul_avx2_quant_k.cpp); nullptr for
// other types. avx2_quant_kernels() pairs it with the AVX2 activation quantizer.
MatmulKernel avx2_k_kernel(DType w_type);

}  // namespace mx::matmul_detail
