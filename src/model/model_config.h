// ModelConfig: the hyper-parameters of a dense transformer, from GGUF metadata or an HF
// config.json, in one struct the architectures read. Both sources give the same values for the
// same model (tests check it), except rope_interleaved: llama.cpp's converter permutes the Q/K
// rows of llama models for interleaved ("normal") RoPE, an HF folder keeps rotate-half (NeoX).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace mx {

enum class Arch { kLlama, kQwen2, kQwen3, kQwen3Moe, kDeepseek2, kGlm4Moe, kMinimaxM2 };

const char* arch_name(Arch arch);

struct RopeScalingConfig {
  enum class Kind { kNone, kLinear, kLlama3, kYarn };
  Kind kind = Kind::kNone;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;   // llama3
  float high_freq_factor = 4.0f;  // llama3
  int64_t original_context = 0;   // llama3 / yarn: original_max_position_embeddings
  float beta_fast = 32.0f;        // yarn
  float beta_slow = 1.0f;         // yarn
  float attention_factor = 0.0f;  // yarn: 0 = derive as 0.1 * ln(factor) + 1
  // yarn (DeepSeek): HF rope_scaling.mscale / mscale_all_dim; 0 = unset. cos/sin are scaled by
  // mscale(factor, mscale) / mscale(factor, mscale_all_dim), the softmax scale of MLA by
  // mscale(factor, mscale_all_dim)^2 (transformers' DeepseekV3Attention).
  float mscale = 0.0f;
  float mscale_all_dim = 0.0f;
};

// Mixture-of-Experts FFN (qwen3moe, deepseek2, glm4moe, minimax-m2). n_experts == 0: a dense model.
// Router: scores = softmax(h Wr^T) or sigmoid(h Wr^T); the top n_experts_used experts are
// chosen from scores (+ score bias, deepseek-v3), only among the n_groups_used best groups when
// n_groups > 1; their weights are the scores without bias, renormalized to sum 1 when
// normalize_top_k, times routed_scaling. Shared experts (if any) run on every token.
struct MoeConfig {
  enum class Gating { kSoftmax, kSigmoid };
  int64_t n_experts = 0;
  int64_t n_experts_used = 0;      // top-k per token
  int64_t expert_ffn_hidden = 0;   // moe_intermediate_size
  int64_t n_shared_experts = 0;    // fused into one FFN of n_shared * expert_ffn_hidden
  int64_t first_dense_layers = 0;  // layers below this have a dense FFN of ffn_hidden
  Gating gating = Gating::kSoftmax;
  bool normalize_top_k = true;
  float routed_scaling = 1.0f;     // deepseek routed_scaling_factor
  int64_t n_groups = 1;            // group-limited routing (deepseek-v3 n_group)
  int64_t n_groups_used = 1;       // topk_group
  bool score_bias = false;         // e_score_correction_bias, for selection only

  bool enabled() const { return n_experts > 0; }
  // Checks counts and groups are consistent (a no-op for dense models).
  Status validate(const std::string& source) const;
  bool is_moe_layer(int64_t layer) const { return enabled() && layer >= first_dense_layers; }
};

// Multi-head Latent Attention (deepseek2 / deepseek-v3 / Kimi-K2). kv_lora_rank == 0: not MLA.
// The cache holds, per token and layer, the normalized latent (kv_lora_rank) and the shared
// rotary key (qk_rope_dim); query/key heads are qk_nope_dim + qk_rope_dim wide, values
// v_head_dim wide.
struct MlaConfig {
  int64_t q_lora_rank = 0;   // 0: q = h Wq directly (DeepSeek-V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_dim = 0;
  int64_t qk_rope_dim = 0;
  int64_t v_head_dim = 0;

  bool enabled() const { return kv_lora_rank > 0; }
  int64_t qk_head_dim() const { return qk_nope_dim + qk_rope_dim; }
  int64_t cache_width() const { return kv_lora_rank + qk_rope_dim; }  // floats per token, layer
};

struct ModelConfig {
  Arch arch = Arch::kLlama;
  int64_t n_layers = 0;
  int64_t d_model = 0;       // hidden size
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t ffn_hidden = 0;    // intermediate size
  int64_t vocab_size = 0;
  int64_t context_length = 0;  // max_position_embeddings
  float rms_eps = 1e-6f;
  float rope_theta = 10000.0f;
  int64_t rope_dims = 0;       // rotated dims per head (== head_dim for these archs)
  bool rope_interleaved = false;  // true: pairs (2i, 2i+1) (GGUF llama); false: NeoX halves
  RopeScalingConfig rope_scaling;
  // Per-frequency divisors (GGUF "rope_freqs.weight", llama3 scaling as llama.cpp stores it);
  // empty when the scaling is described by rope_scaling instead.
  std::vector<float> rope_freq_factors;
  bool tie_embeddings = false;  // output projection reuses token_embd.weight
  bool qkv_bias = false;        // qwen2
  bool qk_norm = false;         // qwen3: RMSNorm of q and k per head
  // minimax-m2: the q/k RMSNorm spans all of q (n_heads * head_dim) and all of k
  // (n_kv_heads * head_dim), not each head (its gains are that wide too).
  bool qk_norm_full_width = false;
  MoeConfig moe;
  MlaConfig mla;
  // Multi-token-prediction ("nextn") layers stored after the n_layers main layers: GGUF
  // block_count = n_layers + n_nextn_layers (and <arch>.nextn_predict_layers), HF
  // num_nextn_predict_layers with model.layers.{n_layers + i}.*. The main forward never runs
  // them; the MTP drafter does (deepseek2, glm4moe). 0: none.
  int64_t n_nextn_layers = 0;

  // Checks sizes are positive and consistent (n_heads % n_kv_heads == 0, ...); messages name
  // the field and the model source.
  Status validate(const std::string& source) const;
};

// The softmax scale of attention: 1/sqrt(head_dim), for MLA 1/sqrt(qk_nope + qk_rope) times
// yarn's mscale(factor, mscale_all_dim)^2 when set.
float attention_softmax_scale(const ModelConfig& config);

// From an HF config.json object (model_type llama / qwen2 / qwen3 / qwen3_moe / deepseek_v2 /
// deepseek_v3 / kimi_k2 / glm4_moe / minimax_m2).
Result<ModelConfig> model_config_from_hf(const nlohmann::json& config, const std::string& source);

}  // namespace mx

namespace mx {
class GgufFile;
// From GGUF metadata (general.architecture llama / qwen2 / qwen3 / qwen3moe / deepseek2 / glm4moe
// / minimax-m2 and its "<arch>.*" keys, as llama.cpp writes them) and the rope_freqs.weight
// tensor when present.
Result<ModelConfig> model_config_from_gguf(const GgufFile& file);

// DeepSeek-V2/V3 (model_config_deepseek.cpp): the MLA and MoE fields of `c`, whose common
// fields (layers, d_model, heads, vocab, rope theta, eps) the callers above have filled.
Status deepseek_config_from_hf(const nlohmann::json& config, const std::string& source,
                               ModelConfig& c);
Status deepseek_config_from_gguf(const GgufFile& file, ModelConfig& c);
// GLM-4.5 (model_config_glm4moe.cpp): biases, q/k norm, partial rotary, MoE and MTP layer count
// of `c`, after the common fields (head_dim included) are filled. From GGUF, c.n_layers comes
// in as block_count and leaves without the nextn layers.
Status glm4moe_config_from_hf(const nlohmann::json& config, const std::string& source,
                              ModelConfig& c);
Status glm4moe_config_from_gguf(const GgufFile& file, ModelConfig& c);
// MiniMax-M2 (model_config_minimax.cpp): full-width q/k norm, partial rotary and the MoE of `c`,
// after the common fields (head_dim included) are filled.
Status minimax_config_from_hf(const nlohmann::json& config, const std::string& source,
                              ModelConfig& c);
Status minimax_config_from_gguf(const GgufFile& file, ModelConfig& c);
}  // namespace mx
