#include "model/kv_cache.h"

#include <cstring>

namespace mx {

KvCacheStorage::KvCacheStorage(const ModelConfig& config, int64_t n_blocks, int64_t block_size,
                               DType dtype)
    : n_layers_(config.n_layers),
      n_kv_heads_(config.n_kv_heads),
      head_dim_(config.head_dim),
      n_blocks_(n_blocks),
      block_size_(block_size),
      dtype_(dtype) {
  const size_t elem = dtype == DType::F32 ? 4 : 2;
  part_bytes_ = static_cast<size_t>(n_kv_heads_ * block_size_ * head_dim_) * elem;
  block_bytes_ = static_cast<size_t>(n_layers_) * 2 * part_bytes_;
  data_.reset(new uint8_t[block_bytes_ * static_cast<size_t>(n_blocks_)]);
  // Zeroed so that a slot read before it is written holds finite values (never happens by
  // design: attention reads only positions < n_kv, which were written).
  std::memset(data_.get(), 0, block_bytes_ * static_cast<size_t>(n_blocks_));
}

PagedKv KvCacheStorage::layer(int64_t layer_index) const {
  PagedKv kv;
  kv.k_base = data_.get() + static_cast<size_t>(layer_index) * 2 * part_bytes_;
  kv.v_base = kv.k_base + part_bytes_;
  kv.block_stride_bytes = static_cast<int64_t>(block_bytes_);
  kv.block_size = block_size_;
  kv.n_kv_heads = n_kv_heads_;
  kv.head_dim = head_dim_;
  kv.dtype = dtype_;
  return kv;
}

size_t KvCacheStorage::bytes_per_token(const ModelConfig& config, DType dtype) {
  const size_t elem = dtype == DType::F32 ? 4 : 2;
  return static_cast<size_t>(config.n_layers * 2 * config.n_kv_heads * config.head_dim) * elem;
}

}  // namespace mx
