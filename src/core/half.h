// Half-precision conversions: IEEE binary16 (fp16) and bfloat16 (bf16) <-> float32.
//
// Both directions are exact where the value is representable and otherwise round to nearest,
// ties to even, like the hardware instructions (F16C vcvtps2ph, AVX512-BF16 vcvtneps2bf16):
//  - fp16: overflow becomes +-Inf, tiny values become subnormals or +-0, NaN stays NaN (quiet,
//    top payload bits kept);
//  - bf16: the top 16 bits of the float after rounding; NaN is kept quiet (never rounds to Inf).
// Plain scalar code with no dependencies: kernels and file loaders both use it.
#pragma once

#include <cstdint>
#include <cstring>

namespace mx {

inline uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

inline float float_from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

float fp16_to_fp32(uint16_t half);
uint16_t fp32_to_fp16(float value);

inline float bf16_to_fp32(uint16_t bf16) { return float_from_bits(uint32_t{bf16} << 16); }

inline uint16_t fp32_to_bf16(float value) {
  uint32_t bits = float_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // NaN: keep sign/payload, force quiet
  }
  // Round to nearest even: add 0x7fff plus the lowest kept bit, then truncate.
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

}  // namespace mx
