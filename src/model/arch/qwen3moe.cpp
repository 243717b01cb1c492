// Qwen3-MoE (Qwen3-30B-A3B, Qwen3-235B-A22B): Qwen3 attention (q/k RMSNorm per head, no bias,
// NeoX RoPE) and a mixture-of-experts FFN in every layer: softmax router over n_experts, top-k
// experts per token (weights renormalized when norm_topk_prob), no shared experts.
#include "model/arch/registry.h"

namespace mx {
namespace {

Status bind_qwen3moe_layer(WeightBinder& binder, int64_t layer, LayerWeights& out) {
  MX_RETURN_IF_ERROR(binder.bind_attention(layer, out));
  MX_RETURN_IF_ERROR(binder.bind_qk_norm(layer, out));
  return binder.bind_moe(layer, out.moe);
}

}  // namespace

const ArchSpec& qwen3moe_arch() {
  static const ArchSpec spec{Arch::kQwen3Moe, "qwen3moe", bind_qwen3moe_layer};
  return spec;
}

}  // namespace mx
