// Qwen3 (dense): no q/k/v bias; RMSNorm of each q and k head (over head_dim) before RoPE;
// head_dim need not equal d_model / n_heads (Qwen3-0.6B: 16 heads x 128 over d_model 1024).
#include "model/arch/registry.h"

namespace mx {
namespace {

Status bind_qwen3_layer(WeightBinder& binder, int64_t layer, LayerWeights& out) {
  MX_RETURN_IF_ERROR(binder.bind_common_layer(layer, out));
  return binder.bind_qk_norm(layer, out);
}

}  // namespace

const ArchSpec& qwen3_arch() {
  static const ArchSpec spec{Arch::kQwen3, "qwen3", bind_qwen3_layer};
  return spec;
}

}  // namespace mx
