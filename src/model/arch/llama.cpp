// Llama 2 / Llama 3.x: RMSNorm, GQA attention (optional q/k/v bias: attention_bias), SwiGLU FFN.
// GGUF files from llama.cpp's converter have Q/K rows permuted for interleaved RoPE; the config
// loader sets rope_interleaved accordingly.
#include "model/arch/registry.h"

namespace mx {
namespace {

Status bind_llama_layer(WeightBinder& binder, int64_t layer, LayerWeights& out) {
  MX_RETURN_IF_ERROR(binder.bind_common_layer(layer, out));
  return binder.bind_qkv_bias(layer, /*required=*/binder.config().qkv_bias, out);
}

}  // namespace

const ArchSpec& llama_arch() {
  static const ArchSpec spec{Arch::kLlama, "llama", bind_llama_layer};
  return spec;
}

}  // namespace mx
