// A thin f32 vector type for the SIMD translation units of the elementwise kernels (norm,
// activations, attention). Include it only from a *_avx2.cpp or *_avx512.cpp file after
// defining MX_VEC_WIDTH to 8 (AVX2 + FMA + F16C) or 16 (AVX-512 F/BW/VL); the same kernel source
// (an .inc file) then compiles once per path. Everything here is internal linkage, so no SIMD
// code leaks into the portable part of the library.
#pragma once

// GCC 12's AVX-512 headers start some intrinsics (reductions, masked converts) from
// _mm512_undefined_*(), which -Wmaybe-uninitialized flags once inlined: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <cstdint>

#ifndef MX_VEC_WIDTH
#error "define MX_VEC_WIDTH (8 or 16) before including simd_vec.h"
#endif

namespace mx {
namespace {  // NOLINT(google-build-namespaces): one copy per path TU, on purpose

#if MX_VEC_WIDTH == 16
using VecF = __m512;
constexpr int kLanes = 16;
inline VecF vzero() { return _mm512_setzero_ps(); }
inline VecF vset1(float v) { return _mm512_set1_ps(v); }
inline VecF vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, VecF v) { _mm512_storeu_ps(p, v); }
// First n (< kLanes) lanes from p, the rest zero; never touches memory past p + n.
inline VecF vload_part(const float* p, int n) {
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
}
inline void vstore_part(float* p, VecF v, int n) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
}
inline VecF vload_f16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline VecF vadd(VecF a, VecF b) { return _mm512_add_ps(a, b); }
inline VecF vsub(VecF a, VecF b) { return _mm512_sub_ps(a, b); }
inline VecF vmul(VecF a, VecF b) { return _mm512_mul_ps(a, b); }
inline VecF vdiv(VecF a, VecF b) { return _mm512_div_ps(a, b); }
inline VecF vmax(VecF a, VecF b) { return _mm512_max_ps(a, b); }
inline VecF vfma(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a, b, c); }
inline float vsum(VecF v) { return _mm512_reduce_add_ps(v); }
inline float vhmax(VecF v) { return _mm512_reduce_max_ps(v); }
// 2^n for integral-valued float n in [-126, 127].
inline VecF vpow2i(VecF n) {
  __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_castsi512_ps(bits);
}
inline VecF vround(VecF v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT); }
// Lanes where a < b get `value`, others keep v.
inline VecF vselect_lt(VecF a, VecF b, VecF value, VecF v) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), v, value);
}
#elif MX_VEC_WIDTH == 8
using VecF = __m256;
constexpr int kLanes = 8;
inline VecF vzero() { return _mm256_setzero_ps(); }
inline VecF vset1(float v) { return _mm256_set1_ps(v); }
inline VecF vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, VecF v) { _mm256_storeu_ps(p, v); }
inline __m256i part_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline VecF vload_part(const float* p, int n) { return _mm256_maskload_ps(p, part_mask(n)); }
inline void vstore_part(float* p, VecF v, int n) { _mm256_maskstore_ps(p, part_mask(n), v); }
inline VecF vload_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline VecF vadd(VecF a, VecF b) { return _mm256_add_ps(a, b); }
inline VecF vsub(VecF a, VecF b) { return _mm256_sub_ps(a, b); }
inline VecF vmul(VecF a, VecF b) { return _mm256_mul_ps(a, b); }
inline VecF vdiv(VecF a, VecF b) { return _mm256_div_ps(a, b); }
inline VecF vmax(VecF a, VecF b) { return _mm256_max_ps(a, b); }
inline VecF vfma(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a, b, c); }
inline float vsum(VecF v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float vhmax(VecF v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline VecF vpow2i(VecF n) {
  __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_castsi256_ps(bits);
}
inline VecF vround(VecF v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline VecF vselect_lt(VecF a, VecF b, VecF value, VecF v) {
  return _mm256_blendv_ps(v, value, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
}
#else
#error "MX_VEC_WIDTH must be 8 or 16"
#endif

// e^x to about 2 ulp for x in [-87, 88]; 0 below -87.3 (so -inf gives 0), clamped to e^88.3 above.
// Range reduction x = n ln2 + r, |r| <= ln2 / 2 (ln2 split in two for accuracy), then a degree-6
// Taylor polynomial for e^r (error < 2e-7 relative) scaled by 2^n.
inline VecF vexp(VecF x) {
  const VecF lo_limit = vset1(-87.3f);
  VecF xc = vmax(x, lo_limit);
  xc = vselect_lt(vset1(88.3f), xc, vset1(88.3f), xc);  // min(x, 88.7)
  VecF n = vround(vmul(xc, vset1(1.44269504089f)));
  VecF r = vfma(n, vset1(-0.693145751953125f), xc);  // ln2 high part (exact in 16 bits)
  r = vfma(n, vset1(-1.428606765330187e-06f), r);    // ln2 low part
  VecF p = vset1(1.0f / 720.0f);
  p = vfma(p, r, vset1(1.0f / 120.0f));
  p = vfma(p, r, vset1(1.0f / 24.0f));
  p = vfma(p, r, vset1(1.0f / 6.0f));
  p = vfma(p, r, vset1(0.5f));
  p = vfma(p, r, vset1(1.0f));
  p = vfma(p, r, vset1(1.0f));
  VecF result = vmul(p, vpow2i(n));
  return vselect_lt(x, lo_limit, vzero(), result);
}

}  // namespace
}  // namespace mx
