// Scale fitting shared by the reference quantizers (quants_legacy.cpp, quants_k.cpp).
//
// Every GGML type stores small integers q and a scale (and sometimes an offset) per group of
// elements. Picking the scale from the group's extremes alone is simple but wastes levels; these
// helpers try a few candidate scales around it and refine each with a least-squares solve for
// the chosen integers, keeping the one with the smallest squared error. Internal header.
#pragma once

#include <cstdint>
#include <cstring>

namespace mx::quant {

// Block `index` of an array of Blocks at an arbitrary (possibly unaligned) address.
template <typename Block>
Block load_block(const void* src, int64_t index) {
  Block block;
  std::memcpy(&block, static_cast<const uint8_t*>(src) + index * sizeof(Block), sizeof(Block));
  return block;
}

template <typename Block>
void store_block(const Block& block, void* dst, int64_t index) {
  std::memcpy(static_cast<uint8_t*>(dst) + index * sizeof(Block), &block, sizeof(Block));
}

// scale * q + offset with two roundings (product, then sum), as ggml's scalar code and numpy
// compute it, so dequantized values match them bit for bit. Two statements: no FMA contraction
// (GCC in ISO mode and clang only contract within one expression).
inline float scaled_plus(float scale, int q, float offset) {
  float product = scale * static_cast<float>(q);
  return product + offset;
}

// round-half-to-even of v clamped to [lo, hi]; NaN maps to lo (never UB).
int clamp_round(float v, int lo, int hi);

// v clamped to the finite fp16 range, as an fp16 bit pattern (scales must stay finite).
uint16_t to_fp16_scale(float v);

// Symmetric fit: returns d (possibly negative) so that x[i] ~ d * clamp_round(x[i]/d, qmin,
// qmax). The element of largest magnitude maps near qmin, the side with more levels.
// 0 for an all-zero group.
float fit_symmetric(const float* x, int n, int qmin, int qmax);

struct AffineFit {
  float scale = 0.0f;  // >= 0
  float min = 0.0f;    // x ~ scale * q + min, q in [0, qmax]
};

// Affine fit: x[i] ~ scale * q[i] + min with q in [0, qmax]. With min_at_most_zero the offset
// is kept <= 0 (the K types store -min as an unsigned "min" that is subtracted).
AffineFit fit_affine(const float* x, int n, int qmax, bool min_at_most_zero);

}  // namespace mx::quant
