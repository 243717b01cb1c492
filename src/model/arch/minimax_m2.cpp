// MiniMax-M2 / M2.1 (GGUF "minimax-m2", HF MiniMaxM2ForCausalLM; config in
// model_config_minimax.cpp): GQA attention without biases, one RMSNorm over all of q and one over
// all of k (qk_norm_full_width; gains [n_heads * head_dim] and [n_kv_heads * head_dim]) before a
// partial NeoX rotary (rope_dims < head_dim), all in dense_forward.cpp; a MoE FFN in every layer
// with a sigmoid router, score bias for the choice, normalized top-k, no shared expert
// (moe_forward.cpp). HF's block_sparse_moe.* names map to the GGUF ones in io/hf_names.cpp.
#include "model/arch/registry.h"

namespace mx {
namespace {

Status bind_minimax_m2_layer(WeightBinder& binder, int64_t layer, LayerWeights& out) {
  MX_RETURN_IF_ERROR(binder.bind_attention(layer, out));
  if (binder.config().qk_norm) MX_RETURN_IF_ERROR(binder.bind_qk_norm(layer, out));
  return binder.bind_moe(layer, out.moe);
}

}  // namespace

const ArchSpec& minimax_m2_arch() {
  static const ArchSpec spec{Arch::kMinimaxM2, "minimax-m2", bind_minimax_m2_layer};
  return spec;
}

}  // namespace mx
