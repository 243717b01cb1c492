// KvCacheStorage: the memory of the paged KV cache for one model: n_blocks blocks of
// block_size tokens. Block-major: block b holds, for every layer, K then V, each laid out
// [n_kv_heads][block_size][head_dim] in F16 or F32 — so a whole block (all layers) is one
// contiguous span of block_bytes(), which is what moves between cache tiers later. Which block
// belongs to which sequence is decided by the engine's block manager, not here.
#pragma once

#include <cstdint>
#include <memory>

#include "core/dtype.h"
#include "kernels/cpu/attention.h"
#include "model/model_config.h"

namespace mx {

class KvCacheStorage {
 public:
  KvCacheStorage(const ModelConfig& config, int64_t n_blocks, int64_t block_size, DType dtype);

  // The kernels' view of one layer's K and V in every block.
  PagedKv layer(int64_t layer_index) const;

  int64_t n_blocks() const { return n_blocks_; }
  int64_t block_size() const { return block_size_; }
  DType dtype() const { return dtype_; }
  size_t block_bytes() const { return block_bytes_; }  // all layers, K and V
  uint8_t* block_data(int64_t block) { return data_.get() + block * block_bytes_; }

  // Bytes one token of KV takes over all layers (for reports: GQA vs MLA later).
  static size_t bytes_per_token(const ModelConfig& config, DType dtype);

 private:
  int64_t n_layers_;
  int64_t n_kv_heads_;
  int64_t head_dim_;
  int64_t n_blocks_;
  int64_t block_size_;
  DType dtype_;
  size_t part_bytes_;   // one layer's K (or V) of one block
  size_t block_bytes_;  // n_layers * 2 * part_bytes_
  std::unique_ptr<uint8_t[]> data_;
};

}  // namespace mx
