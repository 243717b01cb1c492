// Dispatch by DType, plus the plain float types (F32 copy, F16, BF16).
#include "kernels/cpu/quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"

namespace mx {
namespace {

using DequantizeBlocks = void (*)(const void*, float*, int64_t);
using QuantizeBlocks = void (*)(const float*, void*, int64_t);

struct Codec {
  DType type;
  DequantizeBlocks dequantize;
  QuantizeBlocks quantize;
};

void dequantize_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}
void quantize_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

// Halves are read with memcpy: a row inside a file mapping may sit at any even address, and
// src/dst of these entry points promise no alignment at all.
void dequantize_f16(const void* src, float* dst, int64_t n) {
  const auto* bytes = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t half;
    std::memcpy(&half, bytes + 2 * i, 2);
    dst[i] = fp16_to_fp32(half);
  }
}
void quantize_f16(const float* src, void* dst, int64_t n) {
  auto* bytes = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t half = fp32_to_fp16(src[i]);
    std::memcpy(bytes + 2 * i, &half, 2);
  }
}
void dequantize_bf16(const void* src, float* dst, int64_t n) {
  const auto* bytes = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t half;
    std::memcpy(&half, bytes + 2 * i, 2);
    dst[i] = bf16_to_fp32(half);
  }
}
void quantize_bf16(const float* src, void* dst, int64_t n) {
  auto* bytes = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t half = fp32_to_bf16(src[i]);
    std::memcpy(bytes + 2 * i, &half, 2);
  }
}

// Plain types have blocks of one element, so "n_blocks" is the element count for them.
constexpr Codec kCodecs[] = {
    {DType::F32, dequantize_f32, quantize_f32},
    {DType::F16, dequantize_f16, quantize_f16},
    {DType::BF16, dequantize_bf16, quantize_bf16},
    {DType::Q4_0, quant::dequantize_q4_0, quant::quantize_q4_0},
    {DType::Q4_1, quant::dequantize_q4_1, quant::quantize_q4_1},
    {DType::Q5_0, quant::dequantize_q5_0, quant::quantize_q5_0},
    {DType::Q5_1, quant::dequantize_q5_1, quant::quantize_q5_1},
    {DType::Q8_0, quant::dequantize_q8_0, quant::quantize_q8_0},
    {DType::Q8_1, quant::dequantize_q8_1, quant::quantize_q8_1},
    {DType::Q2_K, quant::dequantize_q2_k, quant::quantize_q2_k},
    {DType::Q3_K, quant::dequantize_q3_k, quant::quantize_q3_k},
    {DType::Q4_K, quant::dequantize_q4_k, quant::quantize_q4_k},
    {DType::Q5_K, quant::dequantize_q5_k, quant::quantize_q5_k},
    {DType::Q6_K, quant::dequantize_q6_k, quant::quantize_q6_k},
    {DType::Q8_K, quant::dequantize_q8_k, quant::quantize_q8_k},
    {DType::IQ4_NL, quant::dequantize_iq4_nl, quant::quantize_iq4_nl},
    {DType::IQ4_XS, quant::dequantize_iq4_xs, quant::quantize_iq4_xs},
    {DType::MXFP4, quant::dequantize_mxfp4, quant::quantize_mxfp4},
    // No quantizers: files of these types come from llama-quantize (quants_grid.h).
    {DType::IQ2_XXS, quant::dequantize_iq2_xxs, nullptr},
    {DType::IQ2_XS, quant::dequantize_iq2_xs, nullptr},
    {DType::IQ2_S, quant::dequantize_iq2_s, nullptr},
    {DType::IQ3_XXS, quant::dequantize_iq3_xxs, nullptr},
    {DType::IQ3_S, quant::dequantize_iq3_s, nullptr},
    {DType::IQ1_S, quant::dequantize_iq1_s, nullptr},
    {DType::IQ1_M, quant::dequantize_iq1_m, nullptr},
    {DType::TQ1_0, quant::dequantize_tq1_0, nullptr},
    {DType::TQ2_0, quant::dequantize_tq2_0, nullptr},
};

const Codec* find_codec(DType type) {
  for (const Codec& codec : kCodecs) {
    if (codec.type == type) return &codec;
  }
  return nullptr;
}

// Number of blocks in n elements, or -1 if n is negative or not a whole number of blocks.
int64_t block_count(DType type, int64_t n) {
  auto traits = dtype_traits(type);
  if (!traits || n < 0 || n % traits->block_elems != 0) return -1;
  return n / traits->block_elems;
}

}  // namespace

bool can_dequantize(DType type) { return find_codec(type) != nullptr; }
bool can_quantize(DType type) {
  const Codec* codec = find_codec(type);
  return codec != nullptr && codec->quantize != nullptr;
}

bool dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  const Codec* codec = find_codec(type);
  int64_t blocks = block_count(type, n);
  if (codec == nullptr || blocks < 0) return false;
  codec->dequantize(src, dst, blocks);
  return true;
}

bool quantize_row(DType type, const float* src, void* dst, int64_t n) {
  const Codec* codec = find_codec(type);
  int64_t blocks = block_count(type, n);
  if (codec == nullptr || codec->quantize == nullptr || blocks < 0) return false;
  codec->quantize(src, dst, blocks);
  return true;
}

float quantize_row_w8a8(const float* src, int8_t* dst, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(src[i]));
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<int8_t>(std::nearbyint(src[i] * inv));
  return amax / 127.0f;
}

}  // namespace mx
