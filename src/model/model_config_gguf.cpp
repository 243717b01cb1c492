// ModelConfig from GGUF metadata, with llama.cpp's key names ("<arch>.block_count", ...).
#include <fmt/format.h>

#include <cstring>

#include "io/gguf.h"
#include "model/model_config.h"

namespace mx {
namespace {

Status read_rope_scaling(const GgufFile& file, const std::string& arch, ModelConfig& c) {
  auto key = [&](const char* suffix) { return fmt::format("{}.{}", arch, suffix); };
  std::string kind = "none";
  if (file.find(key("rope.scaling.type")) != nullptr) {
    MX_ASSIGN_OR_RETURN(std::string_view type, file.get_string(key("rope.scaling.type")));
    kind = std::string(type);
  }
  RopeScalingConfig& s = c.rope_scaling;
  MX_ASSIGN_OR_RETURN(s.factor, file.get_f32_or(key("rope.scaling.factor"), 1.0f));
  MX_ASSIGN_OR_RETURN(uint32_t original,
                      file.get_u32_or(key("rope.scaling.original_context_length"),
                                      static_cast<uint32_t>(c.context_length)));
  s.original_context = original;
  if (kind == "none") {
    s.kind = RopeScalingConfig::Kind::kNone;
  } else if (kind == "linear") {
    s.kind = RopeScalingConfig::Kind::kLinear;
  } else if (kind == "yarn") {
    s.kind = RopeScalingConfig::Kind::kYarn;
    MX_ASSIGN_OR_RETURN(s.beta_fast, file.get_f32_or(key("rope.scaling.yarn_beta_fast"), 32.0f));
    MX_ASSIGN_OR_RETURN(s.beta_slow, file.get_f32_or(key("rope.scaling.yarn_beta_slow"), 1.0f));
    MX_ASSIGN_OR_RETURN(s.attention_factor, file.get_f32_or(key("rope.scaling.attn_factor"), 0.0f));
  } else {
    return make_error(ErrorCode::kUnsupported,
                      "{}: {}.rope.scaling.type '{}' is not supported (none, linear, yarn)",
                      file.source(), arch, kind);
  }
  if (s.kind == RopeScalingConfig::Kind::kNone) s.factor = 1.0f;
  return ok_status();
}

// Llama-3 scaling is stored by llama.cpp as per-frequency divisors in rope_freqs.weight.
Status read_rope_freqs(const GgufFile& file, ModelConfig& c) {
  const GgufTensor* freqs = file.find_tensor("rope_freqs.weight");
  if (freqs == nullptr) return ok_status();
  if (freqs->dtype != DType::F32 || freqs->numel() != c.rope_dims / 2) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: tensor 'rope_freqs.weight' must be F32 with {} values (rotary dims / "
                      "2), found {} {} values",
                      file.source(), c.rope_dims / 2, dtype_name(freqs->dtype), freqs->numel());
  }
  c.rope_freq_factors.resize(static_cast<size_t>(freqs->numel()));
  std::memcpy(c.rope_freq_factors.data(), freqs->data, freqs->nbytes);
  return ok_status();
}

// The expert keys llama.cpp writes for MoE architectures ("<arch>.expert_count", ...).
// qwen3moe: softmax router, top-k weights renormalized (llama.cpp always renormalizes for this
// architecture; "<arch>.expert_weights_norm" may say otherwise).
Status read_moe(const GgufFile& file, const std::string& arch, ModelConfig& c) {
  auto key = [&](const char* suffix) { return fmt::format("{}.{}", arch, suffix); };
  MoeConfig& moe = c.moe;
  MX_ASSIGN_OR_RETURN(moe.n_experts, file.get_i64(key("expert_count")));
  MX_ASSIGN_OR_RETURN(moe.n_experts_used, file.get_i64(key("expert_used_count")));
  MX_ASSIGN_OR_RETURN(moe.expert_ffn_hidden, file.get_i64(key("expert_feed_forward_length")));
  MX_ASSIGN_OR_RETURN(moe.normalize_top_k, file.get_bool_or(key("expert_weights_norm"), true));
  MX_ASSIGN_OR_RETURN(float scale, file.get_f32_or(key("expert_weights_scale"), 0.0f));
  moe.routed_scaling = scale > 0.0f ? scale : 1.0f;  // 0: not set (llama.cpp's default)
  moe.gating = MoeConfig::Gating::kSoftmax;
  if (moe.n_experts <= 0) {
    return make_error(ErrorCode::kCorruptData, "{}: {} must be positive for a {} model, got {}",
                      file.source(), key("expert_count"), arch, moe.n_experts);
  }
  return ok_status();
}

}  // namespace

Result<ModelConfig> model_config_from_gguf(const GgufFile& file) {
  MX_ASSIGN_OR_RETURN(std::string_view arch_view, file.get_string("general.architecture"));
  std::string arch(arch_view);
  ModelConfig c;
  if (arch == "llama") {
    c.arch = Arch::kLlama;
    c.rope_interleaved = true;  // llama.cpp's converter permuted Q/K for interleaved RoPE
  } else if (arch == "qwen2") {
    c.arch = Arch::kQwen2;
    c.qkv_bias = true;
  } else if (arch == "qwen3") {
    c.arch = Arch::kQwen3;
    c.qk_norm = true;
  } else if (arch == "qwen3moe") {
    c.arch = Arch::kQwen3Moe;
    c.qk_norm = true;
    MX_RETURN_IF_ERROR(read_moe(file, arch, c));
  } else if (arch == "deepseek2") {
    c.arch = Arch::kDeepseek2;
  } else if (arch == "glm4moe") {
    c.arch = Arch::kGlm4Moe;
  } else if (arch == "minimax-m2") {
    c.arch = Arch::kMinimaxM2;
  } else {
    return make_error(ErrorCode::kUnsupported,
                      "{}: general.architecture '{}' is not supported (llama, qwen2, qwen3, "
                      "qwen3moe, deepseek2, glm4moe, minimax-m2)",
                      file.source(), arch);
  }
  auto key = [&](const char* suffix) { return fmt::format("{}.{}", arch, suffix); };
  MX_ASSIGN_OR_RETURN(c.n_layers, file.get_i64(key("block_count")));
  // block_count includes the MTP ("nextn") layers stored after the main stack.
  MX_ASSIGN_OR_RETURN(uint32_t nextn, file.get_u32_or(key("nextn_predict_layers"), 0));
  if (nextn >= c.n_layers && nextn > 0) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: {}.nextn_predict_layers ({}) must be below block_count ({})",
                      file.source(), arch, nextn, c.n_layers);
  }
  c.n_nextn_layers = nextn;
  c.n_layers -= c.n_nextn_layers;
  MX_ASSIGN_OR_RETURN(c.d_model, file.get_i64(key("embedding_length")));
  MX_ASSIGN_OR_RETURN(c.ffn_hidden, file.get_i64(key("feed_forward_length")));
  MX_ASSIGN_OR_RETURN(c.n_heads, file.get_i64(key("attention.head_count")));
  MX_ASSIGN_OR_RETURN(c.rms_eps, file.get_f32(key("attention.layer_norm_rms_epsilon")));
  MX_ASSIGN_OR_RETURN(uint32_t n_kv, file.get_u32_or(key("attention.head_count_kv"),
                                                     static_cast<uint32_t>(c.n_heads)));
  c.n_kv_heads = n_kv;
  const uint32_t default_head_dim = c.n_heads > 0 ? static_cast<uint32_t>(c.d_model / c.n_heads) : 0;
  MX_ASSIGN_OR_RETURN(uint32_t head_dim, file.get_u32_or(key("attention.key_length"), default_head_dim));
  c.head_dim = head_dim;
  MX_ASSIGN_OR_RETURN(uint32_t context, file.get_u32_or(key("context_length"), 4096));
  c.context_length = context;
  MX_ASSIGN_OR_RETURN(c.rope_theta, file.get_f32_or(key("rope.freq_base"), 10000.0f));
  MX_ASSIGN_OR_RETURN(uint32_t rope_dims, file.get_u32_or(key("rope.dimension_count"), head_dim));
  c.rope_dims = rope_dims;
  const GgufTensor* embd = file.find_tensor("token_embd.weight");
  MX_ASSIGN_OR_RETURN(uint32_t vocab, file.get_u32_or(key("vocab_size"),
                                                      embd ? static_cast<uint32_t>(embd->ne[1]) : 0));
  c.vocab_size = vocab;
  c.tie_embeddings = file.find_tensor("output.weight") == nullptr;
  if (c.arch == Arch::kLlama) c.qkv_bias = file.find_tensor("blk.0.attn_q.bias") != nullptr;
  MX_RETURN_IF_ERROR(read_rope_scaling(file, arch, c));
  if (c.arch == Arch::kDeepseek2) MX_RETURN_IF_ERROR(deepseek_config_from_gguf(file, c));
  if (c.arch == Arch::kGlm4Moe) MX_RETURN_IF_ERROR(glm4moe_config_from_gguf(file, c));
  if (c.arch == Arch::kMinimaxM2) MX_RETURN_IF_ERROR(minimax_config_from_gguf(file, c));
  MX_RETURN_IF_ERROR(c.validate(file.source()));
  MX_RETURN_IF_ERROR(read_rope_freqs(file, c));
  return c;
}

}  // namespace mx
