#include "core/half.h"

namespace mx {

// fp16 layout: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
// fp32 layout: 1 sign bit, 8 exponent bits (bias 127), 23 mantissa bits.

float fp16_to_fp32(uint16_t half) {
  uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f) {  // Inf or NaN: all-ones exponent, payload shifted up
    return float_from_bits(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    if (mantissa == 0) return float_from_bits(sign);  // +-0
    // Subnormal: value = mantissa * 2^-24, exact in float32.
    float magnitude = static_cast<float>(mantissa) * float_from_bits(0x33800000u);  // 2^-24
    return float_from_bits(sign | float_bits(magnitude));
  }
  return float_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));  // 112 = 127 - 15
}

uint16_t fp32_to_fp16(float value) {
  uint32_t bits = float_bits(value);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) {  // NaN: keep the top payload bits, force quiet
    return static_cast<uint16_t>(sign | 0x7e00u | ((abs_bits >> 13) & 0x3ffu));
  }
  if (abs_bits >= 0x477ff000u) {  // >= 65520 rounds past 65504 (largest finite): Inf
    return static_cast<uint16_t>(sign | 0x7c00u);
  }
  if (abs_bits < 0x38800000u) {  // below 2^-14: subnormal or zero
    // Result = round_half_even(|value| / 2^-24) subnormal units (1024 means the smallest
    // normal, which the bit pattern then encodes correctly). Adding 0.5f makes the FPU round:
    // in [0.5, 1) one float ulp is exactly 2^-24, so the sum's low bits are the count.
    float magnitude = float_from_bits(abs_bits);
    float biased = magnitude + 0.5f;
    return static_cast<uint16_t>(sign | (float_bits(biased) - float_bits(0.5f)));
  }
  // Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even.
  uint32_t rebased = abs_bits - (112u << 23);
  uint32_t rounding = 0xfffu + ((rebased >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rebased + rounding) >> 13));
}

}  // namespace mx
