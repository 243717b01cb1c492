// FP8 (E4M3, block-scaled, DeepSeek-V3 checkpoints) weights made usable: the matmul kernels do
// not multiply FP8, so each FP8 ".weight" with its ".scale_inv" is dequantized once at load
// (value(code) * scale_inv[row / block_rows][col / block_cols]) and stored as BF16 in memory the
// model owns; the WeightMap entry is replaced by the BF16 tensor. BF16 keeps the FP8 values'
// 3 mantissa bits exactly; only the product with the f32 block scale is rounded (relative error
// <= 2^-9), and it halves the memory an F32 copy would take.
#include "model/fp8_weights.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "core/half.h"
#include "kernels/cpu/fp8.h"

namespace mx {

Status convert_fp8_weights(WeightMap& weights, Fp8BlockShape block,
                           std::deque<std::vector<uint8_t>>& owned) {
  std::vector<std::string> names;
  for (const auto& [name, info] : weights.tensors()) {
    if (info.dtype == DType::F8_E4M3) names.push_back(name);
  }
  size_t converted_bytes = 0;
  for (const std::string& name : names) {
    const TensorInfo& weight = *weights.find(name);
    const std::string stem = name.substr(0, name.rfind(".weight"));
    const TensorInfo* scale = weights.find(stem + ".scale_inv");
    if (scale == nullptr) scale = weights.find(name + "_scale_inv");
    if (scale == nullptr || weight.shape.size() != 2 || scale->dtype != DType::F32) {
      return make_error(ErrorCode::kUnsupported,
                        "{}: FP8 tensor '{}' needs a 2-D shape and F32 block scales "
                        "(weight_scale_inv) to be converted",
                        weights.source, name);
    }
    const int64_t rows = weight.shape[0], cols = weight.shape[1];
    const int64_t scale_cols = (cols + block.cols - 1) / block.cols;
    std::vector<uint8_t>& bytes = owned.emplace_back(static_cast<size_t>(rows * cols * 2));
    auto* out = reinterpret_cast<uint16_t*>(bytes.data());
    std::vector<float> row(static_cast<size_t>(cols));
    const auto* scales = reinterpret_cast<const float*>(scale->data);
    for (int64_t r = 0; r < rows; ++r) {
      dequantize_fp8_e4m3_row(weight.data + r * cols, scales + (r / block.rows) * scale_cols, cols,
                              block.cols, row.data());
      for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = fp32_to_bf16(row[c]);
    }
    TensorInfo converted = weight;
    converted.dtype = DType::BF16;
    converted.data = bytes.data();
    converted.nbytes = bytes.size();
    MX_RETURN_IF_ERROR(weights.replace(std::move(converted)));
    converted_bytes += bytes.size();
  }
  if (!names.empty()) {
    spdlog::info("{}: {} FP8 weights converted to BF16 at load ({} MiB)", weights.source,
                 names.size(), converted_bytes >> 20);
  }
  return ok_status();
}

}  // namespace mx
