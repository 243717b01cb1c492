// K types: super-blocks of 256 elements split into 8 or 16 sub-blocks, each with a small integer
// scale (and min) that is itself scaled by the fp16 super-block scale d (and dmin).
// Layouts: quant_blocks.h. Dequantizers follow the element-index formulas written there;
// quantizers fit each sub-block (quant_fit.h), quantize the sub-block scales, then re-round
// every element with the scales actually stored.
#include <cmath>

#include "core/half.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quant_fit.h"
#include "kernels/cpu/quants.h"

namespace mx::quant {
namespace {

// --- element positions ------------------------------------------------------------------

// Q2_K/Q3_K: the byte of qs holding the 2 low bits of element i, and their shift.
int q2_byte(int i) { return 32 * (i / 128) + i % 32; }
int q2_shift(int i) { return 2 * ((i / 32) % 4); }

// Q4_K/Q5_K: the 4 low bits of element i (sub-block i / 32).
int q4k_byte(int i) { return 32 * (i / 64) + i % 32; }
int q4k_shift(int i) { return ((i / 32) % 2) * 4; }

// Q6_K: element i = 128 * half + 32 * group + l.
int q6_low_byte(int i) { return 64 * (i / 128) + i % 32 + 32 * (((i % 128) / 32) % 2); }
int q6_low_shift(int i) { return ((i % 128) / 32) < 2 ? 0 : 4; }
int q6_high_byte(int i) { return 32 * (i / 128) + i % 32; }
int q6_high_shift(int i) { return 2 * ((i % 128) / 32); }

// --- packed sub-block scales ------------------------------------------------------------

// Q4_K/Q5_K: 8 six-bit scales and mins in 12 bytes. Sub-blocks 0-3 sit in the low 6 bits of
// bytes 0-3 (scale) and 4-7 (min); sub-blocks 4-7 keep their low 4 bits in bytes 8-11 (scale
// low nibble, min high nibble) and their top 2 bits in the spare top bits of bytes 0-7.
void unpack_scale_min_k4(const uint8_t* packed, int sub, int* scale, int* min) {
  if (sub < 4) {
    *scale = packed[sub] & 63;
    *min = packed[sub + 4] & 63;
  } else {
    *scale = (packed[sub + 4] & 0x0f) | ((packed[sub - 4] >> 6) << 4);
    *min = (packed[sub + 4] >> 4) | ((packed[sub] >> 6) << 4);
  }
}

void pack_scale_min_k4(const int* scales, const int* mins, uint8_t* packed) {
  for (int k = 0; k < 12; ++k) packed[k] = 0;
  for (int sub = 0; sub < 8; ++sub) {
    if (sub < 4) {
      packed[sub] |= static_cast<uint8_t>(scales[sub]);
      packed[sub + 4] |= static_cast<uint8_t>(mins[sub]);
    } else {
      packed[sub + 4] = static_cast<uint8_t>((scales[sub] & 0x0f) | ((mins[sub] & 0x0f) << 4));
      packed[sub - 4] |= static_cast<uint8_t>((scales[sub] >> 4) << 6);
      packed[sub] |= static_cast<uint8_t>((mins[sub] >> 4) << 6);
    }
  }
}

// Q3_K: 16 six-bit scales (biased by +32) in 12 bytes. Low 4 bits: bytes 0-7, low nibble for
// sub-blocks 0-7 and high nibble for 8-15; top 2 bits: byte 8 + sub % 4 at bit 2 * (sub / 4).
int unpack_scale_q3k(const uint8_t* packed, int sub) {
  int low = sub < 8 ? packed[sub] & 0x0f : packed[sub - 8] >> 4;
  int high = (packed[8 + sub % 4] >> (2 * (sub / 4))) & 3;
  return (low | (high << 4)) - 32;
}

void pack_scales_q3k(const int* scales, uint8_t* packed) {
  for (int k = 0; k < 12; ++k) packed[k] = 0;
  for (int sub = 0; sub < 16; ++sub) {
    int biased = scales[sub] + 32;  // [0, 63]
    packed[sub < 8 ? sub : sub - 8] |= static_cast<uint8_t>((biased & 0x0f) << (sub < 8 ? 0 : 4));
    packed[8 + sub % 4] |= static_cast<uint8_t>((biased >> 4) << (2 * (sub / 4)));
  }
}

// --- two-level fits ---------------------------------------------------------------------

// Affine sub-blocks (Q2_K, Q4_K, Q5_K): x ~ (d * scale[s]) * q - (dmin * min[s]),
// q in [0, qmax], scale/min in [0, scale_max].
struct AffineSuperBlock {
  uint16_t d = 0, dmin = 0;
  int scales[16] = {};
  int mins[16] = {};
  int q[kSuperBlock] = {};
};

AffineSuperBlock fit_affine_super_block(const float* x, int sub_size, int qmax, int scale_max) {
  int n_sub = kSuperBlock / sub_size;
  AffineFit fits[16];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int s = 0; s < n_sub; ++s) {
    fits[s] = fit_affine(x + s * sub_size, sub_size, qmax, /*min_at_most_zero=*/true);
    max_scale = std::fmax(max_scale, fits[s].scale);
    max_min = std::fmax(max_min, -fits[s].min);
  }
  AffineSuperBlock out;
  out.d = to_fp16_scale(max_scale / static_cast<float>(scale_max));
  out.dmin = to_fp16_scale(max_min / static_cast<float>(scale_max));
  float d = fp16_to_fp32(out.d), dmin = fp16_to_fp32(out.dmin);
  for (int s = 0; s < n_sub; ++s) {
    out.scales[s] = d > 0.0f ? clamp_round(fits[s].scale / d, 0, scale_max) : 0;
    out.mins[s] = dmin > 0.0f ? clamp_round(-fits[s].min / dmin, 0, scale_max) : 0;
    float step = d * static_cast<float>(out.scales[s]);
    float offset = dmin * static_cast<float>(out.mins[s]);
    for (int i = s * sub_size; i < (s + 1) * sub_size; ++i) {
      out.q[i] = step > 0.0f ? clamp_round((x[i] + offset) / step, 0, qmax) : 0;
    }
  }
  return out;
}

// Symmetric sub-blocks (Q3_K, Q6_K): x ~ (d * scale[s]) * q, q in [qmin, qmax], scale in
// [scale_min, scale_max] (signed).
struct SymmetricSuperBlock {
  uint16_t d = 0;
  int scales[16] = {};
  int q[kSuperBlock] = {};
};

SymmetricSuperBlock fit_symmetric_super_block(const float* x, int qmin, int qmax, int scale_min,
                                              int scale_max) {
  constexpr int kSub = 16, kSubSize = 16;
  float sub_scales[kSub];
  float extreme = 0.0f;  // the sub-block scale of largest magnitude, with its sign
  for (int s = 0; s < kSub; ++s) {
    sub_scales[s] = fit_symmetric(x + s * kSubSize, kSubSize, qmin, qmax);
    if (std::fabs(sub_scales[s]) > std::fabs(extreme)) extreme = sub_scales[s];
  }
  SymmetricSuperBlock out;
  out.d = to_fp16_scale(extreme / static_cast<float>(scale_min));
  float d = fp16_to_fp32(out.d);
  for (int s = 0; s < kSub; ++s) {
    out.scales[s] = d != 0.0f ? clamp_round(sub_scales[s] / d, scale_min, scale_max) : 0;
    float step = d * static_cast<float>(out.scales[s]);
    for (int i = s * kSubSize; i < (s + 1) * kSubSize; ++i) {
      out.q[i] = step != 0.0f ? clamp_round(x[i] / step, qmin, qmax) : 0;
    }
  }
  return out;
}

}  // namespace

// --- dequantize -------------------------------------------------------------------------

void dequantize_q2_k(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kSuperBlock) {
    auto block = load_block<BlockQ2_K>(src, b);
    float d = fp16_to_fp32(block.d), dmin = fp16_to_fp32(block.dmin);
    for (int i = 0; i < kSuperBlock; ++i) {
      int packed_scale = block.scales[i / 16];
      float step = d * static_cast<float>(packed_scale & 0x0f);
      float offset = dmin * static_cast<float>(packed_scale >> 4);
      int q = (block.qs[q2_byte(i)] >> q2_shift(i)) & 3;
      dst[i] = scaled_plus(step, q, -offset);
    }
  }
}

void dequantize_q3_k(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kSuperBlock) {
    auto block = load_block<BlockQ3_K>(src, b);
    float d = fp16_to_fp32(block.d);
    for (int i = 0; i < kSuperBlock; ++i) {
      float step = d * static_cast<float>(unpack_scale_q3k(block.scales, i / 16));
      int low = (block.qs[q2_byte(i)] >> q2_shift(i)) & 3;
      int high_set = (block.hmask[i % 32] >> (i / 32)) & 1;
      dst[i] = step * static_cast<float>(low - (high_set ? 0 : 4));
    }
  }
}

void dequantize_q4_k(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kSuperBlock) {
    auto block = load_block<BlockQ4_K>(src, b);
    float d = fp16_to_fp32(block.d), dmin = fp16_to_fp32(block.dmin);
    for (int i = 0; i < kSuperBlock; ++i) {
      int scale, min;
      unpack_scale_min_k4(block.scales, i / 32, &scale, &min);
      float step = d * static_cast<float>(scale), offset = dmin * static_cast<float>(min);
      int q = (block.qs[q4k_byte(i)] >> q4k_shift(i)) & 0x0f;
      dst[i] = scaled_plus(step, q, -offset);
    }
  }
}

void dequantize_q5_k(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kSuperBlock) {
    auto block = load_block<BlockQ5_K>(src, b);
    float d = fp16_to_fp32(block.d), dmin = fp16_to_fp32(block.dmin);
    for (int i = 0; i < kSuperBlock; ++i) {
      int scale, min;
      unpack_scale_min_k4(block.scales, i / 32, &scale, &min);
      float step = d * static_cast<float>(scale), offset = dmin * static_cast<float>(min);
      int q = ((block.qs[q4k_byte(i)] >> q4k_shift(i)) & 0x0f) |
              (((block.qh[i % 32] >> (i / 32)) & 1) << 4);
      dst[i] = scaled_plus(step, q, -offset);
    }
  }
}

void dequantize_q6_k(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kSuperBlock) {
    auto block = load_block<BlockQ6_K>(src, b);
    float d = fp16_to_fp32(block.d);
    for (int i = 0; i < kSuperBlock; ++i) {
      float step = d * static_cast<float>(block.scales[i / 16]);
      int q = ((block.ql[q6_low_byte(i)] >> q6_low_shift(i)) & 0x0f) |
              (((block.qh[q6_high_byte(i)] >> q6_high_shift(i)) & 3) << 4);
      dst[i] = step * static_cast<float>(q - 32);
    }
  }
}

void dequantize_q8_k(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kSuperBlock) {
    auto block = load_block<BlockQ8_K>(src, b);
    for (int i = 0; i < kSuperBlock; ++i) dst[i] = block.d * static_cast<float>(block.qs[i]);
  }
}

// --- quantize ---------------------------------------------------------------------------

void quantize_q2_k(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kSuperBlock) {
    AffineSuperBlock fit = fit_affine_super_block(src, 16, 3, 15);
    BlockQ2_K block{};
    block.d = fit.d;
    block.dmin = fit.dmin;
    for (int s = 0; s < 16; ++s)
      block.scales[s] = static_cast<uint8_t>(fit.scales[s] | (fit.mins[s] << 4));
    for (int i = 0; i < kSuperBlock; ++i)
      block.qs[q2_byte(i)] |= static_cast<uint8_t>(fit.q[i] << q2_shift(i));
    store_block(block, dst, b);
  }
}

void quantize_q3_k(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kSuperBlock) {
    SymmetricSuperBlock fit = fit_symmetric_super_block(src, -4, 3, -32, 31);
    BlockQ3_K block{};
    block.d = fit.d;
    pack_scales_q3k(fit.scales, block.scales);
    for (int i = 0; i < kSuperBlock; ++i) {
      int biased = fit.q[i] + 4;  // [0, 7]: bit 2 set means "do not subtract 4"
      block.qs[q2_byte(i)] |= static_cast<uint8_t>((biased & 3) << q2_shift(i));
      block.hmask[i % 32] |= static_cast<uint8_t>((biased >> 2) << (i / 32));
    }
    store_block(block, dst, b);
  }
}

void quantize_q4_k(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kSuperBlock) {
    AffineSuperBlock fit = fit_affine_super_block(src, 32, 15, 63);
    BlockQ4_K block{};
    block.d = fit.d;
    block.dmin = fit.dmin;
    pack_scale_min_k4(fit.scales, fit.mins, block.scales);
    for (int i = 0; i < kSuperBlock; ++i)
      block.qs[q4k_byte(i)] |= static_cast<uint8_t>(fit.q[i] << q4k_shift(i));
    store_block(block, dst, b);
  }
}

void quantize_q5_k(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kSuperBlock) {
    AffineSuperBlock fit = fit_affine_super_block(src, 32, 31, 63);
    BlockQ5_K block{};
    block.d = fit.d;
    block.dmin = fit.dmin;
    pack_scale_min_k4(fit.scales, fit.mins, block.scales);
    for (int i = 0; i < kSuperBlock; ++i) {
      block.qs[q4k_byte(i)] |= static_cast<uint8_t>((fit.q[i] & 0x0f) << q4k_shift(i));
      block.qh[i % 32] |= static_cast<uint8_t>((fit.q[i] >> 4) << (i / 32));
    }
    store_block(block, dst, b);
  }
}

void quantize_q6_k(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kSuperBlock) {
    SymmetricSuperBlock fit = fit_symmetric_super_block(src, -32, 31, -128, 127);
    BlockQ6_K block{};
    block.d = fit.d;
    for (int s = 0; s < 16; ++s) block.scales[s] = static_cast<int8_t>(fit.scales[s]);
    for (int i = 0; i < kSuperBlock; ++i) {
      int biased = fit.q[i] + 32;  // [0, 63]
      block.ql[q6_low_byte(i)] |= static_cast<uint8_t>((biased & 0x0f) << q6_low_shift(i));
      block.qh[q6_high_byte(i)] |= static_cast<uint8_t>((biased >> 4) << q6_high_shift(i));
    }
    store_block(block, dst, b);
  }
}

void quantize_q8_k(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kSuperBlock) {
    BlockQ8_K block{};
    block.d = fit_symmetric(src, kSuperBlock, -127, 127);  // float32 scale: no fp16 rounding
    float inv = block.d != 0.0f ? 1.0f / block.d : 0.0f;
    for (int i = 0; i < kSuperBlock; ++i) {
      int q = clamp_round(src[i] * inv, -127, 127);
      block.qs[i] = static_cast<int8_t>(q);
      block.bsums[i / 16] = static_cast<int16_t>(block.bsums[i / 16] + q);
    }
    store_block(block, dst, b);
  }
}

}  // namespace mx::quant
