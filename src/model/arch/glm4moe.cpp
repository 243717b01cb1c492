// GLM-4.5 / GLM-4.5-Air / GLM-4.6 (GGUF "glm4moe", HF glm4_moe; config in
// model_config_glm4moe.cpp): GQA attention with q/k/v biases, optional per-head q/k RMSNorm and
// partial rotary (NeoX layout on the first rope_dims dims of each head, all in dense_forward.cpp),
// a dense SwiGLU FFN in the first first_dense_layers layers and a MoE FFN with a sigmoid router,
// score bias and shared experts in the others (moe_forward.cpp).
//
// The MTP ("nextn") layers stored after the n_layers main layers (blk.{n_layers + i}.*,
// blk.*.nextn.*) are bound by Model::bind like DeepSeek's, for the MTP drafter; the main forward
// never runs them.
#include <fmt/format.h>

#include "model/arch/registry.h"

namespace mx {
namespace {

Status bind_glm4moe_layer(WeightBinder& binder, int64_t layer, LayerWeights& out) {
  const ModelConfig& c = binder.config();
  // llama.cpp names the norm before the FFN post_attention_norm for this arch; an HF folder's
  // post_attention_layernorm maps to ffn_norm (io/hf_names.cpp).
  const bool gguf_names =
      binder.weights().find(fmt::format("blk.{}.post_attention_norm.weight", layer)) != nullptr;
  MX_RETURN_IF_ERROR(
      binder.bind_attention(layer, out, gguf_names ? "post_attention_norm" : "ffn_norm"));
  if (c.qkv_bias) MX_RETURN_IF_ERROR(binder.bind_qkv_bias(layer, /*required=*/true, out));
  if (c.qk_norm) MX_RETURN_IF_ERROR(binder.bind_qk_norm(layer, out));
  if (c.moe.is_moe_layer(layer)) return binder.bind_moe(layer, out.moe);
  return binder.bind_dense_ffn(layer, out);
}

}  // namespace

const ArchSpec& glm4moe_arch() {
  static const ArchSpec spec{Arch::kGlm4Moe, "glm4moe", bind_glm4moe_layer};
  return spec;
}

}  // namespace mx
