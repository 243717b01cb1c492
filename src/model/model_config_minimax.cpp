// MiniMax-M2 / M2.1 (HF MiniMaxM2ForCausalLM, model_type minimax_m2; GGUF arch "minimax-m2"):
// the fields of ModelConfig beyond the common ones, from config.json or llama.cpp's GGUF keys.
//
// MiniMax-M2 in ModelConfig's terms: full attention in every layer, GQA, no biases; when
// use_qk_norm (qk_norm_type "per_layer", every release) one RMSNorm over the whole projected q
// (n_heads * head_dim wide) and one over the whole k, before RoPE (qk_norm_full_width); rotary
// embedding on the first rotary_dim dims of each head (64 of 128), rotate-half (NeoX) within them
// in HF and GGUF alike; every layer a MoE FFN: sigmoid router, e_score_correction_bias added for
// the choice only (use_routing_bias), top-k weights always divided by their sum (transformers and
// llama.cpp both), no shared expert. intermediate_size is the expert FFN width (there is no dense
// FFN). llama.cpp's converter writes rotary_dim as rope.dimension_count, intermediate_size as both
// feed_forward_length and expert_feed_forward_length, scoring_func as expert_gating_func.
#include <fmt/format.h>

#include "io/gguf.h"
#include "model/model_config.h"

namespace mx {
namespace {

int64_t json_int(const nlohmann::json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

std::string json_string(const nlohmann::json& j, const char* key, const char* fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

// rotary_dim (MiniMax's own key), else partial_rotary_factor * head_dim, else head_dim.
int64_t rotary_dims_from_hf(const nlohmann::json& j, int64_t head_dim) {
  if (int64_t dims = json_int(j, "rotary_dim", 0); dims > 0) return dims;
  auto partial = j.find("partial_rotary_factor");
  if (partial != j.end() && partial->is_number()) {
    return static_cast<int64_t>(static_cast<double>(head_dim) * partial->get<double>());
  }
  return head_dim;
}

// What mxserve does not run: shared experts, sliding-window layers, per-head q/k norm.
Status check_supported_hf(const nlohmann::json& j, const std::string& source) {
  if (int64_t shared = json_int(j, "shared_intermediate_size", 0); shared != 0) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: config.json shared_intermediate_size {} is not supported: mxserve runs "
                      "minimax_m2 models without a shared expert (0)",
                      source, shared);
  }
  auto window = j.find("attn_window_size");
  if (window != j.end() && !window->is_null() && !(window->is_number() && *window <= 0)) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: config.json attn_window_size {} is not supported: mxserve runs "
                      "minimax_m2 models with full attention in every layer",
                      source, window->dump());
  }
  const std::string norm_type = json_string(j, "qk_norm_type", "per_layer");
  if (j.value("use_qk_norm", true) && norm_type != "per_layer") {
    return make_error(ErrorCode::kUnsupported,
                      "{}: config.json qk_norm_type '{}' is not supported (per_layer)", source,
                      norm_type);
  }
  return ok_status();
}

}  // namespace

Status minimax_config_from_hf(const nlohmann::json& j, const std::string& source, ModelConfig& c) {
  MX_RETURN_IF_ERROR(check_supported_hf(j, source));
  c.qk_norm = j.value("use_qk_norm", true);
  c.qk_norm_full_width = c.qk_norm;
  c.rope_dims = rotary_dims_from_hf(j, c.head_dim);
  c.rope_interleaved = false;
  MoeConfig& e = c.moe;
  e.n_experts = json_int(j, "num_local_experts", 0);
  e.n_experts_used = json_int(j, "num_experts_per_tok", 0);
  e.expert_ffn_hidden = c.ffn_hidden;  // intermediate_size: the experts' width
  const std::string scoring = json_string(j, "scoring_func", "sigmoid");
  if (scoring != "sigmoid" && scoring != "softmax") {
    return make_error(ErrorCode::kUnsupported,
                      "{}: config.json scoring_func '{}' is not supported (sigmoid, softmax)",
                      source, scoring);
  }
  e.gating = scoring == "sigmoid" ? MoeConfig::Gating::kSigmoid : MoeConfig::Gating::kSoftmax;
  e.score_bias = j.value("use_routing_bias", true);
  e.normalize_top_k = true;  // MiniMaxM2SparseMoeBlock always divides by the top-k sum
  e.routed_scaling = j.value("routed_scaling_factor", 1.0f);
  if (j.value("use_grouped_topk", false)) {
    e.n_groups = json_int(j, "num_expert_group", 1);
    e.n_groups_used = json_int(j, "topk_group", 1);
  }
  if (e.n_experts <= 0) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: config.json num_local_experts must be positive for minimax_m2, got {}",
                      source, e.n_experts);
  }
  return ok_status();
}

Status minimax_config_from_gguf(const GgufFile& file, ModelConfig& c) {
  auto key = [](const char* suffix) { return fmt::format("minimax-m2.{}", suffix); };
  c.qk_norm = file.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
  c.qk_norm_full_width = c.qk_norm;  // llama.cpp: attn_q_norm is [n_head * head_dim]
  c.rope_interleaved = false;        // LLAMA_ROPE_TYPE_NEOX for this arch
  MoeConfig& e = c.moe;
  MX_ASSIGN_OR_RETURN(e.n_experts, file.get_i64(key("expert_count")));
  MX_ASSIGN_OR_RETURN(e.n_experts_used, file.get_i64(key("expert_used_count")));
  MX_ASSIGN_OR_RETURN(e.expert_ffn_hidden, file.get_i64(key("expert_feed_forward_length")));
  // llama.cpp has no default for this arch (it aborts without the key); MiniMax-M2 is sigmoid.
  MX_ASSIGN_OR_RETURN(uint32_t gating, file.get_u32_or(key("expert_gating_func"), 2));
  MX_ASSIGN_OR_RETURN(float scale, file.get_f32_or(key("expert_weights_scale"), 0.0f));
  if (gating != 1 && gating != 2) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: minimax-m2.expert_gating_func {} is not supported (1 softmax, 2 "
                      "sigmoid)",
                      file.source(), gating);
  }
  e.gating = gating == 2 ? MoeConfig::Gating::kSigmoid : MoeConfig::Gating::kSoftmax;
  e.normalize_top_k = true;  // llama.cpp's graph passes norm_w = true for this arch
  e.routed_scaling = scale > 0.0f ? scale : 1.0f;  // 0: not set (llama.cpp's default)
  e.score_bias = file.find_tensor("blk.0.exp_probs_b.bias") != nullptr;
  return ok_status();
}

}  // namespace mx
