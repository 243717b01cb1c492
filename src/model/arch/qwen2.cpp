// Qwen2 / Qwen2.5: the Llama layer with biases on the q, k and v projections; NeoX RoPE.
#include "model/arch/registry.h"

namespace mx {
namespace {

Status bind_qwen2_layer(WeightBinder& binder, int64_t layer, LayerWeights& out) {
  MX_RETURN_IF_ERROR(binder.bind_common_layer(layer, out));
  return binder.bind_qkv_bias(layer, /*required=*/true, out);
}

}  // namespace

const ArchSpec& qwen2_arch() {
  static const ArchSpec spec{Arch::kQwen2, "qwen2", bind_qwen2_layer};
  return spec;
}

}  // namespace mx
