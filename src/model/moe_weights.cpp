// Binding the weights of a mixture-of-experts FFN (WeightBinder::bind_moe, layers.h): the
// router, one Matrix view per expert, the optional score bias and shared experts.
#include <fmt/format.h>

#include "kernels/cpu/matmul.h"
#include "model/layers.h"

namespace mx {

// GGUF: one 3-D tensor "<prefix><stem>.weight" [n_experts, rows, cols], expert e's rows start at
// e * rows * row_bytes. HF folders: "<prefix><stem>.<e>.weight" [rows, cols] per expert.
Result<std::vector<Matrix>> WeightBinder::experts(const std::string& prefix, const char* stem,
                                                  int64_t rows, int64_t cols) {
  const int64_t n_experts = config_.moe.n_experts;
  std::vector<Matrix> out;
  out.reserve(static_cast<size_t>(n_experts));
  const std::string stacked = prefix + stem + ".weight";
  const TensorInfo* t = weights_.find(stacked);
  if (t == nullptr) {  // one tensor per expert
    for (int64_t e = 0; e < n_experts; ++e) {
      MX_ASSIGN_OR_RETURN(Matrix m, matrix(fmt::format("{}{}.{}.weight", prefix, stem, e), rows,
                                           cols));
      out.push_back(m);
    }
    return out;
  }
  if (t->shape != std::vector<int64_t>{n_experts, rows, cols}) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: tensor '{}' has shape [{}], but the model config needs [{}, {}, {}] "
                      "(experts, rows, cols)",
                      weights_.source, stacked, fmt::join(t->shape, ", "), n_experts, rows, cols);
  }
  if (!matmul_supports(t->dtype)) {
    return make_error(
        ErrorCode::kUnsupported,
        "{}: tensor '{}' is stored as {}, which mxserve cannot multiply yet; "
        "re-quantize the model to f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, "
        "q4_K, q5_K, q6_K, iq4_nl, iq4_xs, mxfp4, iq3_xxs, iq3_s, iq2_xxs, iq2_xs, iq2_s, "
        "iq1_s, iq1_m, tq1_0 or tq2_0",
        weights_.source, stacked, dtype_name(t->dtype));
  }
  const auto bytes = row_bytes(t->dtype, static_cast<uint64_t>(cols));
  if (!bytes || *bytes * static_cast<uint64_t>(rows * n_experts) != t->nbytes) {
    return make_error(ErrorCode::kCorruptData, "{}: tensor '{}' holds {} bytes, not {} experts of "
                      "[{}, {}] {}", weights_.source, stacked, t->nbytes, n_experts, rows, cols,
                      dtype_name(t->dtype));
  }
  Matrix all{t->dtype, t->data, n_experts * rows, cols};
  if (t->dtype == DType::I8) {  // W8A8: scales [n_experts, rows], sliced with the rows
    MX_ASSIGN_OR_RETURN(all.row_scale, row_scales(*t));
  }
  for (int64_t e = 0; e < n_experts; ++e) out.push_back(all.row_slice(e * rows, rows));
  return out;
}

Status WeightBinder::bind_moe(int64_t layer, MoeWeights& out) {
  const ModelConfig& c = config_;
  const MoeConfig& moe = c.moe;
  const std::string p = fmt::format("blk.{}.", layer);
  const int64_t d = c.d_model;
  const int64_t f = moe.expert_ffn_hidden;
  MX_ASSIGN_OR_RETURN(out.router, matrix(p + "ffn_gate_inp.weight", moe.n_experts, d));
  if (moe.score_bias) {
    MX_ASSIGN_OR_RETURN(out.score_bias, vector(p + "exp_probs_b.bias", moe.n_experts));
  }
  MX_ASSIGN_OR_RETURN(out.gate, experts(p, "ffn_gate_exps", f, d));
  MX_ASSIGN_OR_RETURN(out.up, experts(p, "ffn_up_exps", f, d));
  MX_ASSIGN_OR_RETURN(out.down, experts(p, "ffn_down_exps", d, f));
  if (moe.n_shared_experts > 0) {
    const int64_t shared = moe.n_shared_experts * f;
    MX_ASSIGN_OR_RETURN(out.shared_gate, matrix(p + "ffn_gate_shexp.weight", shared, d));
    MX_ASSIGN_OR_RETURN(out.shared_up, matrix(p + "ffn_up_shexp.weight", shared, d));
    MX_ASSIGN_OR_RETURN(out.shared_down, matrix(p + "ffn_down_shexp.weight", d, shared));
  }
  return ok_status();
}

}  // namespace mx
