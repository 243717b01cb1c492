// FP8 block-scaled weights (Hugging Face DeepSeek-V3 / Kimi-K2 style: E4M3 codes with
// weight_scale_inv) as the model binds them. They stay as loaded, one byte per weight in the
// memory-mapped file: a Matrix of type F8_E4M3 carries its codes and an Fp8Scales view of its
// F32 scale tensor, and matmul() multiplies them directly (kernels/cpu/matmul_fp8*). Only the
// few weights the model must rearrange (DeepSeek's attn_kv_b, split into per-head K and V) are
// read as floats, one tensor at a time.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "io/weight_map.h"
#include "kernels/cpu/fp8.h"

namespace mx {

// The block scales of FP8 tensor `weight` [rows, cols]: "<stem>.scale_inv" (canonical names) or
// "<name>_scale_inv" (unmapped HF names), F32 [ceil(rows / block.rows), ceil(cols /
// block.cols)]. Errors name the weight and what is missing.
Result<Fp8Scales> fp8_scales_of(const WeightMap& weights, const TensorInfo& weight,
                                Fp8BlockShape block);

// All elements of FP8 tensor `weight` [rows, cols] as float32: value(code) * its block scale.
Result<std::vector<float>> fp8_tensor_values(const WeightMap& weights, const TensorInfo& weight,
                                             Fp8BlockShape block);

}  // namespace mx
