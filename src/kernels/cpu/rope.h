// Rotary position embeddings (RoPE) with the scalings Hugging Face transformers defines.
//
// A RopeTable holds inv_freq[i] for the rotary_dims / 2 rotated pairs and an attention factor
// that scales cos and sin (1 except for YaRN). Each pair (a, b) of a head vector at position p
// rotates by theta = p * inv_freq[i]: a' = a cos - b sin, b' = a sin + b cos. Which elements form
// pair i depends on the layout:
//   kNormal (llama.cpp "NORM", GPT-J, interleaved): elements (2i, 2i + 1)
//   kNeox   (HF rotate_half, Llama/Qwen in HF form): elements (i, i + rotary_dims / 2)
// Elements at index >= rotary_dims are left as they are (partial rotary).
// theta is computed in float32 (float(p) * inv_freq) as HF does, then cos/sin in float.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"

namespace mx {

enum class RopeScaling { kNone, kLinear, kLlama3, kYarn };
enum class RopeLayout { kNormal, kNeox };

struct RopeParams {
  float theta_base = 10000.0f;  // rope_theta
  int rotary_dims = 0;          // even, <= head_dim (head_dim * partial_rotary_factor)
  RopeScaling scaling = RopeScaling::kNone;
  float factor = 1.0f;          // linear, llama3, yarn
  // Llama-3 ("rope_type": "llama3").
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_max_positions = 8192;  // also YaRN's original context
  // YaRN ("rope_type": "yarn").
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  float mscale = 0.0f;           // 0: unset
  float mscale_all_dim = 0.0f;   // 0: unset
  float attention_factor = 0.0f; // 0: derive from factor / mscale as HF does
  bool truncate = true;          // YaRN: floor/ceil the correction range (HF default)

  Status validate() const;
};

struct RopeTable {
  std::vector<float> inv_freq;  // [rotary_dims / 2]
  float attention_factor = 1.0f;
  int rotary_dims = 0;
};

// Precomputes the frequencies once per model (allocates; not for the hot path).
Result<RopeTable> make_rope_table(const RopeParams& params);

// Rotates x [n_tokens, n_heads, head_dim] in place; token t at x + t * token_stride (floats),
// head h at + h * head_dim, with position positions[t]. rotary_dims <= head_dim <= 1024.
void rope_apply(const RopeTable& table, RopeLayout layout, float* x, int64_t n_tokens,
                int64_t n_heads, int64_t head_dim, int64_t token_stride, const int32_t* positions,
                ThreadPool& pool);

// One head vector [head_dim] straight from the formula, pair by pair (the tests' reference).
void rope_apply_reference(const RopeTable& table, RopeLayout layout, float* head, int32_t position);

}  // namespace mx
