// Model's MoE FFN (moe_ffn.h does the work): buffers sized with the other activations, expert
// counters per layer.
#include "model/model.h"

namespace mx {

void Model::reserve_moe(int64_t n_tokens) {
  moe_buffers_.reserve(config_.moe, config_.d_model, w_.layers, n_tokens);
}

Status Model::moe_ffn_block(int64_t layer, int64_t n, ThreadPool& pool) {
  const MoeConfig& moe = config_.moe;
  std::atomic<uint64_t>* counts = &expert_counts_[layer * moe.n_experts];
  return moe_ffn(moe, w_.layers[layer].moe, config_.d_model, h_.data(), n, h_.data(), counts,
                 moe_buffers_, pool);
}

}  // namespace mx
