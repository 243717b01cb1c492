// The Hugging Face folder form of a test model: config.json as transformers writes it for the
// architecture, model.safetensors, and the tokenizer files copied from the tokenizer folder.
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
                                         "Qwen3ForCausalLM"};
  nlohmann::ordered_json j;
  j["architectures"] = {kArchitectures[static_cast<int>(c.arch)]};
  j["model_type"] = arch_name(c.arch);
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
  std::vector<GeneratedTensor> layout = test_model_layout(c);
  std::vector<SafetensorsEntry> entries;
  for (const GeneratedTensor& t : layout) {
    entries.push_back({t.hf_name, t.is_norm ? DType::F32 : dtype, t.shape});
  }
  auto produce = [&](size_t i, std::vector<uint8_t>& bytes) -> Status {
    GeneratedTensor& t = layout[i];
    generate_test_tensor(c, r.spec.seed, t);
    const DType type = entries[i].dtype;
    const size_t elem = type == DType::F32 ? 4 : 2;
    bytes.resize(t.values.size() * elem);
    for (size_t k = 0; k < t.values.size(); ++k) {
      if (type == DType::F32) {
        std::memcpy(&bytes[k * 4], &t.values[k], 4);
      } else {
        uint16_t half = type == DType::F16 ? fp32_to_fp16(t.values[k]) : fp32_to_bf16(t.values[k]);
        std::memcpy(&bytes[k * 2], &half, 2);
      }
    }
    t.values = {};
    return ok_status();
  };
  return write_safetensors(r.out + "/model.safetensors", entries, produce, {{"format", "pt"}});
}

}  // namespace mx
