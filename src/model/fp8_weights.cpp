// Finding and checking the block scales of FP8 weights (see fp8_weights.h). The HF loader
// already checked every scale tensor's shape against its weight (io/hf_weights.cpp); this checks
// again where the model binds, so a WeightMap from elsewhere cannot reach the kernels with
// scales too small for the weight.
#include "model/fp8_weights.h"

#include <fmt/format.h>

namespace mx {

Result<Fp8Scales> fp8_scales_of(const WeightMap& weights, const TensorInfo& weight,
                                Fp8BlockShape block) {
  const std::string& name = weight.name;
  const size_t suffix = name.rfind(".weight");
  const TensorInfo* scale = nullptr;
  if (suffix != std::string::npos) scale = weights.find(name.substr(0, suffix) + ".scale_inv");
  if (scale == nullptr) scale = weights.find(name + "_scale_inv");
  if (weight.shape.size() != 2 || block.rows <= 0 || block.cols <= 0) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: FP8 tensor '{}' must be 2-D with positive block sizes (got {} dims, "
                      "blocks {}x{})",
                      weights.source, name, weight.shape.size(), block.rows, block.cols);
  }
  const int64_t rows = weight.shape[0], cols = weight.shape[1];
  const std::vector<int64_t> want = {(rows + block.rows - 1) / block.rows,
                                     (cols + block.cols - 1) / block.cols};
  if (scale == nullptr || scale->dtype != DType::F32 || scale->shape != want) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: FP8 tensor '{}' [{}, {}] needs F32 block scales (weight_scale_inv) "
                      "of shape [{}, {}] for {}x{} blocks; {}",
                      weights.source, name, rows, cols, want[0], want[1], block.rows, block.cols,
                      scale == nullptr
                          ? "none found"
                          : fmt::format("'{}' is {} [{}]", scale->name, dtype_name(scale->dtype),
                                        fmt::join(scale->shape, ", ")));
  }
  return Fp8Scales{reinterpret_cast<const float*>(scale->data), want[1], block, 0};
}

Result<std::vector<float>> fp8_tensor_values(const WeightMap& weights, const TensorInfo& weight,
                                             Fp8BlockShape block) {
  MX_ASSIGN_OR_RETURN(Fp8Scales scales, fp8_scales_of(weights, weight, block));
  std::vector<float> out(static_cast<size_t>(weight.numel()));
  dequantize_fp8_e4m3_blocks(weight.data, scales.scale_inv, weight.shape[0], weight.shape[1], block,
                             out.data());
  return out;
}

}  // namespace mx
