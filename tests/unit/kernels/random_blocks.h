// Random but valid blocks of the weight types mxserve has no quantizer for (the grid types of
// kernels/cpu/quants_grid.h: IQ1_*, IQ2_*, IQ3_*, TQ*): every byte random (every codebook
// index, sign pattern and scale occurs), with the fp16 block scale replaced by a finite
// random value so the weights are of a sane size. Tests expand them with dequantize_row, the
// reference checked against gguf-py.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "core/dtype.h"
#include "core/half.h"

namespace mx::test {

// Byte offset of the fp16 d in a block, or -1 for IQ1_M (d spread over its scales' top nibbles).
inline int grid_scale_offset(DType type) {
  switch (type) {
    case DType::TQ1_0:
      return 52;
    case DType::TQ2_0:
      return 64;
    case DType::IQ1_M:
      return -1;
    default:
      return 0;
  }
}

// n_blocks random blocks of `type` into dst (dtype_traits(type)->block_bytes each), with d
// around `magnitude` (the weights come out about magnitude * scale * |q|).
inline void fill_random_grid_blocks(DType type, uint8_t* dst, int64_t n_blocks, float magnitude,
                                    std::mt19937& rng) {
  const uint32_t block_bytes = dtype_traits(type)->block_bytes;
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    uint8_t* block = dst + b * block_bytes;
    for (uint32_t i = 0; i < block_bytes; ++i) block[i] = static_cast<uint8_t>(byte(rng));
    const uint16_t d = fp32_to_fp16(magnitude * (0.5f + std::fabs(normal(rng))));
    const int offset = grid_scale_offset(type);
    if (offset >= 0) {
      std::memcpy(block + offset, &d, 2);
      continue;
    }
    for (int w = 0; w < 4; ++w) {  // IQ1_M: nibble w of d in the top 4 bits of scale word w
      uint16_t word;
      std::memcpy(&word, block + 48 + 2 * w, 2);
      word = static_cast<uint16_t>((word & 0x0fff) | (((d >> (4 * w)) & 0xf) << 12));
      std::memcpy(block + 48 + 2 * w, &word, 2);
    }
  }
}

}  // namespace mx::test
