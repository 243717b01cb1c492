#include "model/model_config.h"

namespace mx {
namespace {

template <typename T>
Result<T> required(const nlohmann::json& config, const char* key, const std::string& source) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) {
    return make_error(ErrorCode::kCorruptData, "{}: config.json has no '{}'", source, key);
  }
  if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer()) {
      return make_error(ErrorCode::kCorruptData, "{}: config.json '{}' must be an integer", source,
                        key);
    }
  } else {
    if (!it->is_number()) {
      return make_error(ErrorCode::kCorruptData, "{}: config.json '{}' must be a number", source,
                        key);
    }
  }
  return it->get<T>();
}

Result<RopeScalingConfig> rope_scaling_from_hf(const nlohmann::json& config, const std::string& source) {
  RopeScalingConfig scaling;
  auto it = config.find("rope_scaling");
  if (it == config.end() || it->is_null()) return scaling;
  if (!it->is_object()) {
    return make_error(ErrorCode::kCorruptData, "{}: config.json 'rope_scaling' must be an object",
                      source);
  }
  const nlohmann::json& s = *it;
  std::string kind = s.value("rope_type", s.value("type", std::string("default")));
  auto number = [&](const char* key, float fallback) {
    auto found = s.find(key);
    return found != s.end() && found->is_number() ? found->get<float>() : fallback;
  };
  scaling.factor = number("factor", 1.0f);
  scaling.original_context = static_cast<int64_t>(number(
      "original_max_position_embeddings", config.value("max_position_embeddings", 0.0f)));
  if (kind == "default") {
    scaling.kind = RopeScalingConfig::Kind::kNone;
  } else if (kind == "linear") {
    scaling.kind = RopeScalingConfig::Kind::kLinear;
  } else if (kind == "llama3") {
    scaling.kind = RopeScalingConfig::Kind::kLlama3;
    scaling.low_freq_factor = number("low_freq_factor", 1.0f);
    scaling.high_freq_factor = number("high_freq_factor", 4.0f);
  } else if (kind == "yarn") {
    scaling.kind = RopeScalingConfig::Kind::kYarn;
    scaling.beta_fast = number("beta_fast", 32.0f);
    scaling.beta_slow = number("beta_slow", 1.0f);
    scaling.attention_factor = number("attention_factor", 0.0f);
  } else {
    return make_error(ErrorCode::kUnsupported,
                      "{}: rope_scaling type '{}' is not supported (supported: default, linear, "
                      "llama3, yarn)",
                      source, kind);
  }
  return scaling;
}

// Qwen3-MoE (model_type qwen3_moe): every layer sparse unless decoder_sparse_step or
// mlp_only_layers say otherwise, which mxserve (like llama.cpp's qwen3moe) does not support.
Status qwen3_moe_from_hf(const nlohmann::json& config, const std::string& source, MoeConfig& moe) {
  MX_ASSIGN_OR_RETURN(moe.n_experts, required<int64_t>(config, "num_experts", source));
  MX_ASSIGN_OR_RETURN(moe.n_experts_used, required<int64_t>(config, "num_experts_per_tok", source));
  MX_ASSIGN_OR_RETURN(moe.expert_ffn_hidden,
                      required<int64_t>(config, "moe_intermediate_size", source));
  moe.normalize_top_k = config.value("norm_topk_prob", false);
  moe.gating = MoeConfig::Gating::kSoftmax;
  const int64_t sparse_step = config.value("decoder_sparse_step", int64_t{1});
  if (sparse_step != 1) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: config.json decoder_sparse_step {} is not supported: mxserve runs "
                      "qwen3_moe models whose every layer is a MoE layer (decoder_sparse_step 1)",
                      source, sparse_step);
  }
  auto dense = config.find("mlp_only_layers");
  if (dense != config.end() && !dense->is_null() && !(dense->is_array() && dense->empty())) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: config.json mlp_only_layers {} is not supported: mxserve runs qwen3_moe "
                      "models whose every layer is a MoE layer (mlp_only_layers [])",
                      source, dense->dump());
  }
  return ok_status();
}

}  // namespace

const char* arch_name(Arch arch) {
  switch (arch) {
    case Arch::kLlama: return "llama";
    case Arch::kQwen2: return "qwen2";
    case Arch::kQwen3: return "qwen3";
    case Arch::kQwen3Moe: return "qwen3moe";
    case Arch::kDeepseek2: return "deepseek2";
    case Arch::kGlm4Moe: return "glm4moe";
    case Arch::kMinimaxM2:
      return "minimax-m2";  // llama.cpp's GGUF name
  }
  return "unknown";
}

Status ModelConfig::validate(const std::string& source) const {
  auto positive = [&](int64_t value, const char* name) -> Status {
    if (value > 0 && value < (int64_t{1} << 31)) return ok_status();
    return make_error(ErrorCode::kCorruptData, "{}: {} must be a positive size, got {}", source,
                      name, value);
  };
  MX_RETURN_IF_ERROR(positive(n_layers, "block count (num_hidden_layers)"));
  MX_RETURN_IF_ERROR(positive(d_model, "embedding length (hidden_size)"));
  MX_RETURN_IF_ERROR(positive(n_heads, "head count (num_attention_heads)"));
  MX_RETURN_IF_ERROR(positive(n_kv_heads, "KV head count (num_key_value_heads)"));
  MX_RETURN_IF_ERROR(positive(head_dim, "head dimension"));
  MX_RETURN_IF_ERROR(positive(ffn_hidden, "feed-forward length (intermediate_size)"));
  MX_RETURN_IF_ERROR(positive(vocab_size, "vocabulary size"));
  if (n_heads % n_kv_heads != 0) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: head count {} is not a multiple of the KV head count {}", source,
                      n_heads, n_kv_heads);
  }
  if (rope_dims <= 0 || rope_dims > head_dim || rope_dims % 2 != 0) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: rotary dimensions {} must be even and at most the head dimension {}",
                      source, rope_dims, head_dim);
  }
  if (!(rms_eps > 0.0f) || !(rope_theta > 0.0f)) {
    return make_error(ErrorCode::kCorruptData, "{}: rms epsilon and rope theta must be positive",
                      source);
  }
  if (!rope_freq_factors.empty() && static_cast<int64_t>(rope_freq_factors.size()) != rope_dims / 2) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: rope_freqs has {} entries, expected rotary dims / 2 = {}", source,
                      rope_freq_factors.size(), rope_dims / 2);
  }
  return moe.validate(source);
}

Status MoeConfig::validate(const std::string& source) const {
  if (!enabled()) return ok_status();
  auto fail = [&](std::string_view what) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: inconsistent mixture-of-experts config: {} (experts {}, used {}, "
                      "groups {}, groups used {}, expert FFN {})",
                      source, what, n_experts, n_experts_used, n_groups, n_groups_used,
                      expert_ffn_hidden);
  };
  if (n_experts >= (int64_t{1} << 16)) return fail("at most 65535 experts");
  if (n_experts_used <= 0 || n_experts_used > n_experts) {
    return fail("experts used per token must be between 1 and the expert count");
  }
  if (expert_ffn_hidden <= 0 || expert_ffn_hidden >= (int64_t{1} << 31)) {
    return fail("the expert FFN size must be positive");
  }
  if (n_shared_experts < 0 || first_dense_layers < 0) {
    return fail("shared experts and leading dense layers must not be negative");
  }
  if (n_groups <= 0 || n_experts % n_groups != 0 || n_groups_used <= 0 ||
      n_groups_used > n_groups) {
    return fail("the expert groups must divide the experts, and 1 <= groups used <= groups");
  }
  if (n_groups > 1 && (n_experts / n_groups < 2 ||
                       n_groups_used * (n_experts / n_groups) < n_experts_used)) {
    return fail("each group needs 2 or more experts and the groups used must hold the top-k");
  }
  if (!(routed_scaling > 0.0f)) return fail("routed scaling must be positive");
  return ok_status();
}

Result<ModelConfig> model_config_from_hf(const nlohmann::json& config, const std::string& source) {
  if (!config.is_object()) {
    return make_error(ErrorCode::kCorruptData, "{}: config.json is not an object", source);
  }
  ModelConfig c;
  std::string type = config.value("model_type", std::string());
  if (type == "llama") {
    c.arch = Arch::kLlama;
  } else if (type == "qwen2") {
    c.arch = Arch::kQwen2;
    c.qkv_bias = true;
  } else if (type == "qwen3") {
    c.arch = Arch::kQwen3;
    c.qk_norm = true;
  } else if (type == "qwen3_moe") {
    c.arch = Arch::kQwen3Moe;
    c.qk_norm = true;
    MX_RETURN_IF_ERROR(qwen3_moe_from_hf(config, source, c.moe));
  } else if (type == "deepseek_v2" || type == "deepseek_v3" || type == "kimi_k2") {
    c.arch = Arch::kDeepseek2;
  } else if (type == "glm4_moe") {
    c.arch = Arch::kGlm4Moe;
  } else if (type == "minimax_m2") {
    c.arch = Arch::kMinimaxM2;
  } else {
    return make_error(ErrorCode::kUnsupported,
                      "{}: model_type '{}' is not supported (supported: llama, qwen2, qwen3, "
                      "qwen3_moe, deepseek_v2, deepseek_v3, kimi_k2, glm4_moe, minimax_m2)",
                      source, type);
  }
  MX_ASSIGN_OR_RETURN(c.n_layers, required<int64_t>(config, "num_hidden_layers", source));
  MX_ASSIGN_OR_RETURN(c.d_model, required<int64_t>(config, "hidden_size", source));
  MX_ASSIGN_OR_RETURN(c.n_heads, required<int64_t>(config, "num_attention_heads", source));
  MX_ASSIGN_OR_RETURN(c.ffn_hidden, required<int64_t>(config, "intermediate_size", source));
  MX_ASSIGN_OR_RETURN(c.vocab_size, required<int64_t>(config, "vocab_size", source));
  MX_ASSIGN_OR_RETURN(c.rms_eps, required<float>(config, "rms_norm_eps", source));
  c.n_kv_heads = config.value("num_key_value_heads", c.n_heads);
  auto head_dim = config.find("head_dim");
  c.head_dim = head_dim != config.end() && head_dim->is_number_integer()
                   ? head_dim->get<int64_t>()
                   : (c.n_heads > 0 ? c.d_model / c.n_heads : 0);
  c.context_length = config.value("max_position_embeddings", int64_t{4096});
  c.rope_theta = config.value("rope_theta", 10000.0f);
  c.rope_dims = c.head_dim;
  c.rope_interleaved = false;  // HF layout: rotate-half
  MX_ASSIGN_OR_RETURN(c.rope_scaling, rope_scaling_from_hf(config, source));
  c.tie_embeddings = config.value("tie_word_embeddings", false);
  if (c.arch == Arch::kLlama) c.qkv_bias = config.value("attention_bias", false);
  if (c.arch == Arch::kDeepseek2) MX_RETURN_IF_ERROR(deepseek_config_from_hf(config, source, c));
  if (c.arch == Arch::kGlm4Moe) MX_RETURN_IF_ERROR(glm4moe_config_from_hf(config, source, c));
  if (c.arch == Arch::kMinimaxM2) MX_RETURN_IF_ERROR(minimax_config_from_hf(config, source, c));
  MX_RETURN_IF_ERROR(c.validate(source));
  return c;
}

}  // namespace mx
