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
#include "model/model_config.h"

namespace mx {

// A weight matrix [rows = out_features, cols = in_features] in its stored (packed) form.
struct Matrix {
  DType type = DType::F32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* aux = nullptr;  // matmul_prepare_aux() data for this CPU, or nullptr
  bool present() const { return data != nullptr; }
};

// A 1-D weight (norm gain, bias), always float32 (converted at load when stored otherwise).
struct Vector {
  const float* data = nullptr;
  int64_t size = 0;
  bool present() const { return data != nullptr; }
};

struct LayerWeights {
  Vector attn_norm;
  Matrix wq, wk, wv, wo;
  Vector bq, bk, bv;          // qwen2 (and llama with attention_bias)
  Vector q_norm, k_norm;      // qwen3: [head_dim]
  Vector ffn_norm;
  Matrix w_gate, w_up, w_down;
};

struct ModelWeights {
  Matrix token_embd;           // [vocab, d_model]
  std::vector<LayerWeights> layers;
  Vector output_norm;
  Matrix output;               // [vocab, d_model]; token_embd when tied
};

// Binds tensors by name with shape checks; owns float32 copies of 1-D weights that are not
// stored as F32. Errors name the model source, the tensor, and the expected shape.
class WeightBinder {
 public:
  WeightBinder(const WeightMap& weights, const ModelConfig& config)
      : weights_(weights), config_(config) {}

  Result<Matrix> matrix(const std::string& name, int64_t rows, int64_t cols);
  Result<Vector> vector(const std::string& name, int64_t size);
  // Optional variants: absent tensor → empty view (a present one is still checked).
  Result<Vector> optional_vector(const std::string& name, int64_t size);

  // The parts every dense layer has: norms, q/k/v/o and the SwiGLU FFN (no biases, no q/k norm).
  Status bind_common_layer(int64_t layer, LayerWeights& out);
  Status bind_qkv_bias(int64_t layer, bool required, LayerWeights& out);
  Status bind_qk_norm(int64_t layer, LayerWeights& out);

  const ModelConfig& config() const { return config_; }
  std::deque<std::vector<float>> take_owned() { return std::move(owned_); }

 private:
  const WeightMap& weights_;
  const ModelConfig& config_;
  std::deque<std::vector<float>> owned_;  // stable addresses for converted vectors
};

}  // namespace mx
