// KvCacheStorage: the memory of the paged KV cache for one model: n_blocks blocks of
// block_size tokens. Block-major: block b holds, for every layer, K then V, each laid out
// [n_kv_heads][block_size][head_dim] in F16 or F32 — so a whole block (all layers) is one
// contiguous span of block_bytes(), which is what moves between cache tiers later. Which block
// belongs to which sequence is decided by the engine's block manager, not here.
//
// INT8 (DType::I8, `--kv-type int8`): each layer's K (and V) part is the int8 rows
// [n_kv_heads][block_size][head_dim], then (4-byte aligned) one f32 scale per row
// [n_kv_heads][block_size]: symmetric, scale = absmax / 127 of the (token, head) row. The scales
// live inside the part, so a block is still one span and the tiers move it unchanged.
// Bytes per token and layer: 2 * n_kv_heads * (head_dim + 4) against 2 * n_kv_heads * head_dim * 2
// for F16. The attention kernels dequantize while they read (PagedKv in attention.h).
//
// MLA models (config.mla.enabled()) use the latent layout instead: per block and layer one part
// [block_size][kv_lora_rank + qk_rope_dim] — the normalized latent, then the roped shared key.
// layer() then views it as one KV head of that width with K and V at the same address (the
// absorbed attention reads the latent as its values; see mla_forward.cpp). INT8 quantizes the
// whole latent row [c | k_rope] with one scale.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/dtype.h"
#include "kernels/cpu/attention.h"
#include "model/model_config.h"

namespace mx {

class KvCacheStorage {
 public:
  // with_nextn: also the model's MTP layers (layers n_layers.., for the MTP drafter), so a
  // block carries their KV wherever it goes (prefix cache, tiers).
  KvCacheStorage(const ModelConfig& config, int64_t n_blocks, int64_t block_size, DType dtype,
                 bool with_nextn = false);

  // The kernels' view of one layer's K and V in every block.
  PagedKv layer(int64_t layer_index) const;

  int64_t n_blocks() const { return n_blocks_; }
  int64_t n_layers() const { return n_layers_; }  // main layers (+ MTP layers with_nextn)
  int64_t block_size() const { return block_size_; }
  DType dtype() const { return dtype_; }
  size_t block_bytes() const { return block_bytes_; }  // all layers, K and V
  uint8_t* block_data(int64_t block) { return data_.get() + block * block_bytes_; }

  // Bytes one token of KV takes over all layers in this model's layout (MLA: the latent).
  static size_t bytes_per_token(const ModelConfig& config, DType dtype, bool with_nextn = false);
  // What the same model would need with full K/V heads (MLA: n_heads x (qk_head + v_head));
  // equals bytes_per_token for GQA models. For reports.
  static size_t gqa_bytes_per_token(const ModelConfig& config, DType dtype);
  // Names the layout, its sizes and element type ("gqa:8x128:f16", "mla:512+64:int8"): part of
  // the prefix-cache seed, so blocks of one type are never read as another (also on SSD).
  static std::string layout_name(const ModelConfig& config, DType dtype);

  // The KV element types a cache can hold, by their flag names: "f16", "f32", "int8".
  static std::optional<DType> type_from_name(std::string_view name);
  static std::string_view type_name(DType dtype);

 private:
  bool mla_;             // latent layout: one part per layer, K and V views alias it
  int64_t n_layers_;
  int64_t n_kv_heads_;
  int64_t head_dim_;
  int64_t n_blocks_;
  int64_t block_size_;
  DType dtype_;
  size_t part_bytes_;   // one layer's K (or V) of one block (I8: with its row scales)
  size_t block_bytes_;  // n_layers * parts * part_bytes_ (parts: 2, MLA 1)
  std::unique_ptr<uint8_t[]> data_;
};

}  // namespace mx
