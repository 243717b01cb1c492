// GLM-4.5 / GLM-4.5-Air / GLM-4.6 (HF model_type glm4_moe; GGUF arch "glm4moe"): the fields of
// ModelConfig beyond the common ones, from config.json or from llama.cpp's GGUF keys.
//
// GLM-4.5 in ModelConfig's terms: GQA attention with q/k/v biases (attention_bias) and, when
// use_qk_norm, an RMSNorm per q/k head; rotary embedding on the first head_dim *
// partial_rotary_factor dims of each head (0.5 in every release), rotate-half (NeoX) within
// them, in HF and GGUF alike (llama.cpp's converter does not permute Q/K for this arch); the
// first first_k_dense_replace layers have a dense SwiGLU FFN, the others a MoE FFN: sigmoid
// router with e_score_correction_bias for the choice (noaux_tc), top-k weights renormalized
// when norm_topk_prob, times routed_scaling_factor, plus n_shared_experts shared experts.
// num_nextn_predict_layers MTP layers follow the main layers (ModelConfig::n_nextn_layers):
// GGUF's block_count counts them, HF's num_hidden_layers does not.
#include <fmt/format.h>

#include <cmath>

#include "io/gguf.h"
#include "model/model_config.h"

namespace mx {
namespace {

int64_t json_int(const nlohmann::json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

// partial_rotary_factor sits at the top level of config.json, or (newer transformers) inside
// rope_parameters; GLM-4.5's modeling defaults it to 0.5.
float partial_rotary_factor(const nlohmann::json& j) {
  auto top = j.find("partial_rotary_factor");
  if (top != j.end() && top->is_number()) return top->get<float>();
  auto params = j.find("rope_parameters");
  if (params != j.end() && params->is_object()) {
    auto inner = params->find("partial_rotary_factor");
    if (inner != params->end() && inner->is_number()) return inner->get<float>();
  }
  return 0.5f;
}

Status check_nextn(int64_t n_nextn, int64_t n_layers_stored, const std::string& source,
                   const char* what) {
  if (n_nextn >= 0 && n_nextn < n_layers_stored) return ok_status();
  return make_error(ErrorCode::kCorruptData,
                    "{}: {} {} must be between 0 and the {} stored layers minus one", source,
                    what, n_nextn, n_layers_stored);
}

}  // namespace

Status glm4moe_config_from_hf(const nlohmann::json& j, const std::string& source,
                              ModelConfig& c) {
  c.qkv_bias = j.value("attention_bias", false);
  c.qk_norm = j.value("use_qk_norm", false);
  const float partial = partial_rotary_factor(j);
  if (!(partial > 0.0f && partial <= 1.0f)) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: config.json partial_rotary_factor {} must be in (0, 1]", source,
                      partial);
  }
  c.rope_dims = static_cast<int64_t>(static_cast<float>(c.head_dim) * partial);  // int() in HF
  c.rope_interleaved = false;
  MoeConfig& e = c.moe;
  e.n_experts = json_int(j, "n_routed_experts", 0);
  e.n_experts_used = json_int(j, "num_experts_per_tok", 0);
  e.expert_ffn_hidden = json_int(j, "moe_intermediate_size", 0);
  e.n_shared_experts = json_int(j, "n_shared_experts", 0);
  e.first_dense_layers = json_int(j, "first_k_dense_replace", 0);
  e.gating = MoeConfig::Gating::kSigmoid;  // Glm4MoeTopkRouter: always sigmoid + bias
  e.score_bias = true;
  e.normalize_top_k = j.value("norm_topk_prob", true);
  e.routed_scaling = j.value("routed_scaling_factor", 1.0f);
  e.n_groups = json_int(j, "n_group", 1);
  e.n_groups_used = json_int(j, "topk_group", 1);
  if (e.n_experts <= 0 || e.first_dense_layers >= c.n_layers) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: config.json has n_routed_experts {} and first_k_dense_replace {} of "
                      "{} layers: mxserve runs glm4_moe models with MoE layers only",
                      source, e.n_experts, e.first_dense_layers, c.n_layers);
  }
  c.n_nextn_layers = json_int(j, "num_nextn_predict_layers", 0);
  return check_nextn(c.n_nextn_layers, c.n_layers + c.n_nextn_layers, source,
                     "num_nextn_predict_layers");
}

Status glm4moe_config_from_gguf(const GgufFile& file, ModelConfig& c) {
  auto key = [](const char* suffix) { return fmt::format("glm4moe.{}", suffix); };
  // n_layers / n_nextn_layers: model_config_from_gguf has split block_count already.
  c.qkv_bias = file.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.qk_norm = file.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
  c.rope_interleaved = false;
  MoeConfig& e = c.moe;
  MX_ASSIGN_OR_RETURN(e.n_experts, file.get_i64(key("expert_count")));
  MX_ASSIGN_OR_RETURN(e.n_experts_used, file.get_i64(key("expert_used_count")));
  MX_ASSIGN_OR_RETURN(e.expert_ffn_hidden, file.get_i64(key("expert_feed_forward_length")));
  MX_ASSIGN_OR_RETURN(uint32_t shared, file.get_u32_or(key("expert_shared_count"), 0));
  MX_ASSIGN_OR_RETURN(uint32_t dense_lead, file.get_u32_or(key("leading_dense_block_count"), 0));
  MX_ASSIGN_OR_RETURN(uint32_t gating, file.get_u32_or(key("expert_gating_func"), 2));
  MX_ASSIGN_OR_RETURN(float scale, file.get_f32_or(key("expert_weights_scale"), 0.0f));
  MX_ASSIGN_OR_RETURN(e.normalize_top_k, file.get_bool_or(key("expert_weights_norm"), false));
  MX_ASSIGN_OR_RETURN(uint32_t groups, file.get_u32_or(key("expert_group_count"), 1));
  MX_ASSIGN_OR_RETURN(uint32_t groups_used, file.get_u32_or(key("expert_group_used_count"), 1));
  if (gating != 2) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: glm4moe.expert_gating_func {} is not supported (glm4moe routes with "
                      "sigmoid scores, 2)",
                      file.source(), gating);
  }
  e.n_shared_experts = shared;
  e.first_dense_layers = dense_lead;
  e.gating = MoeConfig::Gating::kSigmoid;
  e.routed_scaling = scale > 0.0f ? scale : 1.0f;  // 0: not set (llama.cpp's default)
  e.n_groups = std::max<uint32_t>(groups, 1);
  e.n_groups_used = std::max<uint32_t>(groups_used, 1);
  e.score_bias = true;  // llama.cpp requires exp_probs_b in every MoE layer of this arch
  if (e.first_dense_layers >= c.n_layers) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: glm4moe.leading_dense_block_count {} leaves no MoE layer of {}",
                      file.source(), e.first_dense_layers, c.n_layers);
  }
  return ok_status();
}

}  // namespace mx
