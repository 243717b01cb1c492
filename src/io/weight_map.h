// WeightMap: the tensors of one model, by canonical name, pointing into memory-mapped files.
//
// Both loaders (GGUF files and Hugging Face folders) produce this same structure, so the model
// code never knows where weights came from. Invariants:
//  - names are canonical (GGUF spelling: "token_embd.weight", "blk.0.attn_q.weight", ...);
//  - shape is outermost-first (PyTorch order): a matrix [rows=out_features, cols=in_features],
//    the last dimension contiguous; a GGUF tensor's ne[] is reversed into this order;
//  - data points to nbytes bytes inside a file that `files` keeps mapped; nbytes equals
//    row_bytes(dtype, shape.back()) * (product of the other dims), checked by the loaders.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/status.h"

namespace mx {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // outermost first
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  std::string source;  // file the bytes live in (for error messages)

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

class WeightMap {
 public:
  // Adds a tensor; an error if the name is already present.
  Status add(TensorInfo tensor);
  void keep_alive(std::shared_ptr<const MappedFile> file) { files_.push_back(std::move(file)); }

  const TensorInfo* find(const std::string& name) const;
  // Like find, but a missing tensor is an error naming it and the model source.
  Result<const TensorInfo*> get(const std::string& name) const;
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  size_t size() const { return tensors_.size(); }

  std::string source;  // the GGUF file or HF folder, for messages

  // Row order of the Q/K projections (attn_q, attn_k) with respect to RoPE.
  // false (GGUF): rows as llama.cpp's converter wrote them. For llama-family models the
  //   converter permutes Q/K rows so that rotary pairs are adjacent (interleaved, "normal" RoPE).
  // true (Hugging Face folder): rows as trained, never permuted (permuting would copy an mmapped
  //   tensor). For llama-family models the pairs are (i, i + head_dim/2): rotate-half ("NeoX")
  //   RoPE must be applied instead. Families that llama.cpp does not permute (qwen2, qwen3,
  //   qwen3_moe, glm4_moe: NeoX; deepseek2/3: interleaved) read the same in both forms.
  bool qk_rows_hf_order = false;

 private:
  std::map<std::string, TensorInfo> tensors_;
  std::vector<std::shared_ptr<const MappedFile>> files_;
};

}  // namespace mx
