#include "model/kv_cache.h"

#include <fmt/format.h>

#include <cstring>

namespace mx {
namespace {

// Bytes of one stored row of `width` elements (I8: plus its f32 scale).
size_t row_bytes(DType dtype, int64_t width) {
  const auto w = static_cast<size_t>(width);
  switch (dtype) {
    case DType::F32: return 4 * w;
    case DType::I8: return w + sizeof(float);
    default: return 2 * w;
  }
}

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
  PagedKv shape;
  shape.block_size = block_size_;
  shape.n_kv_heads = n_kv_heads_;
  shape.head_dim = head_dim_;
  shape.dtype = dtype_;
  part_bytes_ = static_cast<size_t>(shape.block_part_bytes());
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
    return static_cast<size_t>(layers) * row_bytes(dtype, config.mla.cache_width());
  }
  return gqa_bytes_per_token(config, dtype) / static_cast<size_t>(config.n_layers) *
         static_cast<size_t>(layers);
}

size_t KvCacheStorage::gqa_bytes_per_token(const ModelConfig& config, DType dtype) {
  if (config.mla.enabled()) {
    // K and V rows per head (I8: a scale each).
    return static_cast<size_t>(config.n_layers * config.n_heads) *
           (row_bytes(dtype, config.mla.qk_head_dim()) + row_bytes(dtype, config.mla.v_head_dim));
  }
  return static_cast<size_t>(config.n_layers * 2 * config.n_kv_heads) *
         row_bytes(dtype, config.head_dim);
}

std::string KvCacheStorage::layout_name(const ModelConfig& config, DType dtype) {
  if (config.mla.enabled()) {
    return fmt::format("mla:{}+{}:{}", config.mla.kv_lora_rank, config.mla.qk_rope_dim,
                       type_name(dtype));
  }
  return fmt::format("gqa:{}x{}:{}", config.n_kv_heads, config.head_dim, type_name(dtype));
}

std::optional<DType> KvCacheStorage::type_from_name(std::string_view name) {
  if (name == "f16") return DType::F16;
  if (name == "f32") return DType::F32;
  if (name == "int8") return DType::I8;
  return std::nullopt;
}

std::string_view KvCacheStorage::type_name(DType dtype) {
  switch (dtype) {
    case DType::F16: return "f16";
    case DType::F32: return "f32";
    case DType::I8: return "int8";
    default: return "unsupported";
  }
}

}  // namespace mx
