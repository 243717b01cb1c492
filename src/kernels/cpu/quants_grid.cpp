// Decoders and reference dequantizers of the grid types (quants_grid.h). Each decoder reads
// ggml's block layout (offsets below, little-endian) into GridBlockInts; the dequantizers
// expand that to floats rounding as gguf-py does, bit for bit (tests/data/quants goldens,
// tests/unit/kernels/quant_goldens_test.cpp). No quantizers: files of these types come from
// llama-quantize (IQ2 / IQ1 need an importance matrix).
#include "kernels/cpu/quants_grid.h"

#include <cstring>

#include "core/half.h"
#include "kernels/cpu/quants.h"
#include "kernels/cpu/quants_grids.h"

namespace mx::quant {
namespace {

uint16_t read_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

uint32_t read_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The 8 (or 4) bytes of a grid entry, value j in byte j.
void grid_values(uint64_t entry, int n, int8_t* out) {
  for (int j = 0; j < n; ++j) out[j] = static_cast<int8_t>((entry >> (8 * j)) & 0xff);
}

// Negates out[j] where bit j of `signs` is set. Branch-free ((v ^ m) - m with m = 0 or -1):
// the signs are random, a branch per value mispredicted half the time.
void apply_signs(uint32_t signs, int n, int8_t* out) {
  for (int j = 0; j < n; ++j) {
    const int m = -static_cast<int>((signs >> j) & 1);
    out[j] = static_cast<int8_t>((out[j] ^ m) - m);
  }
}

// IQ2_XXS / IQ2_XS / IQ3_XXS store 7 sign bits per 8 values; the 8th makes their count even.
uint32_t even_signs(uint32_t seven) {
  return seven | static_cast<uint32_t>(__builtin_parity(seven)) << 7;
}

// IQ2_XXS (66): d, then per 32 values two words: w0 = four 8-bit indices into kIq2xxsGrid
// (8 values each), w1 = four 7-bit sign indices (bits 7k..7k+6) and the scale s (bits 28-31).
void decode_iq2_xxs(const uint8_t* b, GridBlockInts& out) {
  out.d = fp16_to_fp32(read_u16(b)) * 0.125f;
  for (int ib = 0; ib < 8; ++ib) {
    const uint8_t* p = b + 2 + 8 * ib;
    const uint32_t w1 = read_u32(p + 4);
    out.scale[2 * ib] = out.scale[2 * ib + 1] = static_cast<int8_t>(2 * (w1 >> 28) + 1);
    for (int k = 0; k < 4; ++k) {
      int8_t* q = out.q + 32 * ib + 8 * k;
      grid_values(kIq2xxsGrid[p[k]], 8, q);
      apply_signs(even_signs((w1 >> (7 * k)) & 0x7f), 8, q);
    }
  }
}

// Scales of IQ2_XS / IQ2_S: 8 bytes, 4 bits per 16 values (low nibble first).
void nibble_scales16(const uint8_t* scales, GridBlockInts& out) {
  for (int g = 0; g < 16; ++g) {
    out.scale[g] = static_cast<int8_t>(2 * ((scales[g / 2] >> (4 * (g % 2))) & 0x0f) + 1);
  }
}

// IQ2_XS (74): d, 32 uint16 (9-bit index into kIq2xsGrid | 7-bit sign index << 9), 8 bytes of
// scales (nibble_scales16).
void decode_iq2_xs(const uint8_t* b, GridBlockInts& out) {
  out.d = fp16_to_fp32(read_u16(b)) * 0.125f;
  nibble_scales16(b + 66, out);
  for (int e = 0; e < 32; ++e) {
    const uint16_t v = read_u16(b + 2 + 2 * e);
    grid_values(kIq2xsGrid[v & 511], 8, out.q + 8 * e);
    apply_signs(even_signs(v >> 9), 8, out.q + 8 * e);
  }
}

// IQ2_S (82): d, qs[32] (low 8 bits of 10-bit indices into kIq2sGrid), signs[32] (one byte per
// 8 values), qh[8] (2 high index bits per entry), scales[8] (nibble_scales16).
void decode_iq2_s(const uint8_t* b, GridBlockInts& out) {
  out.d = fp16_to_fp32(read_u16(b)) * 0.125f;
  nibble_scales16(b + 74, out);
  for (int e = 0; e < 32; ++e) {
    const int index = b[2 + e] | (((b[66 + e / 4] >> (2 * (e % 4))) & 3) << 8);
    grid_values(kIq2sGrid[index], 8, out.q + 8 * e);
    apply_signs(b[34 + e], 8, out.q + 8 * e);
  }
}

// IQ3_XXS (98): d, qs[64] (8-bit indices into kIq3xxsGrid, 4 values each), then per 32 values
// a word: four 7-bit sign indices and the scale s (bits 28-31).
void decode_iq3_xxs(const uint8_t* b, GridBlockInts& out) {
  out.d = fp16_to_fp32(read_u16(b)) * 0.25f;
  for (int ib = 0; ib < 8; ++ib) {
    const uint32_t w = read_u32(b + 66 + 4 * ib);
    out.scale[2 * ib] = out.scale[2 * ib + 1] = static_cast<int8_t>(2 * (w >> 28) + 1);
    for (int k = 0; k < 4; ++k) {
      int8_t* q = out.q + 32 * ib + 8 * k;
      grid_values(kIq3xxsGrid[b[2 + 8 * ib + 2 * k]], 4, q);
      grid_values(kIq3xxsGrid[b[2 + 8 * ib + 2 * k + 1]], 4, q + 4);
      apply_signs(even_signs((w >> (7 * k)) & 0x7f), 8, q);
    }
  }
}

// IQ3_S (110): d, qs[64] (low 8 bits of 9-bit indices into kIq3sGrid), qh[8] (the ninth bits,
// bit e % 8 of qh[e / 8]), signs[32] (one byte per 8 values), scales[4] (4 bits per 32 values).
void decode_iq3_s(const uint8_t* b, GridBlockInts& out) {
  out.d = fp16_to_fp32(read_u16(b));
  for (int s = 0; s < 8; ++s) {
    out.scale[2 * s] = out.scale[2 * s + 1] =
        static_cast<int8_t>(2 * ((b[106 + s / 2] >> (4 * (s % 2))) & 0x0f) + 1);
  }
  for (int e = 0; e < 64; ++e) {
    const int index = b[2 + e] | (((b[66 + e / 8] >> (e % 8)) & 1) << 8);
    grid_values(kIq3sGrid[index], 4, out.q + 4 * e);
  }
  for (int k = 0; k < 32; ++k) apply_signs(b[74 + k], 8, out.q + 8 * k);
}

// 8 * grid +- 1 for IQ1 entry `index` (delta -1/8 where `minus`).
void iq1_values(int index, bool minus, int8_t* q) {
  grid_values(kIq1sGrid[index], 8, q);
  for (int j = 0; j < 8; ++j) q[j] = static_cast<int8_t>(8 * q[j] + (minus ? -1 : 1));
}

// IQ1_S (50): d, qs[32] (low 8 bits of 11-bit indices into kIq1sGrid), then per 32 values a
// uint16: 3 high index bits per entry (bits 3k..3k+2), scale s (bits 12-14), delta sign (15).
void decode_iq1_s(const uint8_t* b, GridBlockInts& out) {
  out.d = fp16_to_fp32(read_u16(b)) * 0.125f;
  for (int ib = 0; ib < 8; ++ib) {
    const uint16_t qh = read_u16(b + 34 + 2 * ib);
    out.scale[2 * ib] = out.scale[2 * ib + 1] = static_cast<int8_t>(2 * ((qh >> 12) & 7) + 1);
    for (int k = 0; k < 4; ++k) {
      const int index = b[2 + 4 * ib + k] | (((qh >> (3 * k)) & 7) << 8);
      iq1_values(index, (qh & 0x8000) != 0, out.q + 32 * ib + 8 * k);
    }
  }
}

// IQ1_M (56): qs[32] (low index bits), qh[16] (a nibble per entry, low first: 3 high index bits
// and the delta sign as bit 3), scales as 4 uint16: 3 bits per 16 values (bits 3k..3k+2 of
// word k / 4 for group k) and the fp16 d in their top nibbles (word w's at bits 4w..4w+3).
void decode_iq1_m(const uint8_t* b, GridBlockInts& out) {
  uint16_t sc[4];
  for (int w = 0; w < 4; ++w) sc[w] = read_u16(b + 48 + 2 * w);
  const uint16_t d16 = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) |
                                             ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
  out.d = fp16_to_fp32(d16) * 0.125f;
  for (int g = 0; g < 16; ++g) {
    out.scale[g] = static_cast<int8_t>(2 * ((sc[g / 4] >> (3 * (g % 4))) & 7) + 1);
  }
  for (int e = 0; e < 32; ++e) {
    const int nibble = (b[32 + e / 2] >> (4 * (e % 2))) & 0x0f;
    iq1_values(b[e] | ((nibble & 7) << 8), (nibble & 8) != 0, out.q + 8 * e);
  }
}

// Base-3 digits k of TQ1_0 bytes (each byte holds its digits as a fraction of 256): q - 1 of
// digit k of src[j] to dst[j], j < n. One k per call, so the loop is a plain vector loop.
void ternary_digits(const uint8_t* src, int n, uint8_t pow3_k, int8_t* dst) {
  for (int j = 0; j < n; ++j) {
    const auto shifted = static_cast<uint8_t>(src[j] * pow3_k);  // mod 256
    dst[j] = static_cast<int8_t>(((shifted * 3) >> 8) - 1);
  }
}

// TQ1_0 (54): qs[48], qh[4], d. Bytes qs[0..31] hold 5 digits each (digit k: value 32 k + j),
// qs[32..47] 5 each (value 160 + 16 k + j), qh[0..3] 4 each (value 240 + 4 k + j).
void decode_tq1_0(const uint8_t* b, GridBlockInts& out) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  out.d = fp16_to_fp32(read_u16(b + 52));
  for (int8_t& s : out.scale) s = 1;
  for (int k = 0; k < 5; ++k) {
    ternary_digits(b, 32, kPow3[k], out.q + 32 * k);
    ternary_digits(b + 32, 16, kPow3[k], out.q + 160 + 16 * k);
  }
  for (int k = 0; k < 4; ++k) ternary_digits(b + 48, 4, kPow3[k], out.q + 240 + 4 * k);
}

// TQ2_0 (66): qs[64], d. Value 128 n + 32 k + j = bits 2k, 2k + 1 of qs[32 n + j], minus 1.
void decode_tq2_0(const uint8_t* b, GridBlockInts& out) {
  out.d = fp16_to_fp32(read_u16(b + 64));
  for (int8_t& s : out.scale) s = 1;
  for (int n = 0; n < 2; ++n) {
    for (int k = 0; k < 4; ++k) {
      for (int j = 0; j < 32; ++j) {
        out.q[128 * n + 32 * k + j] = static_cast<int8_t>(((b[32 * n + j] >> (2 * k)) & 3) - 1);
      }
    }
  }
}

template <DType kType>
void dequantize_grid(const void* src, float* dst, int64_t n_blocks) {
  const auto* blocks = static_cast<const uint8_t*>(src);
  GridBlockInts ints;
  for (int64_t i = 0; i < n_blocks; ++i) {
    decode_grid_block(kType, blocks + i * grid_block_bytes(kType), ints);
    for (int g = 0; g < 16; ++g) {
      const float dl = ints.d * static_cast<float>(ints.scale[g]);  // gguf-py's db / dl
      for (int j = 16 * g; j < 16 * g + 16; ++j) dst[256 * i + j] = dl * ints.q[j];
    }
  }
}

}  // namespace

bool decode_grid_block(DType type, const uint8_t* block, GridBlockInts& out) {
  switch (type) {
    case DType::IQ2_XXS:
      decode_iq2_xxs(block, out);
      return true;
    case DType::IQ2_XS:
      decode_iq2_xs(block, out);
      return true;
    case DType::IQ2_S:
      decode_iq2_s(block, out);
      return true;
    case DType::IQ3_XXS:
      decode_iq3_xxs(block, out);
      return true;
    case DType::IQ3_S:
      decode_iq3_s(block, out);
      return true;
    case DType::IQ1_S:
      decode_iq1_s(block, out);
      return true;
    case DType::IQ1_M:
      decode_iq1_m(block, out);
      return true;
    case DType::TQ1_0:
      decode_tq1_0(block, out);
      return true;
    case DType::TQ2_0:
      decode_tq2_0(block, out);
      return true;
    default:
      return false;
  }
}

void dequantize_iq2_xxs(const void* s, float* d, int64_t n) {
  dequantize_grid<DType::IQ2_XXS>(s, d, n);
}
void dequantize_iq2_xs(const void* s, float* d, int64_t n) {
  dequantize_grid<DType::IQ2_XS>(s, d, n);
}
void dequantize_iq2_s(const void* s, float* d, int64_t n) {
  dequantize_grid<DType::IQ2_S>(s, d, n);
}
void dequantize_iq3_xxs(const void* s, float* d, int64_t n) {
  dequantize_grid<DType::IQ3_XXS>(s, d, n);
}
void dequantize_iq3_s(const void* s, float* d, int64_t n) {
  dequantize_grid<DType::IQ3_S>(s, d, n);
}
void dequantize_iq1_s(const void* s, float* d, int64_t n) {
  dequantize_grid<DType::IQ1_S>(s, d, n);
}
void dequantize_iq1_m(const void* s, float* d, int64_t n) {
  dequantize_grid<DType::IQ1_M>(s, d, n);
}
void dequantize_tq1_0(const void* s, float* d, int64_t n) {
  dequantize_grid<DType::TQ1_0>(s, d, n);
}
void dequantize_tq2_0(const void* s, float* d, int64_t n) {
  dequantize_grid<DType::TQ2_0>(s, d, n);
}

}  // namespace mx::quant
