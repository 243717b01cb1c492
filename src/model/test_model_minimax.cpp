// MiniMax-M2 test models (arch minimax-m2): shapes and tensor layout, with the names of
// llama.cpp's converter (GGUF) and of the MiniMax-M2 checkpoint (HF: Mixtral-style
// block_sparse_moe.{gate, e_score_correction_bias, experts.E.w1/w2/w3}).
//
// tiny: head_dim 128 with 4 query / 2 KV heads over d_model 256, rotary on the first 64 dims of
//   each head (rotary_dim < head_dim, as MiniMax-M2's 64 of 128), q/k norm over the whole q (512)
//   and k (256) widths, 3 layers, all MoE: 8 experts of FFN 256, top-3, sigmoid router with score
//   bias, normalized top-k; every width a multiple of 256 so K-quants apply.
// bench: MiniMax-M2 shaped (48 x 128 heads over 3072, 8 KV heads, 256 experts of 1536, top-8)
//   scaled down: 8 layers, 24 x 128 heads over d_model 1536, 4 KV heads, top-8 of 64 experts of
//   512: ~1.7 B parameters, ~0.35 B active per token.
#include <fmt/format.h>

#include "model/test_model.h"

namespace mx {

ModelConfig minimax_m2_test_config(const TestModelSpec& spec) {
  const bool bench = spec.size == TestModelSize::kBench;
  ModelConfig c;
  c.arch = Arch::kMinimaxM2;
  c.vocab_size = spec.vocab_size;
  c.rms_eps = 1e-6f;
  c.rope_theta = 5000000.0f;
  c.context_length = bench ? 196608 : 4096;
  c.head_dim = 128;
  c.rope_dims = 64;
  c.rope_interleaved = false;
  c.qk_norm = true;
  c.qk_norm_full_width = true;
  c.n_layers = bench ? 8 : 3;
  c.d_model = bench ? 1536 : 256;
  c.n_heads = bench ? 24 : 4;
  c.n_kv_heads = bench ? 4 : 2;
  c.ffn_hidden = bench ? 512 : 256;  // intermediate_size: the experts' width
  MoeConfig& e = c.moe;
  e.n_experts = bench ? 64 : 8;
  e.n_experts_used = bench ? 8 : 3;
  e.expert_ffn_hidden = c.ffn_hidden;
  e.gating = MoeConfig::Gating::kSigmoid;
  e.score_bias = true;
  e.normalize_top_k = true;
  return c;
}

void add_minimax_m2_layout(const ModelConfig& c, std::vector<GeneratedTensor>& out) {
  auto add = [&out](std::string name, std::string hf_name, std::vector<int64_t> shape,
                    bool is_norm) {
    out.push_back(
        GeneratedTensor{std::move(name), std::move(hf_name), std::move(shape), {}, is_norm});
  };
  const MoeConfig& e = c.moe;
  const int64_t d = c.d_model, f = e.expert_ffn_hidden;
  const int64_t q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
  add("token_embd.weight", "model.embed_tokens.weight", {c.vocab_size, d}, false);
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    const std::string p = fmt::format("blk.{}.", layer);
    const std::string h = fmt::format("model.layers.{}.", layer);
    const std::string moe = h + "block_sparse_moe.";
    add(p + "attn_norm.weight", h + "input_layernorm.weight", {d}, true);
    add(p + "attn_q.weight", h + "self_attn.q_proj.weight", {q_dim, d}, false);
    add(p + "attn_k.weight", h + "self_attn.k_proj.weight", {kv_dim, d}, false);
    add(p + "attn_v.weight", h + "self_attn.v_proj.weight", {kv_dim, d}, false);
    add(p + "attn_q_norm.weight", h + "self_attn.q_norm.weight", {q_dim}, true);
    add(p + "attn_k_norm.weight", h + "self_attn.k_norm.weight", {kv_dim}, true);
    add(p + "attn_output.weight", h + "self_attn.o_proj.weight", {d, q_dim}, false);
    add(p + "ffn_norm.weight", h + "post_attention_layernorm.weight", {d}, true);
    add(p + "ffn_gate_inp.weight", moe + "gate.weight", {e.n_experts, d}, false);
    add(p + "exp_probs_b.bias", moe + "e_score_correction_bias", {e.n_experts}, true);
    // One tensor per expert family [n_experts, rows, cols]; "{}" in the HF name is the expert.
    add(p + "ffn_gate_exps.weight", moe + "experts.{}.w1.weight", {e.n_experts, f, d}, false);
    add(p + "ffn_up_exps.weight", moe + "experts.{}.w3.weight", {e.n_experts, f, d}, false);
    add(p + "ffn_down_exps.weight", moe + "experts.{}.w2.weight", {e.n_experts, d, f}, false);
  }
  add("output_norm.weight", "model.norm.weight", {d}, true);
  add("output.weight", "lm_head.weight", {c.vocab_size, d}, false);
}

}  // namespace mx
