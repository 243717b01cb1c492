#include "model/kv_cache.h"

#include <fmt/format.h>

#include <cstring>

namespace mx {
namespace {

size_t elem_bytes(DType dtype) { return dtype == DType::F32 ? 4 : 2; }

}  // namespace

KvCacheStorage::KvCacheStorage(const ModelConfig& config, int64_t n_blocks, int64_t block_size,
                               DType dtype, bool with_nextn)
    : mla_(config.mla.enabled()),
      n_layers_(config.n_layers + (with_nextn ? config.n_nextn_layers : 0)),
      n_kv_heads_(mla_ ? 1 : config.n_kv_heads),
      head_dim_(mla_ ? config.mla.cache_width() : config.head_dim),
      n_blocks_(n_blocks),
      block_size_(block_size),
      dtype_(dtype) {
  part_bytes_ = static_cast<size_t>(n_kv_heads_ * block_size_ * head_dim_) * elem_bytes(dtype);
  block_bytes_ = static_cast<size_t>(n_layers_) * (mla_ ? 1 : 2) * part_bytes_;
  data_.reset(new uint8_t[block_bytes_ * static_cast<size_t>(n_blocks_)]);
  // Zeroed so that a slot read before it is written holds finite values (never happens by
  // design: attention reads only positions < n_kv, which were written).
  std::memset(data_.get(), 0, block_bytes_ * static_cast<size_t>(n_blocks_));
}

PagedKv KvCacheStorage::layer(int64_t layer_index) const {
  PagedKv kv;
  const size_t parts = mla_ ? 1 : 2;
  kv.k_base = data_.get() + static_cast<size_t>(layer_index) * parts * part_bytes_;
  kv.v_base = mla_ ? kv.k_base : kv.k_base + part_bytes_;
  kv.block_stride_bytes = static_cast<int64_t>(block_bytes_);
  kv.block_size = block_size_;
  kv.n_kv_heads = n_kv_heads_;
  kv.head_dim = head_dim_;
  kv.dtype = dtype_;
  return kv;
}

size_t KvCacheStorage::bytes_per_token(const ModelConfig& config, DType dtype,
                                       bool with_nextn) {
  const int64_t layers = config.n_layers + (with_nextn ? config.n_nextn_layers : 0);
  if (config.mla.enabled()) {
    return static_cast<size_t>(layers * config.mla.cache_width()) * elem_bytes(dtype);
  }
  return gqa_bytes_per_token(config, dtype) / static_cast<size_t>(config.n_layers) *
         static_cast<size_t>(layers);
}

size_t KvCacheStorage::gqa_bytes_per_token(const ModelConfig& config, DType dtype) {
  if (config.mla.enabled()) {
    const int64_t per_head = config.mla.qk_head_dim() + config.mla.v_head_dim;
    return static_cast<size_t>(config.n_layers * config.n_heads * per_head) * elem_bytes(dtype);
  }
  return static_cast<size_t>(config.n_layers * 2 * config.n_kv_heads * config.head_dim) *
         elem_bytes(dtype);
}

std::string KvCacheStorage::layout_name(const ModelConfig& config) {
  if (config.mla.enabled()) {
    return fmt::format("mla:{}+{}", config.mla.kv_lora_rank, config.mla.qk_rope_dim);
  }
  return fmt::format("gqa:{}x{}", config.n_kv_heads, config.head_dim);
}

}  // namespace mx
