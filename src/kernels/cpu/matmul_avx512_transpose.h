// A 16 x 16 float transpose in zmm registers, shared by the AVX-512 lanes kernels (tokens in
// the lanes, rows in registers -> one 64-byte store of 16 rows per token). Include only from
// files compiled with AVX-512 flags; kept in an anonymous namespace so each such file has its
// own copy and no SIMD code is reachable from another path.
#pragma once

#include <immintrin.h>

namespace mx::matmul_detail {
namespace {

// 16 x 16 transpose: in[r] lane t -> out[t] lane r.
[[maybe_unused]] inline void transpose16(const __m512 in[16], __m512 out[16]) {
  __m512 a[16], b[16];
  for (int i = 0; i < 16; i += 2) {
    a[i] = _mm512_unpacklo_ps(in[i], in[i + 1]);
    a[i + 1] = _mm512_unpackhi_ps(in[i], in[i + 1]);
  }
  // a[i]: rows i, i + 1 interleaved at tokens 0, 1 of each 128-bit lane; a[i + 1] at 2, 3.
  for (int i = 0; i < 16; i += 4) {
    for (int k = 0; k < 2; ++k) {
      b[i + 2 * k] = _mm512_shuffle_ps(a[i + k], a[i + 2 + k], _MM_SHUFFLE(1, 0, 1, 0));
      b[i + 2 * k + 1] = _mm512_shuffle_ps(a[i + k], a[i + 2 + k], _MM_SHUFFLE(3, 2, 3, 2));
    }
  }
  // b[4q + j]: rows 4q..4q+3 at token j of each 128-bit lane (tokens j, 4 + j, 8 + j, 12 + j).
  for (int i = 0; i < 16; i += 8) {
    for (int k = 0; k < 4; ++k) {
      a[i + k] = _mm512_shuffle_f32x4(b[i + k], b[i + 4 + k], _MM_SHUFFLE(2, 0, 2, 0));
      a[i + 4 + k] = _mm512_shuffle_f32x4(b[i + k], b[i + 4 + k], _MM_SHUFFLE(3, 1, 3, 1));
    }
  }
  for (int k = 0; k < 8; ++k) {
    out[k] = _mm512_shuffle_f32x4(a[k], a[8 + k], _MM_SHUFFLE(2, 0, 2, 0));
    out[k + 8] = _mm512_shuffle_f32x4(a[k], a[8 + k], _MM_SHUFFLE(3, 1, 3, 1));
  }
}

}  // namespace
}  // namespace mx::matmul_detail
