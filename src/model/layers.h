// Shared building blocks of the dense architectures: typed views of the weights one layer
// needs, bound (and shape-checked) from a WeightMap. Architectures differ only in which of
// these they require (arch/*.cpp); the forward pass (dense_forward.cpp) is shared.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/weight_map.h"
#include "kernels/cpu/matmul.h"
#include "model/model_config.h"

namespace mx {

// A weight matrix [rows = out_features, cols = in_features] in its stored (packed) form.
struct Matrix;
// The kernel arguments of y[t] = W x[t] for n_tokens rows (with W's aux data and row scales).
MatmulArgs matmul_args(const Matrix& w, const float* x, int64_t x_stride, float* y,
                       int64_t y_stride, int64_t n_tokens);

struct Matrix {
  DType type = DType::F32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* aux = nullptr;  // matmul_prepare_aux() data for this CPU, or nullptr
  // I8 (W8A8) only: [rows] float scales, W = int8 * row_scale[row] (the F32 tensor
  // "<name>.scale" beside the weight; WeightBinder::row_scales).
  const float* row_scale = nullptr;
  // F8_E4M3 only: its block scales (the F32 tensor "<stem>.scale_inv" beside the weight,
  // fp8_weights.h); a row slice keeps the tensor's scales and moves fp8.row0.
  Fp8Scales fp8{};
  bool present() const { return data != nullptr; }
  // Rows [first, first + n) as their own matrix, data and row scales offset together: one
  // expert of a stacked [n_experts, rows, cols] tensor viewed as [n_experts * rows, cols] is
  // row_slice(e * rows, rows). aux is dropped (prepare it for the slice).
  Matrix row_slice(int64_t first, int64_t n) const;
};

// A 1-D weight (norm gain, bias), always float32 (converted at load when stored otherwise).
struct Vector {
  const float* data = nullptr;
  int64_t size = 0;
  bool present() const { return data != nullptr; }
};

// The experts of one MoE layer (MoeConfig). GGUF stores each expert family as one 3-D tensor
// [n_experts, rows, cols]; HF folders as one matrix per expert: either way, one Matrix view per
// expert here.
struct MoeWeights {
  Matrix router;                        // ffn_gate_inp [n_experts, d_model]
  Vector score_bias;                    // exp_probs_b [n_experts] (deepseek-v3), optional
  std::vector<Matrix> gate, up, down;   // per expert: [expert_ffn, d], [expert_ffn, d], [d, expert_ffn]
  Matrix shared_gate, shared_up, shared_down;  // shared experts (ffn_*_shexp), optional
  bool present() const { return router.present(); }
};

// MLA projections (MlaConfig). wq_b (or LayerWeights::wq when q_lora_rank == 0) gives
// n_heads x (qk_nope + qk_rope); wkv_a gives the latent and the shared rotary key; wk_b / wv_b
// are the per-head up-projections of the latent to keys (nope part) and values.
// From HF / legacy GGUF attn_kv_b [n_heads * (qk_nope + v_head), kv_lora] (per head K rows then
// V rows) all three are F32 copies made at load, except from FP8 attn_kv_b: wk_b and wv_b are
// then views of it (kv_b_head_stride) and only wk_b_t is copied. From llama.cpp's split attn_k_b
// [n_heads][kv_lora][qk_nope] (K transposed) + attn_v_b [n_heads][v_head][kv_lora], wk_b_t and
// wv_b are views of the stored (possibly quantized) tensors and only wk_b is an F32 copy.
// wk_b / wv_b decompress the latent in the direct form; wk_b_t absorbs q_nope into latent space
// and wv_b up-projects the latent context per head in the absorbed form (decode).
struct MlaWeights {
  Matrix wq_a;        // attn_q_a [q_lora_rank, d_model], when q_lora_rank > 0
  Vector q_a_norm;    // [q_lora_rank]
  Matrix wq_b;        // attn_q_b [n_heads * (qk_nope + qk_rope), q_lora_rank]
  Matrix wkv_a;       // attn_kv_a_mqa [kv_lora_rank + qk_rope, d_model]
  Vector kv_a_norm;   // [kv_lora_rank]
  Matrix wk_b;        // per head [qk_nope, kv_lora_rank], stacked: [n_heads * qk_nope, kv_lora_rank]
  Matrix wv_b;        // per head [v_head, kv_lora_rank], stacked: [n_heads * v_head, kv_lora_rank]
  Matrix wk_b_t;      // per head [kv_lora_rank, qk_nope], stacked: [n_heads * kv_lora_rank, qk_nope]
  // Rows from one head's wk_b / wv_b to the next's: 0 when stacked as above; qk_nope + v_head
  // when both are views of an FP8 attn_kv_b (per head K rows then V rows, wv_b starting at row
  // qk_nope), kept at one byte per weight with its block scales.
  int64_t kv_b_head_stride = 0;
  bool present() const { return wkv_a.present(); }
};

struct LayerWeights {
  Vector attn_norm;
  Matrix wq, wk, wv, wo;
  Vector bq, bk, bv;          // qwen2 (and llama with attention_bias)
  Vector q_norm, k_norm;      // qwen3: [head_dim]; minimax-m2: [n_heads | n_kv_heads * head_dim]
  Vector ffn_norm;
  Matrix w_gate, w_up, w_down;  // dense FFN (absent in MoE layers)
  MoeWeights moe;               // MoE layers
  MlaWeights mla;               // MLA attention (then wk, wv are absent)
};

// One multi-token-prediction ("nextn") module of DeepSeek-V3 (mtp_forward.cpp); its decoder
// layer is ModelWeights::layers[n_layers + i].
struct MtpWeights {
  Matrix eh_proj;          // nextn.eh_proj [d_model, 2 * d_model]: [enorm(embed) | hnorm(h)] -> d
  Vector enorm, hnorm;     // [d_model]
  Vector head_norm;        // nextn.shared_head_norm [d_model]
  Matrix embed;            // nextn.embed_tokens [vocab, d_model], else the main token_embd
  Matrix head;             // nextn.shared_head_head [vocab, d_model], else the main output
};

struct ModelWeights {
  Matrix token_embd;           // [vocab, d_model]
  std::vector<LayerWeights> layers;  // n_layers main layers, then the n_nextn_layers MTP layers
  std::vector<MtpWeights> mtp;       // [n_nextn_layers]
  Vector output_norm;
  Matrix output;               // [vocab, d_model]; token_embd when tied
};

// Binds tensors by name with shape checks; owns float32 copies of 1-D weights that are not
// stored as F32. Errors name the model source, the tensor, and the expected shape.
class WeightBinder {
 public:
  // fp8_block: the block shape of FP8 weights' scales (HF quantization_config).
  WeightBinder(const WeightMap& weights, const ModelConfig& config, Fp8BlockShape fp8_block = {})
      : weights_(weights), config_(config), fp8_block_(fp8_block) {}

  Result<Matrix> matrix(const std::string& name, int64_t rows, int64_t cols);
  // The per-row scales of an I8 (W8A8) tensor t [..., rows, cols]: the F32 tensor
  // "<t.name>.scale" of shape [..., rows] (one float per row of every leading index).
  Result<const float*> row_scales(const TensorInfo& t);
  // All elements of a weight as float32 (dequantized; FP8 with its block scales), for the few
  // weights the model rearranges at load (deepseek2's attn_kv_b).
  Result<std::vector<float>> float_values(const TensorInfo& t);
  Result<Vector> vector(const std::string& name, int64_t size);
  // Optional variants: absent tensor → empty view (a present one is still checked).
  Result<Vector> optional_vector(const std::string& name, int64_t size);

  // The parts every dense layer has: norms, q/k/v/o and the SwiGLU FFN (no biases, no q/k norm).
  Status bind_common_layer(int64_t layer, LayerWeights& out);
  // Its two halves: norms and q/k/v/o; the dense SwiGLU FFN (ffn_gate / ffn_up / ffn_down).
  // The norm before the FFN is "ffn_norm" unless the architecture's GGUF names it otherwise
  // (llama.cpp's glm4moe: "post_attention_norm").
  Status bind_attention(int64_t layer, LayerWeights& out, const char* ffn_norm_stem = "ffn_norm");
  Status bind_dense_ffn(int64_t layer, LayerWeights& out);
  // The MoE FFN of a layer (moe_weights.cpp): router ffn_gate_inp, experts from the stacked
  // GGUF tensors ffn_{gate,up,down}_exps.weight [n_experts, rows, cols] or the per-expert
  // tensors ffn_{gate,up,down}_exps.E.weight of HF folders (io/hf_names.cpp), the score bias
  // exp_probs_b.bias when config.moe.score_bias, shared experts ffn_*_shexp when
  // config.moe.n_shared_experts > 0.
  Status bind_moe(int64_t layer, MoeWeights& out);
  Status bind_qkv_bias(int64_t layer, bool required, LayerWeights& out);
  // attn_{q,k}_norm: [head_dim] each, or the full q / k width when config.qk_norm_full_width.
  Status bind_qk_norm(int64_t layer, LayerWeights& out);

  const ModelConfig& config() const { return config_; }
  const WeightMap& weights() const { return weights_; }
  // Keeps `values` (a converted or rearranged copy of a weight) alive with the model; returns
  // an F32 matrix view of it.
  Matrix own_matrix(std::vector<float> values, int64_t rows, int64_t cols);
  std::deque<std::vector<float>> take_owned() { return std::move(owned_); }

 private:
  // One Matrix per expert of family `stem` ("ffn_gate_exps"), each [rows, cols].
  Result<std::vector<Matrix>> experts(const std::string& prefix, const char* stem, int64_t rows,
                                      int64_t cols);

  const WeightMap& weights_;
  const ModelConfig& config_;
  Fp8BlockShape fp8_block_;
  std::deque<std::vector<float>> owned_;  // stable addresses for converted vectors
};

}  // namespace mx
