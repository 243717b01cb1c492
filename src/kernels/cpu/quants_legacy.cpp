// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1: blocks of 32 elements with one fp16 scale (and offset).
// Layouts and formulas: quant_blocks.h. Blocks are memcpy'd in and out so that src/dst need no
// alignment.
#include "core/half.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quant_fit.h"
#include "kernels/cpu/quants.h"

namespace mx::quant {
namespace {

constexpr int kHalf = kLegacyBlock / 2;  // elements j and j + 16 share a byte

// The 4-bit value of element j (0..31) from nibble-packed qs[16].
int nibble(const uint8_t* qs, int j) { return j < kHalf ? qs[j] & 0x0f : qs[j - kHalf] >> 4; }

// Packs 32 values in [0, 15] into qs[16] (low nibble: element j, high: j + 16).
void pack_nibbles(const int* q, uint8_t* qs) {
  for (int j = 0; j < kHalf; ++j) qs[j] = static_cast<uint8_t>(q[j] | (q[j + kHalf] << 4));
}

// Packs the fifth bits of 32 values in [0, 31] into qh (bit j = element j, little endian).
void pack_fifth_bits(const int* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < kLegacyBlock; ++j) bits |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(bits >> (8 * k));
}

int fifth_bit(const uint8_t* qh, int j) { return (qh[j / 8] >> (j % 8)) & 1; }

// Quantizes one group symmetrically with the fp16-rounded scale; q in [qmin, qmax].
float quantize_symmetric_group(const float* x, int qmin, int qmax, int* q) {
  uint16_t d_half = to_fp16_scale(fit_symmetric(x, kLegacyBlock, qmin, qmax));
  float d = fp16_to_fp32(d_half);
  float inv = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kLegacyBlock; ++j) q[j] = clamp_round(x[j] * inv, qmin, qmax);
  return d;
}

// Affine fit with fp16-rounded scale and offset; q in [0, qmax].
void quantize_affine_group(const float* x, int qmax, int* q, uint16_t* d_out, uint16_t* m_out) {
  AffineFit fit = fit_affine(x, kLegacyBlock, qmax, /*min_at_most_zero=*/false);
  *d_out = to_fp16_scale(fit.scale);
  *m_out = to_fp16_scale(fit.min);
  float d = fp16_to_fp32(*d_out), m = fp16_to_fp32(*m_out);
  float inv = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kLegacyBlock; ++j) q[j] = clamp_round((x[j] - m) * inv, 0, qmax);
}

}  // namespace

void dequantize_q4_0(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kLegacyBlock) {
    auto block = load_block<BlockQ4_0>(src, b);
    float d = fp16_to_fp32(block.d);
    for (int j = 0; j < kLegacyBlock; ++j) dst[j] = d * static_cast<float>(nibble(block.qs, j) - 8);
  }
}

void dequantize_q4_1(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kLegacyBlock) {
    auto block = load_block<BlockQ4_1>(src, b);
    float d = fp16_to_fp32(block.d), m = fp16_to_fp32(block.m);
    for (int j = 0; j < kLegacyBlock; ++j) dst[j] = scaled_plus(d, nibble(block.qs, j), m);
  }
}

void dequantize_q5_0(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kLegacyBlock) {
    auto block = load_block<BlockQ5_0>(src, b);
    float d = fp16_to_fp32(block.d);
    for (int j = 0; j < kLegacyBlock; ++j) {
      int q = nibble(block.qs, j) | (fifth_bit(block.qh, j) << 4);
      dst[j] = d * static_cast<float>(q - 16);
    }
  }
}

void dequantize_q5_1(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kLegacyBlock) {
    auto block = load_block<BlockQ5_1>(src, b);
    float d = fp16_to_fp32(block.d), m = fp16_to_fp32(block.m);
    for (int j = 0; j < kLegacyBlock; ++j) {
      int q = nibble(block.qs, j) | (fifth_bit(block.qh, j) << 4);
      dst[j] = scaled_plus(d, q, m);
    }
  }
}

void dequantize_q8_0(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kLegacyBlock) {
    auto block = load_block<BlockQ8_0>(src, b);
    float d = fp16_to_fp32(block.d);
    for (int j = 0; j < kLegacyBlock; ++j) dst[j] = d * static_cast<float>(block.qs[j]);
  }
}

void dequantize_q8_1(const void* src, float* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, dst += kLegacyBlock) {
    auto block = load_block<BlockQ8_1>(src, b);
    float d = fp16_to_fp32(block.d);
    for (int j = 0; j < kLegacyBlock; ++j) dst[j] = d * static_cast<float>(block.qs[j]);
  }
}

void quantize_q4_0(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kLegacyBlock) {
    int q[kLegacyBlock];
    BlockQ4_0 block{};
    float d = quantize_symmetric_group(src, -8, 7, q);
    block.d = fp32_to_fp16(d);
    for (int& value : q) value += 8;  // stored with a +8 bias
    pack_nibbles(q, block.qs);
    store_block(block, dst, b);
  }
}

void quantize_q4_1(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kLegacyBlock) {
    int q[kLegacyBlock];
    BlockQ4_1 block{};
    quantize_affine_group(src, 15, q, &block.d, &block.m);
    pack_nibbles(q, block.qs);
    store_block(block, dst, b);
  }
}

void quantize_q5_0(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kLegacyBlock) {
    int q[kLegacyBlock];
    BlockQ5_0 block{};
    block.d = fp32_to_fp16(quantize_symmetric_group(src, -16, 15, q));
    for (int& value : q) value += 16;  // stored with a +16 bias
    int low[kLegacyBlock];
    for (int j = 0; j < kLegacyBlock; ++j) low[j] = q[j] & 0x0f;
    pack_nibbles(low, block.qs);
    pack_fifth_bits(q, block.qh);
    store_block(block, dst, b);
  }
}

void quantize_q5_1(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kLegacyBlock) {
    int q[kLegacyBlock];
    BlockQ5_1 block{};
    quantize_affine_group(src, 31, q, &block.d, &block.m);
    int low[kLegacyBlock];
    for (int j = 0; j < kLegacyBlock; ++j) low[j] = q[j] & 0x0f;
    pack_nibbles(low, block.qs);
    pack_fifth_bits(q, block.qh);
    store_block(block, dst, b);
  }
}

void quantize_q8_0(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kLegacyBlock) {
    int q[kLegacyBlock];
    BlockQ8_0 block{};
    block.d = fp32_to_fp16(quantize_symmetric_group(src, -127, 127, q));
    for (int j = 0; j < kLegacyBlock; ++j) block.qs[j] = static_cast<int8_t>(q[j]);
    store_block(block, dst, b);
  }
}

void quantize_q8_1(const float* src, void* dst, int64_t n_blocks) {
  for (int64_t b = 0; b < n_blocks; ++b, src += kLegacyBlock) {
    int q[kLegacyBlock];
    BlockQ8_1 block{};
    float d = quantize_symmetric_group(src, -127, 127, q);
    int sum = 0;
    for (int j = 0; j < kLegacyBlock; ++j) {
      block.qs[j] = static_cast<int8_t>(q[j]);
      sum += q[j];
    }
    block.d = fp32_to_fp16(d);
    block.s = to_fp16_scale(d * static_cast<float>(sum));
    store_block(block, dst, b);
  }
}

}  // namespace mx::quant
