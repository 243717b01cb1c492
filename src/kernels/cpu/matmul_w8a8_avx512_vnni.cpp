// W8A8 kernels of the AVX-512 VNNI path. vpdpbusd multiplies unsigned by signed bytes, so the
// activations enter as q + 128 and each row's bias -128 * sum(w) (matmul_prepare_aux, or summed
// per call without it) takes the offset back out:
//   sum_c (q + 128) w + bias = sum_c q w        exactly, in int32 (|lane| < 255 * 127 * 65536)
//
// GEMV (few tokens): one row at a time (a single sequential stream), one vpdpbusd per 64 columns.
// GEMM (prefill, batches of decodes): tokens in the lanes as in matmul_lanes_avx512_vnni.cpp:
// a zmm holds 16 tokens x 4 consecutive columns (interleaved once per call) and 4 bytes of a
// weight row are a {1to16} broadcast operand, so 8 rows x 32 tokens accumulate in 16 zmm over
// the whole row with no float work at all until the end: per-row scale times per-token scale is
// one multiply per tile, where Q8_0 needs a convert and two float ops per 32 columns per row.
// The weights are read in place (int8 rows as the file stores them).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/matmul_avx512_transpose.h"
#include "kernels/cpu/matmul_w8a8.h"

namespace mx::w8a8 {
namespace {

constexpr int kTileRows = 8;

// acc += dpbusd(a, broadcast of the 4 bytes at w), the broadcast folded into the instruction.
inline __m512i dpbusd_bcast(__m512i acc, __m512i a, const int8_t* w) {
  asm("vpdpbusd %2%{1to16%}, %1, %0"
      : "+v"(acc)
      : "v"(a), "m"(*reinterpret_cast<const int32_t*>(w)));
  return acc;
}

// Mask of the valid bytes of the 64-column step at c (cols is a multiple of 32).
inline __mmask64 cols_mask(int64_t cols, int64_t c) {
  return cols - c >= 64 ? ~__mmask64{0} : (__mmask64{1} << (cols - c)) - 1;
}

// -128 * sum of a row's weights, when no aux data was prepared.
int32_t row_bias(const int8_t* w, int64_t cols) {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i acc = _mm512_setzero_si512();
  for (int64_t c = 0; c < cols; c += 64) {
    acc = _mm512_dpbusd_epi32(acc, ones, _mm512_maskz_loadu_epi8(cols_mask(cols, c), w + c));
  }
  return -128 * _mm512_reduce_add_epi32(acc);
}

// Decode streams W once from DRAM, one row after the other: rows are contiguous, so the loads
// form one sequential stream, which the hardware prefetcher follows (taking 2 or 4 rows at a
// time made 2-4 interleaved streams inside each 4 KiB page, 1 KiB apart, and halved the
// bandwidth: bench_kernels GEMV 8-11 GB/s vs 15-20 GB/s). A software prefetch 4 KiB ahead in
// the same stream covers the start of each chunk.
constexpr int64_t kPrefetchAhead = 4096;

void gemv_row(const Job& job, int64_t r, int64_t t0, int64_t t1) {
  const int8_t* w = job.w + r * job.cols;
  const int32_t bias = job.w_bias ? job.w_bias[r] : row_bias(w, job.cols);
  const __m512i offset = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t t = t0; t < t1; ++t) {
    const int8_t* q = job.token_q(t);
    __m512i acc = _mm512_setzero_si512();
    int64_t c = 0;
    for (; c + 64 <= job.cols; c += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(w + c + kPrefetchAhead), _MM_HINT_T0);
      const __m512i a = _mm512_xor_si512(_mm512_loadu_si512(q + c), offset);
      acc = _mm512_dpbusd_epi32(acc, a, _mm512_loadu_si512(w + c));
    }
    if (c < job.cols) {  // 32 columns left: the record's zero padding meets masked-off weights
      const __m512i a = _mm512_xor_si512(_mm512_loadu_si512(q + c), offset);
      acc = _mm512_dpbusd_epi32(acc, a, _mm512_maskz_loadu_epi8(cols_mask(job.cols, c), w + c));
    }
    const int32_t dot = _mm512_reduce_add_epi32(acc) + bias;
    job.y[t * job.y_stride + r] = static_cast<float>(dot) * (job.w_scale[r] * job.token_d(t));
  }
}

void gemv(const Job& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t r = r0; r < r1; ++r) gemv_row(job, r, t0, t1);
}

// 8 rows x 2 groups of 16 tokens over all columns, into y: 16 accumulators, each weight
// broadcast feeding two vpdpbusd. (16 rows x 16 tokens needed 16 row pointers, more than the
// general registers: GCC parked them in xmm registers and moved one back before every
// vpdpbusd, which cost a third of the kernel.) g1 == g0 when there is no second group: then it
// is computed and not stored. Rows past nr are computed, not stored.
void gemm_tile(const Job& job, const int8_t* const w[kTileRows], const __m512 row_scale[kTileRows],
               const __m512i row_bias[kTileRows], int64_t rb, int nr, int64_t g0, int64_t g1,
               int64_t t1) {
  const uint8_t* a0 = job.lanes + g0 * job.group_bytes;
  const uint8_t* a1 = job.lanes + g1 * job.group_bytes;
  __m512i acc[2 * kTileRows];
  for (int r = 0; r < kTileRows; ++r) acc[r] = acc[kTileRows + r] = row_bias[r];
  for (int64_t j = 0; j < job.cols / 4; ++j) {
    const __m512i x0 = _mm512_loadu_si512(a0 + 64 * j);
    const __m512i x1 = _mm512_loadu_si512(a1 + 64 * j);
    for (int r = 0; r < kTileRows; ++r) {
      acc[r] = dpbusd_bcast(acc[r], x0, w[r] + 4 * j);
      acc[kTileRows + r] = dpbusd_bcast(acc[kTileRows + r], x1, w[r] + 4 * j);
    }
  }
  const __m512 d0 = _mm512_loadu_ps(reinterpret_cast<const float*>(a0 + 16 * job.cols));
  const __m512 d1 = _mm512_loadu_ps(reinterpret_cast<const float*>(a1 + 16 * job.cols));
  __m512 f[2 * kTileRows], out[2 * kTileRows];
  for (int r = 0; r < kTileRows; ++r) {
    f[r] = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r]), _mm512_mul_ps(row_scale[r], d0));
    f[kTileRows + r] =
        _mm512_mul_ps(_mm512_cvtepi32_ps(acc[kTileRows + r]), _mm512_mul_ps(row_scale[r], d1));
  }
  // out[t]: lanes 0-7 = rows of token t of g0, lanes 8-15 = rows of token t of g1.
  matmul_detail::transpose16(f, out);
  const __mmask16 row_mask = static_cast<__mmask16>((1u << nr) - 1);
  const int64_t n0 = std::min<int64_t>(kGroupTokens, t1 - g0 * kGroupTokens);
  const int64_t n1 = g1 == g0 ? 0 : std::min<int64_t>(kGroupTokens, t1 - g1 * kGroupTokens);
  for (int64_t t = 0; t < n0; ++t) {
    _mm512_mask_storeu_ps(job.y + (g0 * kGroupTokens + t) * job.y_stride + rb, row_mask, out[t]);
  }
  for (int64_t t = 0; t < n1; ++t) {
    float* y = job.y + (g1 * kGroupTokens + t) * job.y_stride + rb;
    // Lanes 8..8+nr of out[t] to y[0..nr): compress them down with the mask.
    _mm512_mask_storeu_ps(y - 8, static_cast<__mmask16>(row_mask << 8), out[t]);
  }
}

// Rows 8 at a time; every pair of token groups against them, so a tile's weights (8 x cols
// bytes) stay in L1/L2 while the interleaved activations stream.
void gemm(const Job& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t rb = r0; rb < r1; rb += kTileRows) {
    const int nr = static_cast<int>(std::min<int64_t>(kTileRows, r1 - rb));
    const int8_t* w[kTileRows];
    __m512 row_scale[kTileRows];
    __m512i bias[kTileRows];
    for (int r = 0; r < kTileRows; ++r) {
      const int64_t row = rb + (r < nr ? r : 0);  // past the end: repeat row rb, never stored
      w[r] = job.w + row * job.cols;
      row_scale[r] = _mm512_set1_ps(job.w_scale[row]);
      bias[r] = _mm512_set1_epi32(job.w_bias ? job.w_bias[row] : row_bias(w[r], job.cols));
    }
    const int64_t g_end = (t1 + kGroupTokens - 1) / kGroupTokens;
    for (int64_t g = t0 / kGroupTokens; g < g_end; g += 2) {
      gemm_tile(job, w, row_scale, bias, rb, nr, g, std::min(g + 1, g_end - 1), t1);
    }
  }
}

// Group tg's interleaved activations (q + 128) and scales from the per-token records.
void interleave(const Job& job, int64_t tg, int64_t n_tokens) {
  auto* grp = const_cast<uint8_t*>(job.lanes) + tg * job.group_bytes;
  auto* a = reinterpret_cast<uint32_t*>(grp);
  auto* d = reinterpret_cast<float*>(grp + 16 * job.cols);
  const int64_t n_steps = job.cols / 4;
  for (int64_t t = 0; t < kGroupTokens; ++t) {
    const int64_t token = tg * kGroupTokens + t;
    if (token >= n_tokens) {  // padding token: q = 0, scale 0
      for (int64_t j = 0; j < n_steps; ++j) a[j * 16 + t] = 0x80808080u;
      d[t] = 0.0f;
      continue;
    }
    const int8_t* q = job.token_q(token);
    for (int64_t j = 0; j < n_steps; ++j) {
      uint32_t v;
      std::memcpy(&v, q + 4 * j, 4);
      a[j * 16 + t] = v ^ 0x80808080u;
    }
    d[t] = job.token_d(token);
  }
}

}  // namespace

Kernels avx512_vnni_kernels() {
  Kernels k = avx2_kernels();  // the quantizer
  k.gemv = gemv;
  k.gemm = gemm;
  k.interleave = interleave;
  k.wants_bias = true;
  return k;
}

}  // namespace mx::w8a8
