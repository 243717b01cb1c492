// Load-time conversion of FP8 block-scaled weights (Hugging Face DeepSeek-V3 style, E4M3 with
// weight_scale_inv) into BF16, which the matmul kernels multiply. See fp8_weights.cpp.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "core/status.h"
#include "io/weight_map.h"
#include "kernels/cpu/fp8.h"

namespace mx {

// Replaces every F8_E4M3 tensor of `weights` by a BF16 copy kept in `owned`. Errors name a
// weight without usable block scales.
Status convert_fp8_weights(WeightMap& weights, Fp8BlockShape block,
                           std::deque<std::vector<uint8_t>>& owned);

}  // namespace mx
