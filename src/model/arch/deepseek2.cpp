// DeepSeek-V2 / V2-Lite / V3 / R1, Kimi-K2 (GGUF "deepseek2"): Multi-head Latent Attention
// (MlaWeights, forward in mla_forward.cpp) and, after the first_dense_layers dense layers, an
// MoE FFN with shared experts (MoeWeights, forward in moe_forward.cpp).
//
// The latent up-projection is stored either as one matrix attn_kv_b (HF kv_b_proj; older GGUF)
// or split by llama.cpp's converter into attn_k_b (per head transposed) and attn_v_b; both are
// turned into the same F32 per-head matrices here (layers.h, MlaWeights).
#include <fmt/format.h>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quants.h"
#include "model/arch/registry.h"

namespace mx {
namespace {

Status check_shape(const TensorInfo& t, std::vector<int64_t> want, const std::string& source) {
  if (t.shape == want) return ok_status();
  return make_error(ErrorCode::kCorruptData, "{}: tensor '{}' has shape [{}], the config needs [{}]",
                    source, t.name, fmt::join(t.shape, ", "), fmt::join(want, ", "));
}

// A 3-D tensor [H, rows, cols] as a stacked matrix [H * rows, cols] in its stored type.
Result<Matrix> stacked_view(const TensorInfo& t, int64_t rows, int64_t cols,
                            const std::string& source) {
  if (!matmul_supports(t.dtype)) {
    return make_error(ErrorCode::kUnsupported, "{}: tensor '{}' is stored as {}, which mxserve "
                      "cannot multiply; re-quantize the model", source, t.name, dtype_name(t.dtype));
  }
  return Matrix{t.dtype, t.data, rows, cols};
}

// FP8 attn_kv_b stays FP8: wk_b and wv_b are views of it, heads nope + v rows apart; only the
// transposed wk_b_t is an F32 copy (from `all`, the tensor's values).
Status bind_fp8_kv_b(WeightBinder& binder, const TensorInfo& kv_b, const std::vector<float>& all,
                     MlaWeights& out) {
  const ModelConfig& c = binder.config();
  const int64_t H = c.n_heads, r = c.mla.kv_lora_rank, nope = c.mla.qk_nope_dim,
                v = c.mla.v_head_dim;
  MX_ASSIGN_OR_RETURN(Matrix stored, binder.matrix(kv_b.name, H * (nope + v), r));
  out.wk_b = stored;
  out.wv_b = stored.row_slice(nope, H * (nope + v) - nope);
  out.kv_b_head_stride = nope + v;
  std::vector<float> kt(static_cast<size_t>(H * r * nope));
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t j = 0; j < nope; ++j) {
      for (int64_t i = 0; i < r; ++i)
        kt[(h * r + i) * nope + j] = all[(h * (nope + v) + j) * r + i];
    }
  }
  out.wk_b_t = binder.own_matrix(std::move(kt), H * r, nope);
  return ok_status();
}

// wk_b [H * nope, r] (F32 copy), wk_b_t [H * r, nope], wv_b [H * v, r] from attn_kv_b (F32
// copies) or attn_k_b + attn_v_b (views of the stored tensors, plus the F32 wk_b).
Status bind_kv_b(WeightBinder& binder, const std::string& p, MlaWeights& out) {
  const ModelConfig& c = binder.config();
  const WeightMap& weights = binder.weights();
  const int64_t H = c.n_heads, r = c.mla.kv_lora_rank, nope = c.mla.qk_nope_dim,
                v = c.mla.v_head_dim;
  std::vector<float> k(static_cast<size_t>(H * nope * r)), kt(k.size()),
      vb(static_cast<size_t>(H * v * r));
  if (const TensorInfo* kv_b = weights.find(p + "attn_kv_b.weight")) {
    MX_RETURN_IF_ERROR(check_shape(*kv_b, {H * (nope + v), r}, weights.source));
    MX_ASSIGN_OR_RETURN(std::vector<float> all, binder.float_values(*kv_b));
    if (kv_b->dtype == DType::F8_E4M3) return bind_fp8_kv_b(binder, *kv_b, all, out);
    for (int64_t h = 0; h < H; ++h) {
      const float* head = &all[h * (nope + v) * r];
      std::copy(head, head + nope * r, &k[h * nope * r]);
      std::copy(head + nope * r, head + (nope + v) * r, &vb[h * v * r]);
    }
  } else {
    MX_ASSIGN_OR_RETURN(const TensorInfo* k_b, weights.get(p + "attn_k_b.weight"));
    MX_ASSIGN_OR_RETURN(const TensorInfo* v_b, weights.get(p + "attn_v_b.weight"));
    MX_RETURN_IF_ERROR(check_shape(*k_b, {H, r, nope}, weights.source));
    MX_RETURN_IF_ERROR(check_shape(*v_b, {H, v, r}, weights.source));
    // Already in the absorbed form's orientation: used as stored (quantized or not), per head.
    MX_ASSIGN_OR_RETURN(out.wk_b_t, stacked_view(*k_b, H * r, nope, weights.source));
    MX_ASSIGN_OR_RETURN(out.wv_b, stacked_view(*v_b, H * v, r, weights.source));
    MX_ASSIGN_OR_RETURN(kt, binder.float_values(*k_b));
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < r; ++i) {
        for (int64_t j = 0; j < nope; ++j) k[(h * nope + j) * r + i] = kt[(h * r + i) * nope + j];
      }
    }
    out.wk_b = binder.own_matrix(std::move(k), H * nope, r);  // the direct form's orientation
    return ok_status();
  }
  for (int64_t h = 0; h < H; ++h) {  // per-head transposed copy for the absorbed form
    for (int64_t j = 0; j < nope; ++j) {
      for (int64_t i = 0; i < r; ++i) kt[(h * r + i) * nope + j] = k[(h * nope + j) * r + i];
    }
  }
  out.wk_b = binder.own_matrix(std::move(k), H * nope, r);
  out.wk_b_t = binder.own_matrix(std::move(kt), H * r, nope);
  out.wv_b = binder.own_matrix(std::move(vb), H * v, r);
  return ok_status();
}

Status bind_mla(WeightBinder& binder, const std::string& p, LayerWeights& out) {
  const ModelConfig& c = binder.config();
  const MlaConfig& m = c.mla;
  const int64_t q_dim = c.n_heads * m.qk_head_dim();
  MlaWeights& mla = out.mla;
  if (m.q_lora_rank > 0) {
    MX_ASSIGN_OR_RETURN(mla.wq_a, binder.matrix(p + "attn_q_a.weight", m.q_lora_rank, c.d_model));
    MX_ASSIGN_OR_RETURN(mla.q_a_norm, binder.vector(p + "attn_q_a_norm.weight", m.q_lora_rank));
    MX_ASSIGN_OR_RETURN(mla.wq_b, binder.matrix(p + "attn_q_b.weight", q_dim, m.q_lora_rank));
  } else {
    MX_ASSIGN_OR_RETURN(out.wq, binder.matrix(p + "attn_q.weight", q_dim, c.d_model));
  }
  MX_ASSIGN_OR_RETURN(mla.wkv_a,
                      binder.matrix(p + "attn_kv_a_mqa.weight", m.cache_width(), c.d_model));
  MX_ASSIGN_OR_RETURN(mla.kv_a_norm, binder.vector(p + "attn_kv_a_norm.weight", m.kv_lora_rank));
  MX_RETURN_IF_ERROR(bind_kv_b(binder, p, mla));
  MX_ASSIGN_OR_RETURN(out.wo,
                      binder.matrix(p + "attn_output.weight", c.d_model, c.n_heads * m.v_head_dim));
  return ok_status();
}

Status bind_deepseek2_layer(WeightBinder& binder, int64_t layer, LayerWeights& out) {
  const ModelConfig& c = binder.config();
  const std::string p = fmt::format("blk.{}.", layer);
  MX_ASSIGN_OR_RETURN(out.attn_norm, binder.vector(p + "attn_norm.weight", c.d_model));
  MX_RETURN_IF_ERROR(bind_mla(binder, p, out));
  MX_ASSIGN_OR_RETURN(out.ffn_norm, binder.vector(p + "ffn_norm.weight", c.d_model));
  if (c.moe.is_moe_layer(layer)) return binder.bind_moe(layer, out.moe);  // moe_weights.cpp
  MX_ASSIGN_OR_RETURN(out.w_gate, binder.matrix(p + "ffn_gate.weight", c.ffn_hidden, c.d_model));
  MX_ASSIGN_OR_RETURN(out.w_up, binder.matrix(p + "ffn_up.weight", c.ffn_hidden, c.d_model));
  MX_ASSIGN_OR_RETURN(out.w_down, binder.matrix(p + "ffn_down.weight", c.d_model, c.ffn_hidden));
  return ok_status();
}

}  // namespace

const ArchSpec& deepseek2_arch() {
  static const ArchSpec spec{Arch::kDeepseek2, "deepseek2", bind_deepseek2_layer};
  return spec;
}

}  // namespace mx
