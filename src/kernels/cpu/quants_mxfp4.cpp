// MXFP4 (OCP microscaling, gpt-oss's expert weights): blocks of 32 e2m1 values under a shared
// power-of-two scale stored as e8m0. ggml keeps the e2m1 values doubled as int8
// (kMxfp4Values) and halves the scale, so x = e8m0_half(e) * kMxfp4Values[q]. Layout:
// quant_blocks.h. The dequantizer matches gguf-py bit for bit; the quantizer is gguf-py's (the
// exponent of the largest magnitude minus 2, then the nearest value).
#include <cmath>
#include <cstring>

#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quants.h"

namespace mx::quant {

float e8m0_to_fp32_half(uint8_t e) {
  // 2^(e - 128): e >= 2 a normal float with exponent field e - 1, e < 2 a subnormal.
  const uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<uint32_t>(e - 1) << 23;
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

void dequantize_mxfp4(const void* src, float* dst, int64_t n_blocks) {
  const auto* blocks = static_cast<const BlockMXFP4*>(src);
  for (int64_t i = 0; i < n_blocks; ++i) {
    BlockMXFP4 b;
    std::memcpy(&b, blocks + i, sizeof b);
    const float d = e8m0_to_fp32_half(b.e);
    for (int j = 0; j < 16; ++j) {
      dst[32 * i + j] = d * static_cast<float>(kMxfp4Values[b.qs[j] & 0x0f]);
      dst[32 * i + j + 16] = d * static_cast<float>(kMxfp4Values[b.qs[j] >> 4]);
    }
  }
}

void quantize_mxfp4(const float* src, void* dst, int64_t n_blocks) {
  auto* blocks = static_cast<BlockMXFP4*>(dst);
  for (int64_t i = 0; i < n_blocks; ++i) {
    const float* x = src + 32 * i;
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    int e = amax > 0.0f ? static_cast<int>(std::floor(std::log2(amax))) - 2 + 127 : 0;
    e = e < 0 ? 0 : (e > 255 ? 255 : e);
    BlockMXFP4 b;
    b.e = static_cast<uint8_t>(e);
    const float d = e8m0_to_fp32_half(b.e);
    uint8_t q[32];
    for (int j = 0; j < 32; ++j) {
      int best = 0;
      float best_err = std::fabs(x[j]);  // value 0
      for (int k = 1; k < 16; ++k) {
        const float err = std::fabs(d * static_cast<float>(kMxfp4Values[k]) - x[j]);
        if (err < best_err) {
          best = k;
          best_err = err;
        }
      }
      q[j] = static_cast<uint8_t>(best);
    }
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(q[j] | (q[j + 16] << 4));
    std::memcpy(blocks + i, &b, sizeof b);
  }
}

}  // namespace mx::quant
