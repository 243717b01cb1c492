// The Hugging Face folder form of a test model: config.json as transformers writes it for the
// architecture, model.safetensors, and the tokenizer files copied from the tokenizer folder.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/half.h"
#include "io/safetensors_writer.h"
#include "model/test_model_writer.h"

namespace mx {
namespace {

nlohmann::ordered_json hf_config(const ModelConfig& c, const char* dtype) {
  static const char* kArchitectures[] = {"LlamaForCausalLM", "Qwen2ForCausalLM",
                                         "Qwen3ForCausalLM", "Qwen3MoeForCausalLM"};
  const bool moe = c.arch == Arch::kQwen3Moe;
  nlohmann::ordered_json j;
  j["architectures"] = {kArchitectures[static_cast<int>(c.arch)]};
  j["model_type"] = moe ? "qwen3_moe" : arch_name(c.arch);
  j["hidden_size"] = c.d_model;
  j["intermediate_size"] = c.ffn_hidden;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.context_length;
  j["rms_norm_eps"] = c.rms_eps;
  j["rope_theta"] = c.rope_theta;
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["vocab_size"] = c.vocab_size;
  j["torch_dtype"] = dtype;
  if (c.arch == Arch::kLlama) {
    j["attention_bias"] = c.qkv_bias;
    j["mlp_bias"] = false;
  }
  if (moe) {
    j["attention_bias"] = false;
    j["num_experts"] = c.moe.n_experts;
    j["num_experts_per_tok"] = c.moe.n_experts_used;
    j["moe_intermediate_size"] = c.moe.expert_ffn_hidden;
    j["norm_topk_prob"] = c.moe.normalize_top_k;
    j["decoder_sparse_step"] = 1;
    j["mlp_only_layers"] = nlohmann::ordered_json::array();
    j["output_router_logits"] = false;
    j["router_aux_loss_coef"] = 0.001;
  }
  if (c.rope_scaling.kind == RopeScalingConfig::Kind::kLlama3) {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.rope_scaling.factor},
                         {"low_freq_factor", c.rope_scaling.low_freq_factor},
                         {"high_freq_factor", c.rope_scaling.high_freq_factor},
                         {"original_max_position_embeddings", c.rope_scaling.original_context}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  return j;
}

Status write_json(const std::string& path, const nlohmann::ordered_json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) return make_error(ErrorCode::kIoError, "{}: cannot write", path);
  return ok_status();
}

}  // namespace

Status write_hf_folder(const TestModelRequest& r, const ModelConfig& c) {
  DType dtype = DType::F32;
  const char* dtype_text = "float32";
  if (r.type == TestModelType::kF16) {
    dtype = DType::F16;
    dtype_text = "float16";
  } else if (r.type == TestModelType::kBf16) {
    dtype = DType::BF16;
    dtype_text = "bfloat16";
  } else if (r.type != TestModelType::kF32) {
    return make_error(ErrorCode::kInvalidArgument,
                      "Hugging Face test models are f32, f16 or bf16; quantized types are GGUF "
                      "only (use --format gguf)");
  }
  std::error_code ec;
  std::filesystem::create_directories(r.out, ec);
  if (ec) return make_error(ErrorCode::kIoError, "{}: cannot create folder: {}", r.out, ec.message());
  MX_RETURN_IF_ERROR(write_json(r.out + "/config.json", hf_config(c, dtype_text)));
  MX_RETURN_IF_ERROR(write_json(r.out + "/generation_config.json",
                                {{"do_sample", false}, {"max_new_tokens", 256}}));
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"}) {
    std::filesystem::copy_file(r.tokenizer_dir + "/" + file, r.out + "/" + file,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return make_error(ErrorCode::kIoError, "cannot copy {}: {}", file, ec.message());
  }
  // One safetensors entry per tensor, or per expert of a stacked [n_experts, rows, cols] tensor.
  std::vector<GeneratedTensor> layout = test_model_layout(c);
  std::vector<SafetensorsEntry> entries;
  std::vector<std::pair<size_t, int64_t>> source;  // (layout index, expert or -1) per entry
  for (size_t i = 0; i < layout.size(); ++i) {
    const GeneratedTensor& t = layout[i];
    const DType type = t.is_norm ? DType::F32 : dtype;
    if (t.shape.size() != 3) {
      entries.push_back({t.hf_name, type, t.shape});
      source.emplace_back(i, -1);
      continue;
    }
    for (int64_t e = 0; e < t.shape[0]; ++e) {
      std::string name = t.hf_name;
      name.replace(name.find("{}"), 2, std::to_string(e));
      entries.push_back({name, type, {t.shape[1], t.shape[2]}});
      source.emplace_back(i, e);
    }
  }
  auto produce = [&](size_t i, std::vector<uint8_t>& bytes) -> Status {
    auto [index, expert] = source[i];
    GeneratedTensor& t = layout[index];
    if (t.values.empty()) generate_test_tensor(c, r.spec.seed, t);  // once per stacked tensor
    const int64_t per_expert = expert < 0 ? 0 : t.shape[1] * t.shape[2];
    const float* values = t.values.data() + std::max<int64_t>(expert, 0) * per_expert;
    const size_t count = expert < 0 ? t.values.size() : static_cast<size_t>(per_expert);
    const DType type = entries[i].dtype;
    const size_t elem = type == DType::F32 ? 4 : 2;
    bytes.resize(count * elem);
    for (size_t k = 0; k < count; ++k) {
      if (type == DType::F32) {
        std::memcpy(&bytes[k * 4], &values[k], 4);
      } else {
        uint16_t half = type == DType::F16 ? fp32_to_fp16(values[k]) : fp32_to_bf16(values[k]);
        std::memcpy(&bytes[k * 2], &half, 2);
      }
    }
    if (expert < 0 || expert + 1 == t.shape[0]) t.values = {};
    return ok_status();
  };
  return write_safetensors(r.out + "/model.safetensors", entries, produce, {{"format", "pt"}});
}

}  // namespace mx
