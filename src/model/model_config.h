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

enum class Arch { kLlama, kQwen2, kQwen3 };

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

  // Checks sizes are positive and consistent (n_heads % n_kv_heads == 0, ...); messages name
  // the field and the model source.
  Status validate(const std::string& source) const;
};

// From an HF config.json object (model_type llama / qwen2 / qwen3).
Result<ModelConfig> model_config_from_hf(const nlohmann::json& config, const std::string& source);

}  // namespace mx

namespace mx {
class GgufFile;
// From GGUF metadata (general.architecture llama / qwen2 / qwen3 and its "<arch>.*" keys, as
// llama.cpp writes them) and the rope_freqs.weight tensor when present.
Result<ModelConfig> model_config_from_gguf(const GgufFile& file);
}  // namespace mx
