// The super-block types whose values are signed small integers under a per-16 integer scale:
// IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S (codebook points and sign bits), IQ1_S, IQ1_M
// (codebook points of -1, 0, 1 plus a +-1/8 shift) and TQ1_0, TQ2_0 (ternary).
//
// decode_grid_block() turns one block of 256 values into GridBlockInts, one form for all of
// them: value i = d * scale[i / 16] * q[i], with
//   IQ2_*:   d = fp16 d / 8,  scale = 2 s + 1 (s 4 bits), q = +-grid (8, 25, 43)
//   IQ3_XXS: d = fp16 d / 4,  scale = 2 s + 1,            q = +-grid (4 .. 62)
//   IQ3_S:   d = fp16 d,      scale = 2 s + 1,            q = +-grid (1 .. 15)
//   IQ1_*:   d = fp16 d / 8,  scale = 2 s + 1 (s 3 bits), q = 8 * grid +- 1 (-9 .. 9)
//   TQ*_0:   d = fp16 d,      scale = 1,                  q = -1, 0, 1
// (ggml's d * (0.5 + s) * 0.25 is d / 8 * (2 s + 1) exactly: powers of two scale exactly.)
// The reference dequantizers (quants_grid.cpp) compute (d * scale) * q from this form, which
// rounds as gguf-py does; the matmul kernels take q and scale as integers (|q| <= 62, scale
// <= 31) and d as the block's float scale. Byte layouts: the decoders in quants_grid.cpp.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace mx::quant {

struct GridBlockInts {
  float d = 0.0f;
  int8_t scale[16];
  int8_t q[256];
};

// IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M, TQ1_0, TQ2_0.
constexpr bool is_grid_type(DType t) {
  return t == DType::IQ2_XXS || t == DType::IQ2_XS || t == DType::IQ2_S || t == DType::IQ3_XXS ||
         t == DType::IQ3_S || t == DType::IQ1_S || t == DType::IQ1_M || t == DType::TQ1_0 ||
         t == DType::TQ2_0;
}

// Bytes of one block of a grid type (GGML's sizes).
constexpr int64_t grid_block_bytes(DType t) {
  switch (t) {
    case DType::IQ2_XXS:
    case DType::TQ2_0:
      return 66;
    case DType::IQ2_XS:
      return 74;
    case DType::IQ2_S:
      return 82;
    case DType::IQ3_XXS:
      return 98;
    case DType::IQ3_S:
      return 110;
    case DType::IQ1_S:
      return 50;
    case DType::IQ1_M:
      return 56;
    default:
      return 54;  // TQ1_0
  }
}

// Decodes one block of a grid type (no alignment needed). Returns false for other types.
bool decode_grid_block(DType type, const uint8_t* block, GridBlockInts& out);

}  // namespace mx::quant
