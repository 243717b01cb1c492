// IQ4_NL and IQ4_XS: 4-bit codes into a fixed non-uniform grid of 16 int8 values
// (kIq4Values), with an fp16 scale per 32 values (IQ4_NL) or 6-bit scales per 32 under an fp16
// super-block scale (IQ4_XS). Layouts and formulas: quant_blocks.h. The dequantizers round as
// ggml and gguf-py do (IQ4_XS: d * (ls - 32) first, then times the grid value), so they match
// gguf-py bit for bit (tests/unit/kernels/quant_goldens_test.cpp). The quantizers are simple
// (the nearest grid value after a least-squares scale); they need not match llama.cpp's.
#include <cmath>

#include "core/half.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quant_fit.h"
#include "kernels/cpu/quants.h"

namespace mx::quant {
namespace {

constexpr int kGroup = 32;  // values per scale (both types)

int nearest_code(float v) {
  int best = 0;
  float best_err = std::fabs(v - kIq4Values[0]);
  for (int k = 1; k < 16; ++k) {
    float err = std::fabs(v - kIq4Values[k]);
    if (err < best_err) {
      best = k;
      best_err = err;
    }
  }
  return best;
}

// Codes of x [32] for the scale d (0: all codes of the grid value nearest 0).
void pick_codes(const float* x, float d, int* q) {
  float inv = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kGroup; ++j) q[j] = nearest_code(x[j] * inv);
}

// Scale for a group: the value of largest magnitude on the grid's end (-127), then one
// least-squares refinement for the codes it gives. Returns 0 for an all-zero group.
float fit_group(const float* x, int* q) {
  float extreme = 0.0f;
  for (int j = 0; j < kGroup; ++j) {
    if (std::fabs(x[j]) > std::fabs(extreme)) extreme = x[j];
  }
  float d = extreme / static_cast<float>(kIq4Values[0]);
  pick_codes(x, d, q);
  double xv = 0.0, vv = 0.0;
  for (int j = 0; j < kGroup; ++j) {
    xv += double{x[j]} * static_cast<double>(kIq4Values[q[j]]);
    const double v = kIq4Values[q[j]];
    vv += v * v;
  }
  if (vv > 0.0) d = static_cast<float>(xv / vv);
  pick_codes(x, d, q);
  return d;
}

// Nibble packing as Q4_0: element j < 16 in the low nibble of qs[j], j >= 16 in the high one.
void pack_codes(const int* q, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(q[j] | (q[j + 16] << 4));
}

int code(const uint8_t* qs, int j) { return j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4; }

}  // namespace

void dequantize_iq4_nl(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kGroup) {
    auto block = load_block<BlockIQ4_NL>(src, b);
    float d = fp16_to_fp32(block.d);
    for (int j = 0; j < kGroup; ++j) dst[j] = d * static_cast<float>(kIq4Values[code(block.qs, j)]);
  }
}

void quantize_iq4_nl(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kGroup) {
    int q[kGroup];
    BlockIQ4_NL block{};
    block.d = to_fp16_scale(fit_group(src, q));
    pick_codes(src, fp16_to_fp32(block.d), q);
    pack_codes(q, block.qs);
    store_block(block, dst, b);
  }
}

void dequantize_iq4_xs(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b) {
    auto block = load_block<BlockIQ4_XS>(src, b);
    float d = fp16_to_fp32(block.d);
    for (int s = 0; s < kSuperBlock / kGroup; ++s, dst += kGroup) {
      int ls = ((block.scales_l[s / 2] >> (4 * (s % 2))) & 0x0f) |
               (((block.scales_h >> (2 * s)) & 3) << 4);
      float dl = d * static_cast<float>(ls - 32);
      const uint8_t* qs = block.qs + 16 * s;
      for (int j = 0; j < kGroup; ++j) dst[j] = dl * static_cast<float>(kIq4Values[code(qs, j)]);
    }
  }
}

void quantize_iq4_xs(const float* src, void* dst, int64_t n_blocks) {
  constexpr int kSubs = kSuperBlock / kGroup;
  for (int64_t b = 0; b < n_blocks; ++b, src += kSuperBlock) {
    int q[kGroup];
    float scales[kSubs];
    float max_scale = 0.0f;
    for (int s = 0; s < kSubs; ++s) {
      scales[s] = fit_group(src + kGroup * s, q);
      max_scale = std::max(max_scale, std::fabs(scales[s]));
    }
    BlockIQ4_XS block{};
    block.d = to_fp16_scale(max_scale / 31.0f);
    float d = fp16_to_fp32(block.d);
    for (int s = 0; s < kSubs; ++s) {
      int l = d != 0.0f ? clamp_round(scales[s] / d, -32, 31) : 0;
      block.scales_l[s / 2] |= static_cast<uint8_t>(((l + 32) & 0x0f) << (4 * (s % 2)));
      block.scales_h |= static_cast<uint16_t>(((l + 32) >> 4) << (2 * s));
      pick_codes(src + kGroup * s, d * static_cast<float>(l), q);
      pack_codes(q, block.qs + 16 * s);
    }
    store_block(block, dst, b);
  }
}

}  // namespace mx::quant
