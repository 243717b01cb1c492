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

}  // namespace

void set_arch_metadata(const ModelConfig& c, GgufWriter& w, const std::string& name) {
  const std::string a = arch_name(c.arch);
  w.set_string("general.architecture", a);
  w.set_string("general.name", name);
  w.set_u32("general.quantization_version", 2);
  w.set_u32(a + ".context_length", static_cast<uint32_t>(c.context_length));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(c.d_model));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(c.n_layers));
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
}

namespace {

Status write_gguf(const TestModelRequest& r, const ModelConfig& c, const TokenizerSpec& tok) {
  GgufWriter writer;
  set_arch_metadata(c, writer, "mxserve-test-" + std::string(arch_name(c.arch)));
  MX_RETURN_IF_ERROR(add_tokenizer_to_gguf(tok, chat_template_of(r.tokenizer_dir), writer));
  for (GeneratedTensor& t : test_model_layout(c)) {
    generate_test_tensor(c, r.spec.seed, t);
    permute_for_gguf(c, t);
    const DType type = storage_type(t, c, r.type);
    MX_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, encode_rows(t, type));
    MX_RETURN_IF_ERROR(writer.add_tensor(t.name, type, t.shape, bytes));
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
      {"q4_k_m", TestModelType::kQ4KM}};
  std::string lower = name;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const auto& [text, type] : kNames) {
    if (lower == text) return type;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown --type '{}' (f32, f16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k, q4_k_m)",
                    name);
}

Status write_hf_folder(const TestModelRequest& r, const ModelConfig& c);  // test_model_hf.cpp

Status write_test_model(const TestModelRequest& request) {
  MX_ASSIGN_OR_RETURN(TokenizerSpec tokenizer, load_tokenizer_json_dir(request.tokenizer_dir));
  TestModelSpec spec = request.spec;
  spec.vocab_size = static_cast<int64_t>(tokenizer.tokens.size());
  ModelConfig config = test_model_config(spec);
  MX_RETURN_IF_ERROR(config.validate(request.out));
  spdlog::info("writing {} test model ({} layers, d_model {}, vocab {}) to {}",
               arch_name(config.arch), config.n_layers, config.d_model, config.vocab_size,
               request.out);
  if (request.hf_format) return write_hf_folder(request, config);
  return write_gguf(request, config, tokenizer);
}

}  // namespace mx
