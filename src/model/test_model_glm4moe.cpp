// GLM-4.5 test models (arch glm4moe): shapes and tensor layout, including one MTP ("nextn")
// layer after the main layers, as GLM-4.5's checkpoints carry it, so loaders must skip it.
//
// tiny: GLM-4.5 (355B) flavoured: q/k/v biases and q/k norm, head_dim 128 with 4 heads (q width
//   512 over d_model 256), rotary on half of each head, first layer dense, 8 experts of which 3
//   are used, one shared expert, sigmoid routing with score bias, normalized top-k times 2.5.
// bench: GLM-4.5-Air shaped (no q/k norm, routed scaling 1, 1 shared expert, first layer dense,
//   32 x 128 heads over d_model 2048, top-8 of 64 experts), scaled down to 8 main layers:
//   ~2.4B parameters (the MTP layer included), ~0.6B active per token.
// Both keep n_group = topk_group = 1 like every GLM-4.5 release (llama.cpp ignores groups for
// this arch, and perplexity is compared with it on these files).
//
// Names: the GGUF name of the norm before the FFN is llama.cpp's "post_attention_norm" (HF
// post_attention_layernorm); the MTP layer's extra tensors are blk.N.nextn.{eh_proj, enorm,
// hnorm, shared_head_norm} (HF model.layers.N.{eh_proj, enorm, hnorm, shared_head.norm}).
#include <fmt/format.h>

#include "model/test_model.h"

namespace mx {

ModelConfig glm4moe_test_config(const TestModelSpec& spec) {
  ModelConfig c;
  c.arch = Arch::kGlm4Moe;
  c.vocab_size = spec.vocab_size;
  c.rms_eps = 1e-5f;
  c.rope_theta = 1000000.0f;
  c.context_length = 4096;
  c.head_dim = 128;
  c.rope_dims = 64;  // partial_rotary_factor 0.5
  c.rope_interleaved = false;
  c.qkv_bias = true;
  c.n_nextn_layers = 1;
  MoeConfig& e = c.moe;
  e.gating = MoeConfig::Gating::kSigmoid;
  e.score_bias = true;
  e.normalize_top_k = true;
  e.n_shared_experts = 1;
  e.first_dense_layers = 1;
  if (spec.size == TestModelSize::kBench) {
    c.n_layers = 8;
    c.d_model = 2048;
    c.n_heads = 32;
    c.n_kv_heads = 4;
    c.ffn_hidden = 5632;
    c.context_length = 131072;
    c.qk_norm = false;
    e.n_experts = 64;
    e.n_experts_used = 8;
    e.expert_ffn_hidden = 512;
    e.routed_scaling = 1.0f;
  } else {
    c.n_layers = 3;
    c.d_model = 256;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.ffn_hidden = 512;
    c.qk_norm = true;
    e.n_experts = 8;
    e.n_experts_used = 3;
    e.expert_ffn_hidden = 256;
    e.routed_scaling = 2.5f;
  }
  return c;
}

void add_glm4moe_layout(const ModelConfig& c, std::vector<GeneratedTensor>& out) {
  auto add = [&out](std::string name, std::string hf_name, std::vector<int64_t> shape,
                    bool is_norm) {
    out.push_back(GeneratedTensor{std::move(name), std::move(hf_name), std::move(shape), {},
                                  is_norm});
  };
  const MoeConfig& e = c.moe;
  const int64_t d = c.d_model, q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  add("token_embd.weight", "model.embed_tokens.weight", {c.vocab_size, d}, false);
  for (int64_t layer = 0; layer < c.n_layers + c.n_nextn_layers; ++layer) {
    const std::string p = fmt::format("blk.{}.", layer);
    const std::string h = fmt::format("model.layers.{}.", layer);
    add(p + "attn_norm.weight", h + "input_layernorm.weight", {d}, true);
    auto projection = [&](const char* name, const char* hf, int64_t rows) {
      add(p + name + ".weight", h + "self_attn." + hf + ".weight", {rows, d}, false);
      if (c.qkv_bias) add(p + name + ".bias", h + "self_attn." + hf + ".bias", {rows}, true);
    };
    projection("attn_q", "q_proj", q_dim);
    projection("attn_k", "k_proj", kv_dim);
    projection("attn_v", "v_proj", kv_dim);
    if (c.qk_norm) {
      add(p + "attn_q_norm.weight", h + "self_attn.q_norm.weight", {c.head_dim}, true);
      add(p + "attn_k_norm.weight", h + "self_attn.k_norm.weight", {c.head_dim}, true);
    }
    add(p + "attn_output.weight", h + "self_attn.o_proj.weight", {d, q_dim}, false);
    add(p + "post_attention_norm.weight", h + "post_attention_layernorm.weight", {d}, true);
    if (!e.is_moe_layer(layer)) {
      add(p + "ffn_gate.weight", h + "mlp.gate_proj.weight", {c.ffn_hidden, d}, false);
      add(p + "ffn_up.weight", h + "mlp.up_proj.weight", {c.ffn_hidden, d}, false);
      add(p + "ffn_down.weight", h + "mlp.down_proj.weight", {d, c.ffn_hidden}, false);
    } else {
      const int64_t f = e.expert_ffn_hidden, sf = e.n_shared_experts * f;
      add(p + "ffn_gate_inp.weight", h + "mlp.gate.weight", {e.n_experts, d}, false);
      add(p + "exp_probs_b.bias", h + "mlp.gate.e_score_correction_bias", {e.n_experts}, true);
      // One tensor per expert family [n_experts, rows, cols]; "{}" in the HF name is the expert.
      add(p + "ffn_gate_exps.weight", h + "mlp.experts.{}.gate_proj.weight", {e.n_experts, f, d},
          false);
      add(p + "ffn_up_exps.weight", h + "mlp.experts.{}.up_proj.weight", {e.n_experts, f, d},
          false);
      add(p + "ffn_down_exps.weight", h + "mlp.experts.{}.down_proj.weight", {e.n_experts, d, f},
          false);
      add(p + "ffn_gate_shexp.weight", h + "mlp.shared_experts.gate_proj.weight", {sf, d}, false);
      add(p + "ffn_up_shexp.weight", h + "mlp.shared_experts.up_proj.weight", {sf, d}, false);
      add(p + "ffn_down_shexp.weight", h + "mlp.shared_experts.down_proj.weight", {d, sf}, false);
    }
    if (layer >= c.n_layers) {  // the MTP layer's own projection and norms
      add(p + "nextn.eh_proj.weight", h + "eh_proj.weight", {d, 2 * d}, false);
      add(p + "nextn.enorm.weight", h + "enorm.weight", {d}, true);
      add(p + "nextn.hnorm.weight", h + "hnorm.weight", {d}, true);
      add(p + "nextn.shared_head_norm.weight", h + "shared_head.norm.weight", {d}, true);
    }
  }
  add("output_norm.weight", "model.norm.weight", {d}, true);
  add("output.weight", "lm_head.weight", {c.vocab_size, d}, false);
}

}  // namespace mx
