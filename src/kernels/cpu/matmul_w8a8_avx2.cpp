// W8A8 kernels of the AVX2 path (also used on AVX-512 CPUs without VNNI): the per-token
// quantizer and a dot-product kernel for every token count. vpmaddubsw multiplies unsigned by
// signed bytes, so each weight's sign moves onto the activation (|w| * sign(q, w)); the int16
// pair sums stay below 2 * 128 * 127 < 2^15, so nothing saturates.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/matmul_w8a8.h"

namespace mx::w8a8 {
namespace {

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// Same operations as quantize_token_scalar: amax, x * (127 / amax), round half to even.
void quantize_token(const float* x, int64_t cols, uint8_t* record) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 vmax = _mm256_setzero_ps();
  for (int64_t c = 0; c < cols; c += 8) {
    vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_loadu_ps(x + c), abs_mask));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmax);
  float amax = 0.0f;
  for (float v : lanes) amax = v > amax ? v : amax;
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  const __m256 vinv = _mm256_set1_ps(inv);
  auto* q = reinterpret_cast<int8_t*>(record);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t c = 0; c < cols; c += 32) {
    __m256i i[4];
    for (int k = 0; k < 4; ++k) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + c + 8 * k), vinv);
      i[k] = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // packs works per 128-bit lane: 32-bit groups come out as 0,2,4,6,1,3,5,7 -> reorder.
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + c), _mm256_permutevar8x32_epi32(p, order));
  }
  std::memset(q + cols, 0, static_cast<size_t>(act_cols_pad(cols) - cols));
  const float d = amax / 127.0f;
  std::memcpy(record + act_cols_pad(cols), &d, sizeof d);
}

template <int kRows>
void dot_rows(const Job& job, int64_t r, int64_t t) {
  const int8_t* q = job.token_q(t);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[kRows];
  for (int i = 0; i < kRows; ++i) acc[i] = _mm256_setzero_si256();
  for (int64_t c = 0; c < job.cols; c += 32) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + c));
    for (int i = 0; i < kRows; ++i) {
      __m256i w =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(job.w + (r + i) * job.cols + c));
      __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
      acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(p, ones));
    }
  }
  const float d = job.token_d(t);
  for (int i = 0; i < kRows; ++i) {
    job.y[t * job.y_stride + r + i] =
        static_cast<float>(hsum_epi32(acc[i])) * (job.w_scale[r + i] * d);
  }
}

// One row at a time: the weights are then one sequential stream for the hardware prefetcher
// (rows 1 KiB apart read side by side halved decode bandwidth on the VNNI path); with few
// tokens the loop over them is inside, so the row is read from L1 after the first.
// Many tokens (prefill on this path): 4 rows share each activation load.
void gemv(const Job& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  int64_t r = r0;
  if (t1 - t0 >= kGemmMinTokens) {
    for (; r + 4 <= r1; r += 4) {
      for (int64_t t = t0; t < t1; ++t) dot_rows<4>(job, r, t);
    }
  }
  for (; r < r1; ++r) {
    for (int64_t t = t0; t < t1; ++t) dot_rows<1>(job, r, t);
  }
}

}  // namespace

Kernels avx2_kernels() {
  Kernels k;
  k.gemv = gemv;
  k.quantize = quantize_token;
  return k;
}

}  // namespace mx::w8a8
