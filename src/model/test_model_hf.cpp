// The Hugging Face folder form of a test model: config.json as transformers writes it for the
// architecture, model.safetensors, and the tokenizer files copied from the tokenizer folder.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/half.h"
#include "kernels/cpu/fp8.h"
#include "io/safetensors_writer.h"
#include "model/test_model_writer.h"

namespace mx {
namespace {

// config.json of DeepSeek-V2 (softmax routing) or V3 (sigmoid routing) as transformers has it.
nlohmann::ordered_json deepseek_hf_config(const ModelConfig& c, const char* dtype) {
  const MlaConfig& m = c.mla;
  const MoeConfig& e = c.moe;
  const bool v3 = e.gating == MoeConfig::Gating::kSigmoid;
  nlohmann::ordered_json j;
  j["architectures"] = {v3 ? "DeepseekV3ForCausalLM" : "DeepseekV2ForCausalLM"};
  j["model_type"] = v3 ? "deepseek_v3" : "deepseek_v2";
  j["hidden_size"] = c.d_model;
  j["intermediate_size"] = c.ffn_hidden;
  j["moe_intermediate_size"] = e.enabled() ? e.expert_ffn_hidden : c.ffn_hidden;
  j["num_hidden_layers"] = c.n_layers;
  j["num_nextn_predict_layers"] = c.n_nextn_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_heads;
  j["q_lora_rank"] = m.q_lora_rank > 0 ? nlohmann::ordered_json(m.q_lora_rank) : nullptr;
  j["kv_lora_rank"] = m.kv_lora_rank;
  j["qk_nope_head_dim"] = m.qk_nope_dim;
  j["qk_rope_head_dim"] = m.qk_rope_dim;
  j["v_head_dim"] = m.v_head_dim;
  j["n_routed_experts"] = e.enabled() ? nlohmann::ordered_json(e.n_experts) : nullptr;
  j["n_shared_experts"] = e.n_shared_experts;
  j["num_experts_per_tok"] = e.n_experts_used;
  j["first_k_dense_replace"] = e.enabled() ? e.first_dense_layers : c.n_layers;
  j["moe_layer_freq"] = 1;
  j["scoring_func"] = v3 ? "sigmoid" : "softmax";
  j["topk_method"] = e.score_bias ? "noaux_tc" : (e.n_groups > 1 ? "group_limited_greedy" : "greedy");
  j["n_group"] = e.n_groups;
  j["topk_group"] = e.n_groups_used;
  j["norm_topk_prob"] = e.normalize_top_k;
  j["routed_scaling_factor"] = e.routed_scaling;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.context_length;
  j["rms_norm_eps"] = c.rms_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_interleave"] = true;
  const RopeScalingConfig& s = c.rope_scaling;
  j["rope_scaling"] = {{"type", "yarn"},
                       {"factor", s.factor},
                       {"original_max_position_embeddings", s.original_context},
                       {"beta_fast", s.beta_fast},
                       {"beta_slow", s.beta_slow},
                       {"mscale", s.mscale},
                       {"mscale_all_dim", s.mscale_all_dim}};
  j["attention_bias"] = false;
  j["tie_word_embeddings"] = false;
  j["vocab_size"] = c.vocab_size;
  j["torch_dtype"] = dtype;
  return j;
}

// config.json of GLM-4.5 (Glm4MoeForCausalLM) as transformers has it.
nlohmann::ordered_json glm4moe_hf_config(const ModelConfig& c, const char* dtype) {
  const MoeConfig& e = c.moe;
  nlohmann::ordered_json j;
  j["architectures"] = {"Glm4MoeForCausalLM"};
  j["model_type"] = "glm4_moe";
  j["hidden_size"] = c.d_model;
  j["intermediate_size"] = c.ffn_hidden;
  j["moe_intermediate_size"] = e.expert_ffn_hidden;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["partial_rotary_factor"] = static_cast<double>(c.rope_dims) / static_cast<double>(c.head_dim);
  j["attention_bias"] = c.qkv_bias;
  j["use_qk_norm"] = c.qk_norm;
  j["n_routed_experts"] = e.n_experts;
  j["n_shared_experts"] = e.n_shared_experts;
  j["num_experts_per_tok"] = e.n_experts_used;
  j["first_k_dense_replace"] = e.first_dense_layers;
  j["norm_topk_prob"] = e.normalize_top_k;
  j["routed_scaling_factor"] = e.routed_scaling;
  j["n_group"] = e.n_groups;
  j["topk_group"] = e.n_groups_used;
  j["num_nextn_predict_layers"] = c.n_nextn_layers;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.context_length;
  j["rms_norm_eps"] = c.rms_eps;
  j["rope_theta"] = c.rope_theta;
  j["rope_scaling"] = nullptr;
  j["attention_dropout"] = 0.0;
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["vocab_size"] = c.vocab_size;
  j["torch_dtype"] = dtype;
  return j;
}

// config.json of MiniMax-M2 (MiniMaxM2ForCausalLM) as its checkpoint has it.
nlohmann::ordered_json minimax_m2_hf_config(const ModelConfig& c, const char* dtype) {
  const MoeConfig& e = c.moe;
  nlohmann::ordered_json j;
  j["architectures"] = {"MiniMaxM2ForCausalLM"};
  j["model_type"] = "minimax_m2";
  j["hidden_size"] = c.d_model;
  j["intermediate_size"] = e.expert_ffn_hidden;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["head_dim"] = c.head_dim;
  j["rotary_dim"] = c.rope_dims;
  j["partial_rotary_factor"] = static_cast<double>(c.rope_dims) / static_cast<double>(c.head_dim);
  j["use_qk_norm"] = c.qk_norm;
  j["qk_norm_type"] = "per_layer";
  j["num_local_experts"] = e.n_experts;
  j["num_experts_per_tok"] = e.n_experts_used;
  j["scoring_func"] = e.gating == MoeConfig::Gating::kSigmoid ? "sigmoid" : "softmax";
  j["use_routing_bias"] = e.score_bias;
  j["shared_intermediate_size"] = 0;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.context_length;
  j["rms_norm_eps"] = c.rms_eps;
  j["rope_theta"] = c.rope_theta;
  j["attention_dropout"] = 0.0;
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["vocab_size"] = c.vocab_size;
  j["torch_dtype"] = dtype;
  return j;
}

nlohmann::ordered_json hf_config(const ModelConfig& c, const char* dtype) {
  if (c.arch == Arch::kDeepseek2) return deepseek_hf_config(c, dtype);
  if (c.arch == Arch::kGlm4Moe) return glm4moe_hf_config(c, dtype);
  if (c.arch == Arch::kMinimaxM2) return minimax_m2_hf_config(c, dtype);
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

// FP8 (DeepSeek-V3 style): 2-D projection matrices as E4M3 codes with F32 block scales
// ("weight_scale_inv", 128 x 128 blocks), experts one FP8 tensor each; embeddings, the output,
// routers and norms stay F32.
constexpr int64_t kFp8Block = 128;

// Matrices and stacked experts (one FP8 tensor per expert, as DeepSeek-V3 stores them).
bool fp8_eligible(const GeneratedTensor& t) {
  return !t.is_norm && (t.shape.size() == 2 || t.shape.size() == 3) &&
         t.name != "token_embd.weight" && t.name != "output.weight" &&
         t.name.find("ffn_gate_inp") == std::string::npos;
}

// The E4M3 code nearest to v (|v| <= 448): the non-negative finite codes 0..0x7E are sorted by
// value, so a binary search finds the first at or above |v|; a tie goes to the lower code.
uint8_t nearest_e4m3(float v) {
  const float* table = fp8_e4m3_table();
  const float a = std::fabs(v);
  const int above = static_cast<int>(std::lower_bound(table, table + 0x7F, a) - table);
  int best = std::min(above, 0x7E);
  if (above > 0 && (above == 0x7F || a - table[above - 1] <= table[above] - a)) best = above - 1;
  return static_cast<uint8_t>(best | (v < 0 ? 0x80 : 0));
}

// codes [rows, cols] and scale_inv [ceil(rows/128), ceil(cols/128)] of values [rows, cols]:
// each block's largest magnitude maps to 448.
void quantize_fp8(const float* values, int64_t rows, int64_t cols, std::vector<uint8_t>& codes,
                  std::vector<float>& scales) {
  const int64_t br = (rows + kFp8Block - 1) / kFp8Block, bc = (cols + kFp8Block - 1) / kFp8Block;
  scales.assign(static_cast<size_t>(br * bc), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      float& s = scales[(r / kFp8Block) * bc + c / kFp8Block];
      s = std::max(s, std::fabs(values[r * cols + c]) / 448.0f);
    }
  }
  for (float& s : scales) s = s > 0.0f ? s : 1.0f;
  codes.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float s = scales[(r / kFp8Block) * bc + c / kFp8Block];
      codes[r * cols + c] = nearest_e4m3(values[r * cols + c] / s);
    }
  }
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
  } else if (r.type != TestModelType::kF32 && r.type != TestModelType::kFp8) {
    return make_error(ErrorCode::kInvalidArgument,
                      "Hugging Face test models are f32, f16, bf16 or fp8; quantized types are "
                      "GGUF only (use --format gguf)");
  }
  const bool fp8 = r.type == TestModelType::kFp8;
  std::error_code ec;
  std::filesystem::create_directories(r.out, ec);
  if (ec) return make_error(ErrorCode::kIoError, "{}: cannot create folder: {}", r.out, ec.message());
  nlohmann::ordered_json config = hf_config(c, dtype_text);
  if (fp8) {
    config["quantization_config"] = {{"quant_method", "fp8"},
                                     {"fmt", "e4m3"},
                                     {"activation_scheme", "dynamic"},
                                     {"weight_block_size", {kFp8Block, kFp8Block}}};
  }
  MX_RETURN_IF_ERROR(write_json(r.out + "/config.json", config));
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
  // (layout index, expert or -1, part: 0 the values or FP8 codes, 1 the FP8 block scales)
  struct Source {
    size_t index;
    int64_t expert;
    int part;
  };
  std::vector<Source> source;
  for (size_t i = 0; i < layout.size(); ++i) {
    const GeneratedTensor& t = layout[i];
    const DType type = t.is_norm ? DType::F32 : dtype;
    if (fp8 && fp8_eligible(t)) {
      const bool stacked = t.shape.size() == 3;
      const int64_t rows = t.shape[stacked ? 1 : 0], cols = t.shape.back();
      for (int64_t e = 0; e < (stacked ? t.shape[0] : 1); ++e) {
        std::string name = t.hf_name;
        if (stacked) name.replace(name.find("{}"), 2, std::to_string(e));
        const std::string stem = name.substr(0, name.size() - std::string(".weight").size());
        entries.push_back({name, DType::F8_E4M3, {rows, cols}});
        entries.push_back(
            {stem + ".weight_scale_inv",
             DType::F32,
             {(rows + kFp8Block - 1) / kFp8Block, (cols + kFp8Block - 1) / kFp8Block}});
        source.push_back({i, stacked ? e : -1, 0});
        source.push_back({i, stacked ? e : -1, 1});
      }
      continue;
    }
    if (t.shape.size() != 3) {
      entries.push_back({t.hf_name, type, t.shape});
      source.push_back({i, -1, 0});
      continue;
    }
    for (int64_t e = 0; e < t.shape[0]; ++e) {
      std::string name = t.hf_name;
      name.replace(name.find("{}"), 2, std::to_string(e));
      entries.push_back({name, type, {t.shape[1], t.shape[2]}});
      source.push_back({i, e, 0});
    }
  }
  auto produce = [&](size_t i, std::vector<uint8_t>& bytes) -> Status {
    const auto [index, expert, part] = source[i];
    GeneratedTensor& t = layout[index];
    if (t.values.empty()) generate_test_tensor(c, r.spec.seed, t);  // once per stacked tensor
    const int64_t per_expert = expert < 0 ? 0 : t.shape[1] * t.shape[2];
    const float* values = t.values.data() + std::max<int64_t>(expert, 0) * per_expert;
    const size_t count = expert < 0 ? t.values.size() : static_cast<size_t>(per_expert);
    const DType type = entries[i].dtype;
    if (fp8 && fp8_eligible(t)) {  // the codes (part 0), then their block scales (part 1)
      std::vector<uint8_t> codes;
      std::vector<float> scales;
      quantize_fp8(values, t.shape[t.shape.size() - 2], t.shape.back(), codes, scales);
      if (part == 0) {
        bytes = std::move(codes);
      } else {
        bytes.resize(scales.size() * 4);
        std::memcpy(bytes.data(), scales.data(), bytes.size());
        if (expert < 0 || expert + 1 == t.shape[0]) t.values = {};
      }
      return ok_status();
    }
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
