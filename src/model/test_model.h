// Random-weight test models of every supported architecture, deterministic by seed.
//
// Weights are N(0, 1) * gain / sqrt(fan_in), so every computation matters: attention scores,
// and output logits (std of a few units) are far from uniform, and a broken forward pass
// cannot hide behind a near-uniform output. Each tensor's values depend only on (seed, name),
// not on generation order. Matrices are generated in Hugging Face row order; writers that need
// llama.cpp's layout (GGUF llama Q/K rows for interleaved RoPE) permute on the way out.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/model_config.h"

namespace mx {

enum class TestModelSize { kTiny, kBench };

struct TestModelSpec {
  Arch arch = Arch::kQwen3;
  TestModelSize size = TestModelSize::kTiny;
  int64_t vocab_size = 0;  // from the tokenizer (rounded up by the caller if wanted)
  uint64_t seed = 1;
  bool dense_ffn = false;  // deepseek2: every layer's FFN dense (no MoE)
};

// The architecture's shape: tiny (a few MB of layers, fast tests; every matrix width a
// multiple of 256 so K-quants apply) or bench (Qwen3-0.6B / Llama-3.2-1B shaped; qwen3moe:
// Qwen3-30B-A3B shaped at 1.9 B parameters; deepseek2: DeepSeek-V2-Lite shaped; glm4moe:
// GLM-4.5-Air shaped at 2.4 B; minimax-m2: MiniMax-M2 shaped at 1.7 B).
ModelConfig test_model_config(const TestModelSpec& spec);

struct GeneratedTensor {
  std::string name;            // canonical GGUF name, e.g. "blk.0.attn_q.weight"
  std::string hf_name;         // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;  // outermost first: [out_features, in_features] for matrices,
                               // [n_experts, out, in] for MoE experts (hf_name has "{}" for the
                               // expert index: HF folders store one matrix per expert)
  std::vector<float> values;   // HF row order
  bool is_norm = false;        // 1-D norm weights / biases (kept in F32 by quantized writers)
};

// Names and shapes of every tensor of the model, in file order (values left empty).
std::vector<GeneratedTensor> test_model_layout(const ModelConfig& config);

// Fills tensor.values for the given seed (deterministic from seed and name).
void generate_test_tensor(const ModelConfig& config, uint64_t seed, GeneratedTensor& tensor);

// The llama.cpp converter's row permutation of a llama Q or K weight [n_head * head_dim, cols]
// from HF rotate-half order to interleaved pairs: within each head, row 2i comes from row i and
// row 2i+1 from row i + head_dim / 2.
std::vector<float> permute_rows_for_interleaved_rope(const std::vector<float>& values,
                                                     int64_t n_head, int64_t head_dim,
                                                     int64_t cols);

// DeepSeek-V2/V3 (test_model_deepseek.cpp): shape, layout (HF's one attn_kv_b; experts as
// one [n_experts, rows, cols] tensor per family like qwen3moe's), and the split of attn_kv_b into
// llama.cpp's attn_k_b [H, kv_lora, nope] (per head transposed) + attn_v_b [H, v_head, kv_lora].
ModelConfig deepseek2_test_config(const TestModelSpec& spec);
void add_deepseek2_layout(const ModelConfig& config, std::vector<GeneratedTensor>& out);
std::vector<GeneratedTensor> deepseek2_gguf_split_kv_b(const ModelConfig& config,
                                                        const GeneratedTensor& kv_b);

// GLM-4.5 (test_model_glm4moe.cpp): shape and layout, with one MTP ("nextn") layer stored after
// the main layers.
ModelConfig glm4moe_test_config(const TestModelSpec& spec);
void add_glm4moe_layout(const ModelConfig& config, std::vector<GeneratedTensor>& out);

// MiniMax-M2 (test_model_minimax.cpp): shape and layout (HF names of the MiniMax-M2 checkpoint).
ModelConfig minimax_m2_test_config(const TestModelSpec& spec);
void add_minimax_m2_layout(const ModelConfig& config, std::vector<GeneratedTensor>& out);

// Per-frequency divisors for Llama-3 RoPE scaling (what GGUF stores as rope_freqs.weight).
std::vector<float> llama3_rope_freq_factors(const ModelConfig& config);

}  // namespace mx
