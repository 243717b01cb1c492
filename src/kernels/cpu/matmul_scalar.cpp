// Scalar matmul kernels: the portable path and the arithmetic every SIMD path must reproduce.
// Quantized types use the same integer dot products as the SIMD paths (int8 activations,
// per-block scales), so paths differ only in float summation order.
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/quants.h"

namespace mx::matmul_detail {
namespace {

float load_fp16(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return fp16_to_fp32(bits);
}

// ---- activations --------------------------------------------------------------------------

void quantize_scalar(DType w_type, const float* x, int64_t cols, const ActLayout& layout,
                     uint8_t* record) {
  auto* q = reinterpret_cast<int8_t*>(record);
  auto* d = reinterpret_cast<float*>(record + layout.d_offset);
  std::memset(record, 0, static_cast<size_t>(layout.token_bytes));
  if (is_legacy(w_type)) {
    auto* msum = reinterpret_cast<float*>(record + layout.msum_offset);
    for (int64_t b = 0; b < cols / kLegacyBlock; ++b) {
      float scale;
      quantize_block_scalar(x + b * kLegacyBlock, kLegacyBlock, q + b * kLegacyBlock, &scale);
      for (int lane = 0; lane < 8; ++lane) d[(b / 2) * 16 + (b % 2) * 8 + lane] = scale;
      if (legacy_has_min(w_type)) {  // the scalar kernel reads msum[b]
        int32_t sum = 0;
        for (int64_t i = 0; i < kLegacyBlock; ++i) sum += q[b * kLegacyBlock + i];
        msum[b] = scale * static_cast<float>(sum);
      }
    }
    return;  // the scalar kernels do not use the bias field
  }
  auto* sums = reinterpret_cast<float*>(record + layout.extra_offset);
  for (int64_t b = 0; b < cols / kSuperBlock; ++b) {
    quantize_block_scalar(x + b * kSuperBlock, kSuperBlock, q + b * kSuperBlock, &d[b]);
    for (int64_t g = b * 16; g < b * 16 + 16; ++g) {
      int32_t sum = 0;
      for (int64_t i = 0; i < kKGroup; ++i) sum += q[g * kKGroup + i];
      sums[g] = d[b] * static_cast<float>(sum);
    }
  }
}

// ---- float weights ------------------------------------------------------------------------

float weight_at(DType type, const uint8_t* row, int64_t c) {
  if (type == DType::F32) {
    float v;
    std::memcpy(&v, row + c * 4, 4);
    return v;
  }
  uint16_t bits;
  std::memcpy(&bits, row + c * 2, 2);
  return type == DType::F16 ? fp16_to_fp32(bits) : bf16_to_fp32(bits);
}

void kernel_float(const MatmulJob& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; ++t) {
    const float* x = job.x + t * job.x_stride;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = job.w + r * job.w_row_bytes;
      float sum = 0.0f;
      for (int64_t c = 0; c < job.cols; ++c) sum += weight_at(job.w_type, row, c) * x[c];
      job.y[t * job.y_stride + r] = sum;
    }
  }
}

// ---- legacy types (blocks of 32) ---------------------------------------------------------

// Integer dot of one weight block with 32 activations, the weight's zero point applied
// (x = d * (q - offset), or x = d * q + m whose m the caller adds). 4-bit values: element j < 16
// in the low nibble of qs[j], j >= 16 in the high nibble of qs[j - 16]; Q5 types add bit j of
// qh as bit 4.
int32_t legacy_block_dot(DType type, const uint8_t* block, const int8_t* a) {
  int32_t sum = 0;
  if (type == DType::Q8_0) {
    const auto* qs = reinterpret_cast<const int8_t*>(block + 2);
    for (int i = 0; i < 32; ++i) sum += qs[i] * a[i];
    return sum;
  }
  const uint8_t* qs = block + legacy_qs_offset(type);
  if (type == DType::IQ4_NL || type == DType::MXFP4) {
    const int8_t* values = type == DType::IQ4_NL ? quant::kIq4Values : quant::kMxfp4Values;
    for (int i = 0; i < 16; ++i)
      sum += values[qs[i] & 0x0f] * a[i] + values[qs[i] >> 4] * a[i + 16];
    return sum;
  }
  uint32_t qh = 0;
  if (legacy_five_bits(type)) std::memcpy(&qh, block + legacy_qh_offset(type), 4);
  const int offset = legacy_offset(type);
  for (int i = 0; i < 16; ++i) {
    int lo = (qs[i] & 0x0f) | static_cast<int>(((qh >> i) & 1) << 4);
    int hi = (qs[i] >> 4) | static_cast<int>(((qh >> (i + 16)) & 1) << 4);
    sum += (lo - offset) * a[i] + (hi - offset) * a[i + 16];
  }
  return sum;
}

float legacy_row_dot(const MatmulJob& job, const uint8_t* row, const uint8_t* record) {
  const auto* q = reinterpret_cast<const int8_t*>(record);
  const auto* d16 = reinterpret_cast<const float*>(record + job.layout.d_offset);
  const auto* msum = reinterpret_cast<const float*>(record + job.layout.msum_offset);
  const int64_t block_bytes = legacy_block_bytes(job.w_type);
  const bool has_min = legacy_has_min(job.w_type);
  float sum = 0.0f;
  for (int64_t b = 0; b < job.cols / kLegacyBlock; ++b) {
    const uint8_t* block = row + b * block_bytes;
    float d_a = d16[(b / 2) * 16 + (b % 2) * 8];
    int32_t dot = legacy_block_dot(job.w_type, block, q + b * kLegacyBlock);
    const float d_w =
        job.w_type == DType::MXFP4 ? quant::e8m0_to_fp32_half(block[0]) : load_fp16(block);
    sum += d_w * d_a * static_cast<float>(dot);
    if (has_min) sum += load_fp16(block + 2) * msum[b];
  }
  return sum;
}

// ---- K types ------------------------------------------------------------------------------

float k_row_dot(const MatmulJob& job, const uint8_t* row, const uint8_t* record) {
  const auto* q = reinterpret_cast<const int8_t*>(record);
  const auto* d = reinterpret_cast<const float*>(record + job.layout.d_offset);
  const int64_t block_bytes = k_block_bytes(job.w_type);
  KBlockInts block;
  float sum = 0.0f;
  for (int64_t b = 0; b < job.cols / kSuperBlock; ++b) {
    decode_k_block(job.w_type, row + b * block_bytes, block);
    const int8_t* a = q + b * kSuperBlock;
    int32_t scaled = 0, mins = 0;
    for (int g = 0; g < 16; ++g) {
      int32_t dot = 0, asum = 0;
      for (int i = g * 16; i < g * 16 + 16; ++i) {
        dot += block.q[i] * a[i];
        asum += a[i];
      }
      scaled += block.scale[g] * dot;
      mins += block.min[g] * asum;
    }
    if (!k_has_mins(job.w_type)) {  // min = 128 * scale cancels most of `scaled`: exactly
      sum += d[b] * block.d * static_cast<float>(scaled - mins);
    } else {
      sum += d[b] * (block.d * static_cast<float>(scaled) - block.dmin * static_cast<float>(mins));
    }
  }
  return sum;
}

void kernel_quant(const MatmulJob& job, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  bool legacy = is_legacy(job.w_type);
  for (int64_t t = t0; t < t1; ++t) {
    const uint8_t* record = job.acts + t * job.layout.token_bytes;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = job.w + r * job.w_row_bytes;
      job.y[t * job.y_stride + r] =
          legacy ? legacy_row_dot(job, row, record) : k_row_dot(job, row, record);
    }
  }
}

}  // namespace

void decode_k_block(DType w_type, const uint8_t* block, KBlockInts& out) {
  if (quant::is_grid_type(w_type)) {  // v + 128, min = 128 * scale (see KBlockInts)
    quant::GridBlockInts ints;
    quant::decode_grid_block(w_type, block, ints);
    out.d = out.dmin = ints.d;
    for (int g = 0; g < 16; ++g) {
      out.scale[g] = ints.scale[g];
      out.min[g] = 128 * ints.scale[g];
    }
    for (int i = 0; i < kSuperBlock; ++i) out.q[i] = static_cast<uint8_t>(ints.q[i] + 128);
    return;
  }
  if (w_type == DType::IQ4_XS) {
    quant::BlockIQ4_XS b;
    std::memcpy(&b, block, sizeof b);
    out.d = fp16_to_fp32(b.d);
    out.dmin = out.d;
    for (int s = 0; s < 8; ++s) {
      int ls = ((b.scales_l[s / 2] >> (4 * (s % 2))) & 0x0f) | (((b.scales_h >> (2 * s)) & 3) << 4);
      for (int half = 0; half < 2; ++half) {
        out.scale[2 * s + half] = ls - 32;
        out.min[2 * s + half] = 128 * (ls - 32);
      }
      for (int j = 0; j < 16; ++j) {  // v + 128
        out.q[32 * s + j] = static_cast<uint8_t>(quant::kIq4Values[b.qs[16 * s + j] & 0x0f] + 128);
        out.q[32 * s + j + 16] =
            static_cast<uint8_t>(quant::kIq4Values[b.qs[16 * s + j] >> 4] + 128);
      }
    }
    return;
  }
  if (w_type == DType::Q2_K || w_type == DType::Q3_K) {
    // 2 low bits of element i: bits 2 * ((i / 32) % 4) of qs[32 * (i / 128) + i % 32].
    const bool three = w_type == DType::Q3_K;
    const uint8_t* qs = block + (three ? 32 : 16);
    for (int i = 0; i < kSuperBlock; ++i) {
      int q = (qs[32 * (i / 128) + i % 32] >> (2 * ((i / 32) % 4))) & 3;
      if (three) q += ((block[i % 32] >> (i / 32)) & 1) * 4;  // hmask: q3 + 4
      out.q[i] = static_cast<uint8_t>(q);
    }
    if (three) {
      int8_t sc[16];
      unpack_q3k_scales(block + 96, sc);
      out.d = load_fp16(block + 108);
      out.dmin = out.d;
      for (int g = 0; g < 16; ++g) {
        out.scale[g] = sc[g];
        out.min[g] = 4 * sc[g];
      }
    } else {  // Q2_K: scales[g] = scale (low nibble) | min (high nibble) << 4
      out.d = load_fp16(block + 80);
      out.dmin = load_fp16(block + 82);
      for (int g = 0; g < 16; ++g) {
        out.scale[g] = block[g] & 0x0f;
        out.min[g] = block[g] >> 4;
      }
    }
    return;
  }
  if (w_type == DType::Q6_K) {
    quant::BlockQ6_K b;
    std::memcpy(&b, block, sizeof b);
    out.d = fp16_to_fp32(b.d);
    out.dmin = out.d;
    for (int g = 0; g < 16; ++g) {
      out.scale[g] = b.scales[g];
      out.min[g] = 32 * b.scales[g];
    }
    // Each half of 128: ql[64] low nibbles then high nibbles, qh[32] 2 bits per 32-element run.
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b.ql + 64 * half;
      const uint8_t* qh = b.qh + 32 * half;
      uint8_t* q = out.q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        q[l] = static_cast<uint8_t>((ql[l] & 0x0f) | ((qh[l] & 3) << 4));
        q[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4));
        q[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
        q[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
      }
    }
    return;
  }
  // Q4_K and Q5_K share the header and the nibble layout; Q5_K adds qh.
  bool five = w_type == DType::Q5_K;
  const uint8_t* qs = block + (five ? 48 : 16);
  const uint8_t* qh = block + 16;
  out.d = load_fp16(block);
  out.dmin = load_fp16(block + 2);
  uint8_t scale[8], min[8];
  unpack_k_scales(block + 4, scale, min);
  for (int s = 0; s < 8; ++s) {
    for (int half = 0; half < 2; ++half) {
      out.scale[2 * s + half] = scale[s];
      out.min[2 * s + half] = min[s];
    }
    const uint8_t* pair = qs + 32 * (s / 2);  // sub-blocks 2p / 2p + 1: low / high nibbles
    for (int l = 0; l < 32; ++l) {
      int value = (s % 2 == 0) ? (pair[l] & 0x0f) : (pair[l] >> 4);
      if (five) value |= ((qh[l] >> s) & 1) << 4;
      out.q[32 * s + l] = static_cast<uint8_t>(value);
    }
  }
}

PathKernels scalar_kernels(DType w_type) {
  PathKernels k;
  if (w_type == DType::F32 || w_type == DType::F16 || w_type == DType::BF16) {
    k.kernel = kernel_float;
  } else if (is_legacy(w_type) || is_k_type(w_type)) {
    k.kernel = kernel_quant;
    k.quantize = quantize_scalar;
  }
  return k;
}

}  // namespace mx::matmul_detail
