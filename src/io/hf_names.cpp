#include "io/hf_names.h"

#include <array>
#include <utility>

namespace mx {
namespace {

using NamePair = std::pair<std::string_view, std::string_view>;

// Modules outside the layers (after the parameter suffix is split off).
constexpr std::array<NamePair, 3> kGlobalModules = {{
    {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"},
    {"lm_head", "output"},
}};

// Modules inside "model.layers.N." → "blk.N.".
constexpr std::array<NamePair, 28> kLayerModules = {{
    {"input_layernorm", "attn_norm"},
    {"post_attention_layernorm", "ffn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"self_attn.q_norm", "attn_q_norm"},
    {"self_attn.k_norm", "attn_k_norm"},
    // DeepSeek multi-head latent attention (MLA).
    {"self_attn.q_a_proj", "attn_q_a"},
    {"self_attn.q_a_layernorm", "attn_q_a_norm"},
    {"self_attn.q_b_proj", "attn_q_b"},
    {"self_attn.kv_a_proj_with_mqa", "attn_kv_a_mqa"},
    {"self_attn.kv_a_layernorm", "attn_kv_a_norm"},
    {"self_attn.kv_b_proj", "attn_kv_b"},
    // Dense FFN, MoE router and shared experts.
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
    {"mlp.gate", "ffn_gate_inp"},
    {"mlp.shared_experts.gate_proj", "ffn_gate_shexp"},
    {"mlp.shared_experts.up_proj", "ffn_up_shexp"},
    {"mlp.shared_experts.down_proj", "ffn_down_shexp"},
    // MiniMax-M2's MoE block (Mixtral's names): router.
    {"block_sparse_moe.gate", "ffn_gate_inp"},
    // Multi-token-prediction (MTP / "nextn") layer of DeepSeek-V3 and GLM-4.5.
    {"eh_proj", "nextn.eh_proj"},
    {"enorm", "nextn.enorm"},
    {"hnorm", "nextn.hnorm"},
    {"embed_tokens", "nextn.embed_tokens"},
    {"shared_head.head", "nextn.shared_head_head"},
    {"shared_head.norm", "nextn.shared_head_norm"},
}};

// Routed experts: "mlp.experts.E.<proj>" → "<stem>.E" (one tensor per expert, not stacked).
constexpr std::array<NamePair, 3> kExpertProjections = {{
    {"gate_proj", "ffn_gate_exps"},
    {"up_proj", "ffn_up_exps"},
    {"down_proj", "ffn_down_exps"},
}};

// MiniMax-M2 (Mixtral naming): "block_sparse_moe.experts.E.w1" gate, "w3" up, "w2" down.
constexpr std::array<NamePair, 3> kMixtralExpertProjections = {{
    {"w1", "ffn_gate_exps"},
    {"w3", "ffn_up_exps"},
    {"w2", "ffn_down_exps"},
}};

// Parameter suffixes: HF spelling → canonical spelling.
constexpr std::array<NamePair, 4> kSuffixes = {{
    {".weight_scale_inv", ".scale_inv"},
    {".weight", ".weight"},
    {".bias", ".bias"},
    {".e_score_correction_bias", ""},  // on mlp.gate or block_sparse_moe; see map_layer()
}};

std::optional<std::string_view> lookup(std::string_view key, const auto& table) {
  if (key.empty()) return std::nullopt;
  for (const NamePair& pair : table) {
    if (pair.first == key) return pair.second;
  }
  return std::nullopt;
}

// A decimal index without sign or leading zeros ("0", "17"; not "017", which would alias
// "17"), at most 6 digits. Consumes it and the following '.' from `text`.
std::optional<std::string_view> take_index(std::string_view& text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 6 || (digits > 1 && text[0] == '0')) return std::nullopt;
  if (digits >= text.size() || text[digits] != '.') return std::nullopt;
  std::string_view index = text.substr(0, digits);
  text.remove_prefix(digits + 1);
  return index;
}

// "mlp.experts.E.gate_proj" (with "mlp.experts." already removed) → "ffn_gate_exps.E", with
// `projections` the naming's table (kExpertProjections or kMixtralExpertProjections).
std::optional<std::string> map_expert(std::string_view rest, const auto& projections) {
  auto expert = take_index(rest);
  if (!expert) return std::nullopt;
  auto stem = lookup(rest, projections);
  if (!stem) return std::nullopt;
  return std::string(*stem) + "." + std::string(*expert);
}

// `module` is the part after "model.layers.N."; `suffix` is the HF parameter suffix.
std::optional<std::string> map_layer(std::string_view module, std::string_view suffix,
                                     std::string_view canonical_suffix) {
  if (suffix == ".e_score_correction_bias") {
    if (module == "mlp.gate" || module == "block_sparse_moe") {
      return std::string("exp_probs_b.bias");
    }
    return std::nullopt;
  }
  constexpr std::string_view kExperts = "mlp.experts.";
  constexpr std::string_view kMixtralExperts = "block_sparse_moe.experts.";
  std::optional<std::string> stem;
  if (module.starts_with(kExperts)) {
    stem = map_expert(module.substr(kExperts.size()), kExpertProjections);
  } else if (module.starts_with(kMixtralExperts)) {
    stem = map_expert(module.substr(kMixtralExperts.size()), kMixtralExpertProjections);
  } else {
    auto layer_stem = lookup(module, kLayerModules);
    if (!layer_stem) return std::nullopt;
    return std::string(*layer_stem) + std::string(canonical_suffix);
  }
  if (!stem) return std::nullopt;
  return *stem + std::string(canonical_suffix);
}

constexpr std::array<std::pair<std::string_view, HfFamily>, 10> kModelTypes = {{
    {"llama", HfFamily::kLlama},
    {"mistral", HfFamily::kLlama},
    {"qwen2", HfFamily::kQwen2},
    {"qwen3", HfFamily::kQwen3},
    {"qwen3_moe", HfFamily::kQwen3Moe},
    {"deepseek_v2", HfFamily::kDeepseek},
    {"deepseek_v3", HfFamily::kDeepseek},
    {"kimi_k2", HfFamily::kDeepseek},
    {"glm4_moe", HfFamily::kGlm4Moe},
    {"minimax_m2", HfFamily::kMinimaxM2},
}};

constexpr std::array<std::pair<std::string_view, HfFamily>, 9> kArchitectures = {{
    {"LlamaForCausalLM", HfFamily::kLlama},
    {"MistralForCausalLM", HfFamily::kLlama},
    {"Qwen2ForCausalLM", HfFamily::kQwen2},
    {"Qwen3ForCausalLM", HfFamily::kQwen3},
    {"Qwen3MoeForCausalLM", HfFamily::kQwen3Moe},
    {"DeepseekV2ForCausalLM", HfFamily::kDeepseek},
    {"DeepseekV3ForCausalLM", HfFamily::kDeepseek},
    {"Glm4MoeForCausalLM", HfFamily::kGlm4Moe},
    {"MiniMaxM2ForCausalLM", HfFamily::kMinimaxM2},
}};

}  // namespace

std::optional<std::string> hf_to_canonical_name(std::string_view hf_name) {
  std::string_view module;
  std::string_view suffix;
  std::string_view canonical_suffix;
  for (const NamePair& pair : kSuffixes) {
    if (hf_name.size() > pair.first.size() && hf_name.ends_with(pair.first)) {
      module = hf_name.substr(0, hf_name.size() - pair.first.size());
      suffix = pair.first;
      canonical_suffix = pair.second;
      break;
    }
  }
  if (suffix.empty()) return std::nullopt;
  constexpr std::string_view kLayers = "model.layers.";
  if (!module.starts_with(kLayers)) {
    if (suffix == ".e_score_correction_bias") return std::nullopt;
    auto stem = lookup(module, kGlobalModules);
    if (!stem) return std::nullopt;
    return std::string(*stem) + std::string(canonical_suffix);
  }
  std::string_view rest = module.substr(kLayers.size());
  auto layer = take_index(rest);
  if (!layer) return std::nullopt;
  auto mapped = map_layer(rest, suffix, canonical_suffix);
  if (!mapped) return std::nullopt;
  return "blk." + std::string(*layer) + "." + *mapped;
}

std::optional<HfFamily> hf_family_from_model_type(std::string_view model_type) {
  for (const auto& [name, family] : kModelTypes) {
    if (name == model_type) return family;
  }
  return std::nullopt;
}

std::optional<HfFamily> hf_family_from_architecture(std::string_view architecture) {
  for (const auto& [name, family] : kArchitectures) {
    if (name == architecture) return family;
  }
  return std::nullopt;
}

std::string_view hf_family_name(HfFamily family) {
  switch (family) {
    case HfFamily::kLlama:
      return "llama";
    case HfFamily::kQwen2:
      return "qwen2";
    case HfFamily::kQwen3:
      return "qwen3";
    case HfFamily::kQwen3Moe:
      return "qwen3_moe";
    case HfFamily::kDeepseek:
      return "deepseek";
    case HfFamily::kGlm4Moe:
      return "glm4_moe";
    case HfFamily::kMinimaxM2:
      return "minimax_m2";
  }
  return "unknown";
}

std::string_view hf_supported_model_types() {
  return "llama, mistral, qwen2, qwen3, qwen3_moe, deepseek_v2, deepseek_v3, kimi_k2, glm4_moe, "
         "minimax_m2";
}

}  // namespace mx
