#include "io/hf_names.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace mx {
namespace {

TEST(HfNames, MapsEveryKnownTensor) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
      {"model.layers.12.post_attention_layernorm.weight", "blk.12.ffn_norm.weight"},
      {"model.layers.3.self_attn.q_proj.weight", "blk.3.attn_q.weight"},
      {"model.layers.3.self_attn.q_proj.bias", "blk.3.attn_q.bias"},
      {"model.layers.3.self_attn.k_proj.bias", "blk.3.attn_k.bias"},
      {"model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight"},
      {"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
      {"model.layers.3.self_attn.q_norm.weight", "blk.3.attn_q_norm.weight"},
      {"model.layers.3.self_attn.k_norm.weight", "blk.3.attn_k_norm.weight"},
      {"model.layers.3.mlp.gate_proj.weight", "blk.3.ffn_gate.weight"},
      {"model.layers.3.mlp.up_proj.weight", "blk.3.ffn_up.weight"},
      {"model.layers.3.mlp.down_proj.weight", "blk.3.ffn_down.weight"},
      // MoE
      {"model.layers.5.mlp.gate.weight", "blk.5.ffn_gate_inp.weight"},
      {"model.layers.5.mlp.gate.e_score_correction_bias", "blk.5.exp_probs_b.bias"},
      {"model.layers.5.mlp.experts.0.gate_proj.weight", "blk.5.ffn_gate_exps.0.weight"},
      {"model.layers.5.mlp.experts.255.up_proj.weight", "blk.5.ffn_up_exps.255.weight"},
      {"model.layers.5.mlp.experts.17.down_proj.weight", "blk.5.ffn_down_exps.17.weight"},
      {"model.layers.5.mlp.shared_experts.gate_proj.weight", "blk.5.ffn_gate_shexp.weight"},
      {"model.layers.5.mlp.shared_experts.up_proj.weight", "blk.5.ffn_up_shexp.weight"},
      {"model.layers.5.mlp.shared_experts.down_proj.weight", "blk.5.ffn_down_shexp.weight"},
      // MiniMax-M2 (Mixtral's block_sparse_moe names; w1 gate, w3 up, w2 down)
      {"model.layers.7.block_sparse_moe.gate.weight", "blk.7.ffn_gate_inp.weight"},
      {"model.layers.7.block_sparse_moe.e_score_correction_bias", "blk.7.exp_probs_b.bias"},
      {"model.layers.7.block_sparse_moe.experts.0.w1.weight", "blk.7.ffn_gate_exps.0.weight"},
      {"model.layers.7.block_sparse_moe.experts.255.w3.weight", "blk.7.ffn_up_exps.255.weight"},
      {"model.layers.7.block_sparse_moe.experts.9.w2.weight", "blk.7.ffn_down_exps.9.weight"},
      {"model.layers.7.block_sparse_moe.experts.9.w2.weight_scale_inv",
       "blk.7.ffn_down_exps.9.scale_inv"},
      // DeepSeek MLA
      {"model.layers.1.self_attn.q_a_proj.weight", "blk.1.attn_q_a.weight"},
      {"model.layers.1.self_attn.q_a_layernorm.weight", "blk.1.attn_q_a_norm.weight"},
      {"model.layers.1.self_attn.q_b_proj.weight", "blk.1.attn_q_b.weight"},
      {"model.layers.1.self_attn.kv_a_proj_with_mqa.weight", "blk.1.attn_kv_a_mqa.weight"},
      {"model.layers.1.self_attn.kv_a_layernorm.weight", "blk.1.attn_kv_a_norm.weight"},
      {"model.layers.1.self_attn.kv_b_proj.weight", "blk.1.attn_kv_b.weight"},
      // FP8 block scales
      {"model.layers.1.self_attn.q_a_proj.weight_scale_inv", "blk.1.attn_q_a.scale_inv"},
      {"model.layers.5.mlp.experts.3.down_proj.weight_scale_inv",
       "blk.5.ffn_down_exps.3.scale_inv"},
      // MTP layer (DeepSeek-V3 layer 61, GLM-4.5)
      {"model.layers.61.eh_proj.weight", "blk.61.nextn.eh_proj.weight"},
      {"model.layers.61.enorm.weight", "blk.61.nextn.enorm.weight"},
      {"model.layers.61.hnorm.weight", "blk.61.nextn.hnorm.weight"},
      {"model.layers.61.embed_tokens.weight", "blk.61.nextn.embed_tokens.weight"},
      {"model.layers.61.shared_head.head.weight", "blk.61.nextn.shared_head_head.weight"},
      {"model.layers.61.shared_head.norm.weight", "blk.61.nextn.shared_head_norm.weight"},
  };
  for (const auto& [hf, canonical] : cases) {
    EXPECT_EQ(hf_to_canonical_name(hf).value_or("<none>"), canonical) << hf;
  }
}

TEST(HfNames, LeavesUnknownAndMalformedNamesUnmapped) {
  for (const char* name : {
           "model.layers.0.self_attn.rotary_emb.inv_freq",  // a buffer, not a weight
           "model.layers.01.input_layernorm.weight",        // would alias layer 1
           "model.layers.-1.input_layernorm.weight",
           "model.layers.1234567.input_layernorm.weight",  // > 6 digits
           "model.layers.input_layernorm.weight",
           "model.layers.0.weight",
           "model.layers.0.gate_proj.weight",  // only valid under mlp.experts.E
           "model.layers.0.mlp.experts.gate_proj.weight",
           "model.layers.0.mlp.experts.1.gate.weight",
           "model.layers.0.mlp.experts.1.w1.weight",  // w1/w2/w3 only under block_sparse_moe
           "model.layers.0.block_sparse_moe.experts.1.gate_proj.weight",
           "model.layers.0.mlp.up_proj.e_score_correction_bias",
           "model.embed_tokens.e_score_correction_bias",
           "model.embed_tokens",
           "model.norm.scale",
           ".weight",
           "weight",
           "",
           "visual.blocks.0.attn.qkv.weight",
       }) {
    EXPECT_FALSE(hf_to_canonical_name(name).has_value()) << name;
  }
}

TEST(HfNames, Families) {
  EXPECT_EQ(hf_family_from_model_type("llama"), HfFamily::kLlama);
  EXPECT_EQ(hf_family_from_model_type("qwen2"), HfFamily::kQwen2);
  EXPECT_EQ(hf_family_from_model_type("qwen3"), HfFamily::kQwen3);
  EXPECT_EQ(hf_family_from_model_type("qwen3_moe"), HfFamily::kQwen3Moe);
  EXPECT_EQ(hf_family_from_model_type("deepseek_v2"), HfFamily::kDeepseek);
  EXPECT_EQ(hf_family_from_model_type("deepseek_v3"), HfFamily::kDeepseek);
  EXPECT_EQ(hf_family_from_model_type("glm4_moe"), HfFamily::kGlm4Moe);
  EXPECT_EQ(hf_family_from_model_type("minimax_m2"), HfFamily::kMinimaxM2);
  EXPECT_EQ(hf_family_from_architecture("MiniMaxM2ForCausalLM"), HfFamily::kMinimaxM2);
  EXPECT_FALSE(hf_family_from_model_type("gpt2").has_value());
  EXPECT_EQ(hf_family_from_architecture("Qwen3MoeForCausalLM"), HfFamily::kQwen3Moe);
  EXPECT_EQ(hf_family_from_architecture("DeepseekV3ForCausalLM"), HfFamily::kDeepseek);
  EXPECT_FALSE(hf_family_from_architecture("GPT2LMHeadModel").has_value());
  EXPECT_EQ(hf_family_name(HfFamily::kQwen3Moe), "qwen3_moe");
}

}  // namespace
}  // namespace mx
