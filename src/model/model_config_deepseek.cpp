// DeepSeek-V2/V3 (GGUF arch "deepseek2"; HF model_type deepseek_v2 / deepseek_v3 / kimi_k2):
// the MLA and MoE parts of ModelConfig, from config.json or from llama.cpp's GGUF keys.
//
// MLA in ModelConfig's GQA terms: n_kv_heads = n_heads and head_dim = qk_nope + qk_rope (what
// a plain multi-head model with the same queries would have), rope_dims = qk_rope. The cache
// does not use those (KvCacheStorage stores the latent; see MlaConfig).
//
// YaRN: every released DeepSeek config has mscale == mscale_all_dim (so cos/sin are unscaled);
// GGUF stores only mscale_all_dim (as rope.scaling.yarn_log_multiplier = 0.1 * mscale_all_dim),
// and llama.cpp assumes mscale == mscale_all_dim for deepseek2 the same way; so do we.
#include <fmt/format.h>

#include <cmath>

#include "io/gguf.h"
#include "model/model_config.h"

namespace mx {
namespace {

// yarn_get_mscale of transformers' DeepSeek modeling.
float yarn_mscale(float factor, float mscale) {
  return factor <= 1.0f ? 1.0f : 0.1f * mscale * std::log(factor) + 1.0f;
}

Status check_mla(const ModelConfig& c, const std::string& source) {
  const MlaConfig& m = c.mla;
  if (m.kv_lora_rank <= 0 || m.qk_nope_dim <= 0 || m.qk_rope_dim <= 0 || m.v_head_dim <= 0 ||
      m.q_lora_rank < 0 || m.qk_rope_dim % 2 != 0) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: MLA sizes must be positive (kv_lora_rank {}, qk_nope_head_dim {}, "
                      "qk_rope_head_dim {} (even), v_head_dim {}, q_lora_rank {} >= 0)",
                      source, m.kv_lora_rank, m.qk_nope_dim, m.qk_rope_dim, m.v_head_dim,
                      m.q_lora_rank);
  }
  const MoeConfig& e = c.moe;
  if (e.enabled() && (e.n_experts_used <= 0 || e.n_experts_used > e.n_experts ||
                      e.expert_ffn_hidden <= 0 || e.n_groups <= 0 ||
                      e.n_experts % e.n_groups != 0 || e.n_groups_used <= 0 ||
                      e.n_groups_used > e.n_groups || e.first_dense_layers < 0)) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: MoE sizes are inconsistent: {} experts, {} used, expert ffn {}, {} "
                      "groups ({} used), first {} layers dense",
                      source, e.n_experts, e.n_experts_used, e.expert_ffn_hidden, e.n_groups,
                      e.n_groups_used, e.first_dense_layers);
  }
  return ok_status();
}

void set_gqa_view(ModelConfig& c) {
  c.n_kv_heads = c.n_heads;
  c.head_dim = c.mla.qk_head_dim();
  c.rope_dims = c.mla.qk_rope_dim;
  c.rope_interleaved = true;  // pairs (2i, 2i+1) in HF (rope_interleave) and GGUF alike
}

int64_t json_int(const nlohmann::json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

}  // namespace

float attention_softmax_scale(const ModelConfig& c) {
  float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const RopeScalingConfig& s = c.rope_scaling;
  if (c.mla.enabled() && s.kind == RopeScalingConfig::Kind::kYarn && s.mscale_all_dim != 0.0f) {
    const float m = yarn_mscale(s.factor, s.mscale_all_dim);
    scale *= m * m;
  }
  return scale;
}

Status deepseek_config_from_hf(const nlohmann::json& j, const std::string& source,
                               ModelConfig& c) {
  MlaConfig& m = c.mla;
  c.n_nextn_layers = json_int(j, "num_nextn_predict_layers", 0);  // layers after num_hidden_layers
  m.q_lora_rank = json_int(j, "q_lora_rank", 0);
  m.kv_lora_rank = json_int(j, "kv_lora_rank", 0);
  m.qk_nope_dim = json_int(j, "qk_nope_head_dim", 0);
  m.qk_rope_dim = json_int(j, "qk_rope_head_dim", 0);
  m.v_head_dim = json_int(j, "v_head_dim", 0);
  MoeConfig& e = c.moe;
  e.n_experts = json_int(j, "n_routed_experts", 0);
  if (e.enabled()) {
    e.n_experts_used = json_int(j, "num_experts_per_tok", 0);
    e.expert_ffn_hidden = json_int(j, "moe_intermediate_size", 0);
    e.n_shared_experts = json_int(j, "n_shared_experts", 0);
    e.first_dense_layers = json_int(j, "first_k_dense_replace", 0);
    const std::string scoring = j.value("scoring_func", std::string("softmax"));
    if (scoring != "softmax" && scoring != "sigmoid") {
      return make_error(ErrorCode::kUnsupported,
                        "{}: config.json scoring_func '{}' is not supported (softmax, sigmoid)",
                        source, scoring);
    }
    e.gating = scoring == "sigmoid" ? MoeConfig::Gating::kSigmoid : MoeConfig::Gating::kSoftmax;
    e.normalize_top_k = j.value("norm_topk_prob", false);
    e.routed_scaling = j.value("routed_scaling_factor", 1.0f);
    const std::string topk = j.value("topk_method", std::string("greedy"));
    if (topk != "greedy") {  // group_limited_greedy (V2), noaux_tc (V3)
      e.n_groups = json_int(j, "n_group", 1);
      e.n_groups_used = json_int(j, "topk_group", 1);
    }
    e.score_bias = topk == "noaux_tc";
  } else {
    e = MoeConfig{};
  }
  auto scaling = j.find("rope_scaling");
  if (scaling != j.end() && scaling->is_object()) {
    c.rope_scaling.mscale = scaling->value("mscale", 0.0f);
    c.rope_scaling.mscale_all_dim = scaling->value("mscale_all_dim", 0.0f);
  }
  set_gqa_view(c);
  return check_mla(c, source);
}

Status deepseek_config_from_gguf(const GgufFile& file, ModelConfig& c) {
  auto key = [](const char* suffix) { return fmt::format("deepseek2.{}", suffix); };
  MlaConfig& m = c.mla;
  MX_ASSIGN_OR_RETURN(uint32_t q_lora, file.get_u32_or(key("attention.q_lora_rank"), 0));
  MX_ASSIGN_OR_RETURN(m.kv_lora_rank, file.get_i64(key("attention.kv_lora_rank")));
  MX_ASSIGN_OR_RETURN(m.qk_rope_dim, file.get_i64(key("rope.dimension_count")));
  // llama.cpp's converter writes key_length = kv_lora + rope (the absorbed "MQA" head) and the
  // real head sizes as key_length_mla / value_length_mla; older files only the latter pair.
  uint32_t k_mla = 0, v_mla = 0;
  MX_ASSIGN_OR_RETURN(k_mla, file.get_u32_or(key("attention.key_length_mla"), 0));
  MX_ASSIGN_OR_RETURN(v_mla, file.get_u32_or(key("attention.value_length_mla"), 0));
  if (k_mla == 0) {
    MX_ASSIGN_OR_RETURN(k_mla, file.get_u32(key("attention.key_length")));
  }
  if (v_mla == 0) {
    MX_ASSIGN_OR_RETURN(v_mla, file.get_u32(key("attention.value_length")));
  }
  m.q_lora_rank = q_lora;
  m.qk_nope_dim = static_cast<int64_t>(k_mla) - m.qk_rope_dim;
  m.v_head_dim = v_mla;
  MoeConfig& e = c.moe;
  MX_ASSIGN_OR_RETURN(uint32_t n_experts, file.get_u32_or(key("expert_count"), 0));
  MX_ASSIGN_OR_RETURN(uint32_t dense_lead,
                      file.get_u32_or(key("leading_dense_block_count"), 0));
  e.n_experts = dense_lead >= c.n_layers ? 0 : n_experts;
  if (e.enabled()) {
    MX_ASSIGN_OR_RETURN(uint32_t used, file.get_u32(key("expert_used_count")));
    MX_ASSIGN_OR_RETURN(uint32_t ffn, file.get_u32(key("expert_feed_forward_length")));
    MX_ASSIGN_OR_RETURN(uint32_t shared, file.get_u32_or(key("expert_shared_count"), 0));
    MX_ASSIGN_OR_RETURN(uint32_t gating, file.get_u32_or(key("expert_gating_func"), 1));
    MX_ASSIGN_OR_RETURN(uint32_t groups, file.get_u32_or(key("expert_group_count"), 1));
    MX_ASSIGN_OR_RETURN(uint32_t groups_used, file.get_u32_or(key("expert_group_used_count"), 1));
    MX_ASSIGN_OR_RETURN(e.routed_scaling, file.get_f32_or(key("expert_weights_scale"), 1.0f));
    MX_ASSIGN_OR_RETURN(e.normalize_top_k, file.get_bool_or(key("expert_weights_norm"), false));
    if (gating != 1 && gating != 2) {
      return make_error(ErrorCode::kUnsupported,
                        "{}: deepseek2.expert_gating_func {} is not supported (1 softmax, 2 "
                        "sigmoid)",
                        file.source(), gating);
    }
    e.n_experts_used = used;
    e.expert_ffn_hidden = ffn;
    e.n_shared_experts = shared;
    e.first_dense_layers = dense_lead;
    e.gating = gating == 2 ? MoeConfig::Gating::kSigmoid : MoeConfig::Gating::kSoftmax;
    e.n_groups = std::max<uint32_t>(groups, 1);
    e.n_groups_used = std::max<uint32_t>(groups_used, 1);
    e.score_bias = file.find_tensor(fmt::format("blk.{}.exp_probs_b.bias", dense_lead)) != nullptr;
  }
  if (c.rope_scaling.kind == RopeScalingConfig::Kind::kYarn) {
    MX_ASSIGN_OR_RETURN(float log_mul,
                        file.get_f32_or(key("rope.scaling.yarn_log_multiplier"), 0.0f));
    c.rope_scaling.mscale_all_dim = log_mul / 0.1f;
    c.rope_scaling.mscale = c.rope_scaling.mscale_all_dim;
  }
  set_gqa_view(c);
  return check_mla(c, file.source());
}

}  // namespace mx
