#include "model/test_model_writer.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "io/gguf_writer.h"
#include "io/safetensors_writer.h"
#include "kernels/cpu/quants.h"
#include "tokenizer/gguf_tokenizer_export.h"
#include "tokenizer/tokenizer_json.h"

namespace mx {
namespace {

// llama.cpp's Q4_K_M gives these layers' attn_v / ffn_down more bits.
bool more_bits_layer(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

int64_t layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  return std::stoll(name.substr(4, name.find('.', 4) - 4));
}

DType storage_type(const GeneratedTensor& t, const ModelConfig& c, TestModelType type) {
  // Norms stay F32, and so does the MoE router, as llama.cpp's quantizer keeps it.
  if (t.is_norm || t.name.find("ffn_gate_inp.") != std::string::npos) return DType::F32;
  DType chosen = DType::F32;
  switch (type) {
    case TestModelType::kF32: chosen = DType::F32; break;
    case TestModelType::kF16: chosen = DType::F16; break;
    case TestModelType::kBf16: chosen = DType::BF16; break;
    case TestModelType::kQ8_0: chosen = DType::Q8_0; break;
    case TestModelType::kQ4_0: chosen = DType::Q4_0; break;
    case TestModelType::kQ4K: chosen = DType::Q4_K; break;
    case TestModelType::kQ5K: chosen = DType::Q5_K; break;
    case TestModelType::kQ6K: chosen = DType::Q6_K; break;
    case TestModelType::kFp8: return DType::F32;  // HF only; rejected for GGUF below
    case TestModelType::kQ4KM: {
      const bool output = t.name == "output.weight" ||
                          (t.name == "token_embd.weight" && c.tie_embeddings);
      const bool v_or_down = t.name.find("attn_v.") != std::string::npos ||
                             t.name.find("ffn_down.") != std::string::npos ||
                             t.name.find("ffn_down_exps.") != std::string::npos;
      chosen = output || (v_or_down && more_bits_layer(layer_of(t.name), c.n_layers)) ? DType::Q6_K
                                                                                       : DType::Q4_K;
      break;
    }
  }
  // A row that is not a whole number of blocks falls back to Q8_0, then F16.
  if (!row_bytes(chosen, t.shape.back())) chosen = row_bytes(DType::Q8_0, t.shape.back()) ? DType::Q8_0 : DType::F16;
  return chosen;
}

Result<std::vector<uint8_t>> encode_rows(const GeneratedTensor& t, DType type) {
  const int64_t cols = t.shape.back();
  const int64_t rows = static_cast<int64_t>(t.values.size()) / cols;
  const uint64_t row_size = *row_bytes(type, cols);
  std::vector<uint8_t> bytes(row_size * rows);
  for (int64_t r = 0; r < rows; ++r) {
    if (!quantize_row(type, &t.values[r * cols], &bytes[r * row_size], cols)) {
      return make_error(ErrorCode::kInternal, "cannot store tensor '{}' as {}", t.name,
                        dtype_name(type));
    }
  }
  return bytes;
}

}  // namespace

// Shared with `mxserve quantize` (test_model_writer.h).
std::string chat_template_of(const std::string& tokenizer_dir) {
  auto text = read_text_file(tokenizer_dir + "/tokenizer_config.json");
  if (!text.ok()) return "";
  auto config = nlohmann::json::parse(*text, nullptr, false);
  if (config.is_discarded() || !config.contains("chat_template")) return "";
  const auto& tmpl = config["chat_template"];
  return tmpl.is_string() ? tmpl.get<std::string>() : "";
}

namespace {

// Q/K rows of llama in llama.cpp's interleaved-RoPE order.
void permute_for_gguf(const ModelConfig& c, GeneratedTensor& t) {
  if (c.arch != Arch::kLlama) return;
  const bool q = t.name.find("attn_q.") != std::string::npos;
  const bool k = t.name.find("attn_k.") != std::string::npos;
  if (!q && !k) return;
  const int64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
  t.values = permute_rows_for_interleaved_rope(t.values, q ? c.n_heads : c.n_kv_heads,
                                               c.head_dim, cols);
}

// DeepSeek-V2/V3 keys as llama.cpp's converter writes them (MLA seen as MQA over the latent:
// head_count_kv 1, key_length kv_lora + rope, value_length kv_lora; the real head sizes in
// *_mla).
void set_deepseek2_metadata(const ModelConfig& c, GgufWriter& w) {
  const std::string a = "deepseek2.";
  const MlaConfig& m = c.mla;
  const MoeConfig& e = c.moe;
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  w.set_u32(a + "attention.head_count_kv", 1);
  w.set_u32(a + "attention.key_length", u32(m.cache_width()));
  w.set_u32(a + "attention.value_length", u32(m.kv_lora_rank));
  w.set_u32(a + "attention.key_length_mla", u32(m.qk_head_dim()));
  w.set_u32(a + "attention.value_length_mla", u32(m.v_head_dim));
  w.set_u32(a + "attention.q_lora_rank", u32(m.q_lora_rank));
  w.set_u32(a + "attention.kv_lora_rank", u32(m.kv_lora_rank));
  w.set_u32(a + "leading_dense_block_count", u32(e.enabled() ? e.first_dense_layers : c.n_layers));
  w.set_u32(a + "expert_feed_forward_length", u32(e.enabled() ? e.expert_ffn_hidden : c.ffn_hidden));
  w.set_u32(a + "expert_shared_count", u32(e.n_shared_experts));
  if (e.enabled()) {
    w.set_u32(a + "expert_count", u32(e.n_experts));
    w.set_u32(a + "expert_used_count", u32(e.n_experts_used));
    w.set_f32(a + "expert_weights_scale", e.routed_scaling);
    w.set_bool(a + "expert_weights_norm", e.normalize_top_k);
    w.set_u32(a + "expert_gating_func", e.gating == MoeConfig::Gating::kSigmoid ? 2 : 1);
    if (e.n_groups > 1) {
      w.set_u32(a + "expert_group_count", u32(e.n_groups));
      w.set_u32(a + "expert_group_used_count", u32(e.n_groups_used));
    }
  }
  const RopeScalingConfig& s = c.rope_scaling;
  if (s.kind == RopeScalingConfig::Kind::kYarn) {
    w.set_string(a + "rope.scaling.type", "yarn");
    w.set_f32(a + "rope.scaling.factor", s.factor);
    w.set_u32(a + "rope.scaling.original_context_length", u32(s.original_context));
    w.set_f32(a + "rope.scaling.yarn_beta_fast", s.beta_fast);
    w.set_f32(a + "rope.scaling.yarn_beta_slow", s.beta_slow);
    w.set_f32(a + "rope.scaling.yarn_log_multiplier", 0.1f * s.mscale_all_dim);
  }
}

// GLM-4.5 keys as llama.cpp's converter writes them (sigmoid gating, shared experts, leading
// dense layers; block_count and the MTP layer count are set_arch_metadata's).
void set_glm4moe_metadata(const ModelConfig& c, GgufWriter& w) {
  const std::string a = "glm4moe.";
  const MoeConfig& e = c.moe;
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  w.set_u32(a + "expert_shared_count", u32(e.n_shared_experts));
  w.set_u32(a + "leading_dense_block_count", u32(e.first_dense_layers));
  w.set_u32(a + "expert_gating_func", 2);  // sigmoid
  w.set_f32(a + "expert_weights_scale", e.routed_scaling);
  w.set_bool(a + "expert_weights_norm", e.normalize_top_k);
}

// MiniMax-M2 keys as llama.cpp's converter writes them: scoring_func as expert_gating_func (the
// common keys carry the rest: rope.dimension_count = rotary_dim, expert_feed_forward_length =
// feed_forward_length = intermediate_size).
void set_minimax_m2_metadata(const ModelConfig& c, GgufWriter& w) {
  w.set_u32("minimax-m2.expert_gating_func", c.moe.gating == MoeConfig::Gating::kSigmoid ? 2 : 1);
}

// The GGUF tensors a layout tensor becomes: itself, or for deepseek2's attn_kv_b its
// attn_k_b / attn_v_b split.
std::vector<GeneratedTensor> gguf_forms(const ModelConfig& c, GeneratedTensor t) {
  if (c.arch == Arch::kDeepseek2 && t.name.find(".attn_kv_b.") != std::string::npos) {
    return deepseek2_gguf_split_kv_b(c, t);
  }
  std::vector<GeneratedTensor> out;
  out.push_back(std::move(t));
  return out;
}
}  // namespace

void set_arch_metadata(const ModelConfig& c, GgufWriter& w, const std::string& name) {
  const std::string a = arch_name(c.arch);
  w.set_string("general.architecture", a);
  w.set_string("general.name", name);
  w.set_u32("general.quantization_version", 2);
  w.set_u32(a + ".context_length", static_cast<uint32_t>(c.context_length));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(c.d_model));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(c.n_layers + c.n_nextn_layers));
  if (c.n_nextn_layers > 0) {
    w.set_u32(a + ".nextn_predict_layers", static_cast<uint32_t>(c.n_nextn_layers));
  }
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(c.ffn_hidden));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  w.set_u32(a + ".attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.set_u32(a + ".attention.value_length", static_cast<uint32_t>(c.head_dim));
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", c.rms_eps);
  w.set_f32(a + ".rope.freq_base", c.rope_theta);
  w.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(c.rope_dims));
  w.set_u32(a + ".vocab_size", static_cast<uint32_t>(c.vocab_size));
  if (c.moe.enabled()) {
    w.set_u32(a + ".expert_count", static_cast<uint32_t>(c.moe.n_experts));
    w.set_u32(a + ".expert_used_count", static_cast<uint32_t>(c.moe.n_experts_used));
    w.set_u32(a + ".expert_feed_forward_length", static_cast<uint32_t>(c.moe.expert_ffn_hidden));
  }
  if (c.arch == Arch::kDeepseek2) set_deepseek2_metadata(c, w);
  if (c.arch == Arch::kGlm4Moe) set_glm4moe_metadata(c, w);
  if (c.arch == Arch::kMinimaxM2) set_minimax_m2_metadata(c, w);
}

namespace {

Status write_gguf(const TestModelRequest& r, const ModelConfig& c, const TokenizerSpec& tok) {
  GgufWriter writer;
  set_arch_metadata(c, writer, "mxserve-test-" + std::string(arch_name(c.arch)));
  MX_RETURN_IF_ERROR(add_tokenizer_to_gguf(tok, chat_template_of(r.tokenizer_dir), writer));
  for (GeneratedTensor& layout_tensor : test_model_layout(c)) {
    generate_test_tensor(c, r.spec.seed, layout_tensor);
    permute_for_gguf(c, layout_tensor);
    for (GeneratedTensor& t : gguf_forms(c, std::move(layout_tensor))) {
      const DType type = storage_type(t, c, r.type);
      MX_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, encode_rows(t, type));
      MX_RETURN_IF_ERROR(writer.add_tensor(t.name, type, t.shape, bytes));
    }
  }
  if (c.rope_scaling.kind == RopeScalingConfig::Kind::kLlama3) {
    std::vector<float> factors = llama3_rope_freq_factors(c);
    MX_RETURN_IF_ERROR(writer.add_f32_tensor("rope_freqs.weight",
                                             {static_cast<int64_t>(factors.size())}, factors));
  }
  return writer.write_file(r.out);
}

}  // namespace

Result<TestModelType> parse_test_model_type(const std::string& name) {
  static const std::pair<const char*, TestModelType> kNames[] = {
      {"f32", TestModelType::kF32},   {"f16", TestModelType::kF16},
      {"bf16", TestModelType::kBf16}, {"q8_0", TestModelType::kQ8_0},
      {"q4_0", TestModelType::kQ4_0}, {"q4_k", TestModelType::kQ4K},
      {"q5_k", TestModelType::kQ5K},  {"q6_k", TestModelType::kQ6K},
      {"q4_k_m", TestModelType::kQ4KM}, {"fp8", TestModelType::kFp8}};
  std::string lower = name;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const auto& [text, type] : kNames) {
    if (lower == text) return type;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown --type '{}' (f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m, "
                    "fp8)",
                    name);
}

Status write_hf_folder(const TestModelRequest& r, const ModelConfig& c);  // test_model_hf.cpp

Status write_test_model(const TestModelRequest& request) {
  MX_ASSIGN_OR_RETURN(TokenizerSpec tokenizer, load_tokenizer_json_dir(request.tokenizer_dir));
  TestModelSpec spec = request.spec;
  spec.vocab_size = static_cast<int64_t>(tokenizer.tokens.size());
  ModelConfig config = request.config ? *request.config : test_model_config(spec);
  config.vocab_size = spec.vocab_size;
  MX_RETURN_IF_ERROR(config.validate(request.out));
  spdlog::info("writing {} test model ({} layers, d_model {}, vocab {}) to {}",
               arch_name(config.arch), config.n_layers, config.d_model, config.vocab_size,
               request.out);
  if (request.hf_format) return write_hf_folder(request, config);
  if (request.type == TestModelType::kFp8) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--type fp8 is for Hugging Face folders (--format hf); GGUF cannot store FP8");
  }
  return write_gguf(request, config, tokenizer);
}

}  // namespace mx
