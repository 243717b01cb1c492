// DeepSeek-V2/V3 test models (arch deepseek2): shapes, tensor layout, and the GGUF form of
// attn_kv_b (split into attn_k_b / attn_v_b as llama.cpp's converter writes them).
//
// tiny: DeepSeek-V3 flavoured (q_lora, sigmoid routing with score bias, 4 groups of which 2 are
//   used, normalized top-k, routed scaling 2.5), with head sizes chosen so that the value head
//   (64) is wider than the query/key head (32 + 16) — odd shapes on purpose.
// bench: DeepSeek-V2-Lite shaped (no q_lora, kv_lora 512, heads 16 x (128 + 64), v 128, softmax
//   routing, 2 shared experts, first layer dense) scaled down to 10 layers and 16 experts:
//   ~2.2B parameters.
// Both use YaRN RoPE with mscale == mscale_all_dim = 0.707 as V2-Lite does.
#include <fmt/format.h>

#include "model/test_model.h"

namespace mx {

ModelConfig deepseek2_test_config(const TestModelSpec& spec) {
  ModelConfig c;
  c.arch = Arch::kDeepseek2;
  c.vocab_size = spec.vocab_size;
  c.rms_eps = 1e-6f;
  c.rope_theta = 10000.0f;
  c.context_length = 4096;
  const bool bench = spec.size == TestModelSize::kBench;
  MlaConfig& m = c.mla;
  MoeConfig& e = c.moe;
  if (bench) {
    c.n_layers = 10;
    c.d_model = 2048;
    c.n_heads = 16;
    c.ffn_hidden = 10944;
    m = MlaConfig{0, 512, 128, 64, 128};
    e.n_experts = 16;
    e.n_experts_used = 4;
    e.expert_ffn_hidden = 1408;
    e.n_shared_experts = 2;
    e.first_dense_layers = 1;
    e.gating = MoeConfig::Gating::kSoftmax;
    e.normalize_top_k = false;
    e.routed_scaling = 1.0f;
  } else {
    c.n_layers = 3;
    c.d_model = 256;
    c.n_heads = 4;
    c.ffn_hidden = 512;
    m = MlaConfig{128, 128, 32, 16, 64};
    e.n_experts = 8;
    e.n_experts_used = 3;
    e.expert_ffn_hidden = 128;
    e.n_shared_experts = 1;
    e.first_dense_layers = 1;
    e.gating = MoeConfig::Gating::kSigmoid;
    e.normalize_top_k = true;
    e.routed_scaling = 2.5f;
    e.n_groups = 4;
    e.n_groups_used = 2;
    e.score_bias = true;
  }
  if (spec.dense_ffn) e = MoeConfig{};
  c.n_nextn_layers = 1;  // one MTP layer, as DeepSeek-V3 has
  c.n_kv_heads = c.n_heads;
  c.head_dim = m.qk_head_dim();
  c.rope_dims = m.qk_rope_dim;
  c.rope_interleaved = true;
  RopeScalingConfig& s = c.rope_scaling;
  s.kind = RopeScalingConfig::Kind::kYarn;
  s.factor = 4.0f;
  s.original_context = 1024;
  s.beta_fast = 32.0f;
  s.beta_slow = 1.0f;
  s.mscale = 0.707f;
  s.mscale_all_dim = 0.707f;
  return c;
}

void add_deepseek2_layout(const ModelConfig& c, std::vector<GeneratedTensor>& out) {
  auto add = [&out](std::string name, std::string hf_name, std::vector<int64_t> shape,
                    bool is_norm) {
    out.push_back(GeneratedTensor{std::move(name), std::move(hf_name), std::move(shape), {},
                                  is_norm});
  };
  const MlaConfig& m = c.mla;
  const MoeConfig& e = c.moe;
  const int64_t d = c.d_model, q_dim = c.n_heads * m.qk_head_dim();
  add("token_embd.weight", "model.embed_tokens.weight", {c.vocab_size, d}, false);
  // The MTP layers follow the main ones: a full decoder layer plus the nextn tensors (the
  // embedding and the output head are left out, so the drafter uses the main model's, as it
  // does for checkpoints that share them).
  for (int64_t layer = 0; layer < c.n_layers + c.n_nextn_layers; ++layer) {
    const std::string p = fmt::format("blk.{}.", layer);
    const std::string h = fmt::format("model.layers.{}.", layer);
    if (layer >= c.n_layers) {
      add(p + "nextn.eh_proj.weight", h + "eh_proj.weight", {d, 2 * d}, false);
      add(p + "nextn.enorm.weight", h + "enorm.weight", {d}, true);
      add(p + "nextn.hnorm.weight", h + "hnorm.weight", {d}, true);
      add(p + "nextn.shared_head_norm.weight", h + "shared_head.norm.weight", {d}, true);
    }
    add(p + "attn_norm.weight", h + "input_layernorm.weight", {d}, true);
    if (m.q_lora_rank > 0) {
      add(p + "attn_q_a.weight", h + "self_attn.q_a_proj.weight", {m.q_lora_rank, d}, false);
      add(p + "attn_q_a_norm.weight", h + "self_attn.q_a_layernorm.weight", {m.q_lora_rank}, true);
      add(p + "attn_q_b.weight", h + "self_attn.q_b_proj.weight", {q_dim, m.q_lora_rank}, false);
    } else {
      add(p + "attn_q.weight", h + "self_attn.q_proj.weight", {q_dim, d}, false);
    }
    add(p + "attn_kv_a_mqa.weight", h + "self_attn.kv_a_proj_with_mqa.weight",
        {m.cache_width(), d}, false);
    add(p + "attn_kv_a_norm.weight", h + "self_attn.kv_a_layernorm.weight", {m.kv_lora_rank}, true);
    add(p + "attn_kv_b.weight", h + "self_attn.kv_b_proj.weight",
        {c.n_heads * (m.qk_nope_dim + m.v_head_dim), m.kv_lora_rank}, false);
    add(p + "attn_output.weight", h + "self_attn.o_proj.weight", {d, c.n_heads * m.v_head_dim},
        false);
    add(p + "ffn_norm.weight", h + "post_attention_layernorm.weight", {d}, true);
    if (!e.is_moe_layer(layer)) {
      add(p + "ffn_gate.weight", h + "mlp.gate_proj.weight", {c.ffn_hidden, d}, false);
      add(p + "ffn_up.weight", h + "mlp.up_proj.weight", {c.ffn_hidden, d}, false);
      add(p + "ffn_down.weight", h + "mlp.down_proj.weight", {d, c.ffn_hidden}, false);
      continue;
    }
    const int64_t f = e.expert_ffn_hidden;
    add(p + "ffn_gate_inp.weight", h + "mlp.gate.weight", {e.n_experts, d}, false);
    if (e.score_bias) {
      add(p + "exp_probs_b.bias", h + "mlp.gate.e_score_correction_bias", {e.n_experts}, true);
    }
    // One tensor per expert family [n_experts, rows, cols]; "{}" in the HF name is the expert.
    add(p + "ffn_gate_exps.weight", h + "mlp.experts.{}.gate_proj.weight", {e.n_experts, f, d}, false);
    add(p + "ffn_up_exps.weight", h + "mlp.experts.{}.up_proj.weight", {e.n_experts, f, d}, false);
    add(p + "ffn_down_exps.weight", h + "mlp.experts.{}.down_proj.weight", {e.n_experts, d, f}, false);
    if (e.n_shared_experts > 0) {
      const int64_t sf = e.n_shared_experts * f;
      add(p + "ffn_gate_shexp.weight", h + "mlp.shared_experts.gate_proj.weight", {sf, d}, false);
      add(p + "ffn_up_shexp.weight", h + "mlp.shared_experts.up_proj.weight", {sf, d}, false);
      add(p + "ffn_down_shexp.weight", h + "mlp.shared_experts.down_proj.weight", {d, sf}, false);
    }
  }
  add("output_norm.weight", "model.norm.weight", {d}, true);
  add("output.weight", "lm_head.weight", {c.vocab_size, d}, false);
}

std::vector<GeneratedTensor> deepseek2_gguf_split_kv_b(const ModelConfig& c,
                                                        const GeneratedTensor& kv_b) {
  const MlaConfig& m = c.mla;
  const int64_t H = c.n_heads, r = m.kv_lora_rank, nope = m.qk_nope_dim, v = m.v_head_dim;
  const std::string stem = kv_b.name.substr(0, kv_b.name.size() - std::string("kv_b.weight").size());
  GeneratedTensor k{stem + "k_b.weight", "", {H, r, nope}, {}, false};
  GeneratedTensor vb{stem + "v_b.weight", "", {H, v, r}, {}, false};
  k.values.resize(static_cast<size_t>(H * r * nope));
  vb.values.resize(static_cast<size_t>(H * v * r));
  for (int64_t h = 0; h < H; ++h) {
    const float* head = &kv_b.values[h * (nope + v) * r];
    for (int64_t j = 0; j < nope; ++j) {
      for (int64_t i = 0; i < r; ++i) k.values[(h * r + i) * nope + j] = head[j * r + i];
    }
    std::copy(head + nope * r, head + (nope + v) * r, &vb.values[h * v * r]);
  }
  return {std::move(k), std::move(vb)};
}

}  // namespace mx
