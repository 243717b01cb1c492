// On-disk block layouts of GGML's quantized types, byte for byte as GGUF files store them.
//
// A row of n elements of a quantized type is n / kElems consecutive blocks. Scales are fp16
// bit patterns (use fp16_to_fp32), except Q8_K whose scale is a float32. Within a block the
// element order is described at each struct; "nibble" packing puts element j in the low 4 bits
// and element j + half in the high 4 bits of the same byte. All structs are byte-aligned
// (alignment 2 or 4 at most) and have exactly the size GGUF uses (static_asserts below), so a
// row in a mapping can be read through these types when suitably aligned, or memcpy'd.
#pragma once

#include <cstdint>

namespace mx::quant {

constexpr int kLegacyBlock = 32;  // elements per block of Q4_0..Q8_1
constexpr int kSuperBlock = 256;  // elements per block of the K types (QK_K)

// x[j] = d * (q[j] - 8), q[j] 4 bits: low nibble of qs[j] for j < 16, high nibble of qs[j-16].
struct BlockQ4_0 {
  uint16_t d;      // fp16 scale
  uint8_t qs[16];  // nibbles
};

// x[j] = d * q[j] + m, q[j] 4 bits packed as in Q4_0.
struct BlockQ4_1 {
  uint16_t d;  // fp16 scale
  uint16_t m;  // fp16 offset (the block minimum)
  uint8_t qs[16];
};

// x[j] = d * (q[j] - 16), q[j] 5 bits: low 4 bits as in Q4_0, bit 4 is bit j of qh (little
// endian uint32 over the 4 bytes).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // fifth bits of the 32 elements
  uint8_t qs[16];
};

// x[j] = d * q[j] + m, q[j] 5 bits packed as in Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// x[j] = d * qs[j].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};

// x[j] = d * qs[j]; s = d * sum(qs) (used by dot products with Q4_1/Q5_1).
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[32];
};

// 16 sub-blocks of 16 elements. Element i (sub-block i / 16): q = 2 bits taken from
// qs[32 * (i / 128) + i % 32] at bit 2 * ((i / 32) % 4); scales[i / 16] holds a 4-bit scale
// (low nibble) and a 4-bit min (high nibble): x = d * sc * q - dmin * mn.
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;     // fp16 super-block scale of the sub-block scales
  uint16_t dmin;  // fp16 super-block scale of the sub-block mins
};

// 16 sub-blocks of 16. Element i: low 2 bits from qs as in Q2_K, third bit = bit (i / 32) of
// hmask[i % 32]; q = low2 - (third bit ? 0 : 4), in [-4, 3]. Sub-block scales are 6-bit,
// stored with a +32 bias and packed into 12 bytes (see quants_k.cpp): x = d * (sc - 32) * q.
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};

// 8 sub-blocks of 32. Sub-block s covers elements 32*s..32*s+31; pair p = s / 2 uses
// qs[32*p .. 32*p+31], low nibbles for the even sub-block, high nibbles for the odd one.
// 6-bit scale and min per sub-block packed into 12 bytes: x = d * sc * q - dmin * mn.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};

// Like Q4_K, plus a fifth bit: bit s of qh[i % 32] for element i of sub-block s.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};

// 16 sub-blocks of 16 with int8 scales: x = d * scales[i / 16] * (q - 32), q 6 bits: the low
// 4 bits from ql, the high 2 bits from qh (layout in quants_k.cpp).
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};

// x[i] = d * qs[i] with a float32 scale; bsums[k] = sum of qs[16k .. 16k+15] (for dot products).
struct BlockQ8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};

// The 16 values of IQ4_NL / IQ4_XS's 4-bit codes (ggml's kvalues_iq4nl), a non-uniform grid.
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                   1,    13,   25,  38,  53,  69,  89,  113};

// x[j] = d * kIq4Values[q[j]], q[j] 4 bits packed as in Q4_0.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[16];
};

// 8 sub-blocks of 32. Sub-block s: 6-bit scale ls = low 4 bits from scales_l[s / 2] (low nibble
// for even s, high for odd) | bits 2s, 2s + 1 of scales_h as bits 4-5; x = d * (ls - 32) *
// kIq4Values[q], q 4 bits from qs[16 s .. 16 s + 15] packed as in Q4_0 within the sub-block.
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};

// MXFP4's e2m1 values doubled (ggml's kvalues_mxfp4): codes 0-7 positive, 8-15 negative.
constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// x[j] = e8m0_to_fp32_half(e) * kMxfp4Values[q[j]] (2^(e - 128) * value), q[j] 4 bits packed
// as in Q4_0.
struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockMXFP4) == 17);

}  // namespace mx::quant
