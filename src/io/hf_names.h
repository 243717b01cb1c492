// Hugging Face tensor names → canonical (GGUF-style) names, and model families.
//
// The supported families (llama, qwen2, qwen3, qwen3_moe, deepseek_v2/v3, glm4_moe, minimax_m2)
// share one naming scheme in transformers (minimax_m2 adds Mixtral's block_sparse_moe names), and
// no HF name means different things in two of them, so one table serves all of them:
//   model.embed_tokens.weight                 → token_embd.weight
//   model.norm.weight                         → output_norm.weight
//   lm_head.weight                            → output.weight
//   model.layers.N.input_layernorm            → blk.N.attn_norm
//   model.layers.N.post_attention_layernorm   → blk.N.ffn_norm
//   ...self_attn.{q,k,v,o}_proj               → blk.N.attn_{q,k,v,output}
//   ...self_attn.{q,k}_norm                   → blk.N.attn_{q,k}_norm
//   ...self_attn.q_proj (DeepSeek without q LoRA) → blk.N.attn_q
//   ...self_attn.q_a_proj / q_a_layernorm / q_b_proj → blk.N.attn_q_a / attn_q_a_norm / attn_q_b
//   ...self_attn.kv_a_proj_with_mqa / kv_a_layernorm / kv_b_proj
//                                             → blk.N.attn_kv_a_mqa / attn_kv_a_norm / attn_kv_b
//   ...mlp.{gate,up,down}_proj                → blk.N.ffn_{gate,up,down}
//   ...mlp.gate (MoE router)                  → blk.N.ffn_gate_inp
//   ...mlp.gate.e_score_correction_bias       → blk.N.exp_probs_b.bias
//   ...mlp.shared_experts.{gate,up,down}_proj → blk.N.ffn_{gate,up,down}_shexp
//   ...mlp.experts.E.{gate,up,down}_proj      → blk.N.ffn_{gate,up,down}_exps.E   (see below)
//   ...block_sparse_moe.gate (MiniMax-M2)     → blk.N.ffn_gate_inp
//   ...block_sparse_moe.e_score_correction_bias → blk.N.exp_probs_b.bias
//   ...block_sparse_moe.experts.E.{w1,w3,w2}  → blk.N.ffn_{gate,up,down}_exps.E
//   ...{eh_proj,enorm,hnorm,embed_tokens}     → blk.N.nextn.{eh_proj,enorm,hnorm,embed_tokens}
//   ...shared_head.{head,norm}                → blk.N.nextn.shared_head_{head,norm}  (MTP layer)
// Parameter suffixes: ".weight" and ".bias" are kept; ".weight_scale_inv" (FP8 block scales,
// F32 [ceil(out/128), ceil(in/128)]) becomes ".scale_inv": "blk.0.attn_q_a.scale_inv".
//
// Experts: GGUF stacks the experts of a layer into one 3-D tensor "blk.N.ffn_gate_exps.weight"
// [n_expert, n_ff, n_embd]. An HF folder stores each expert separately, and stacking them would
// copy mmapped data, so experts stay separate under "blk.N.ffn_gate_exps.E.weight" [n_ff, n_embd]
// (E = expert index). Model code must accept both forms.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mx {

// The canonical name of an HF tensor; nullopt when the name has no mapping (the loader keeps
// such tensors under their HF name).
std::optional<std::string> hf_to_canonical_name(std::string_view hf_name);

// Families of HF architectures, as far as loading weights is concerned.
enum class HfFamily { kLlama, kQwen2, kQwen3, kQwen3Moe, kDeepseek, kGlm4Moe, kMinimaxM2 };

// From config.json's "model_type" ("llama", "qwen3_moe", "deepseek_v3", ...).
std::optional<HfFamily> hf_family_from_model_type(std::string_view model_type);
// From an entry of config.json's "architectures" ("LlamaForCausalLM", ...).
std::optional<HfFamily> hf_family_from_architecture(std::string_view architecture);
std::string_view hf_family_name(HfFamily family);  // "llama", "qwen3_moe", "deepseek", ...
// Supported model_type values, for error messages: "llama, mistral, qwen2, ...".
std::string_view hf_supported_model_types();

}  // namespace mx
