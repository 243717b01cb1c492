#include "io/hf_model.h"

#include <gtest/gtest.h>

#include <string>

#include "hf_test_util.h"
#include "io/safetensors.h"

namespace mx {
namespace {

using testing::hf_data;

// Every tensor of <folder>.expected.json is in the WeightMap under its canonical name with the
// right dtype, shape and bytes, and nothing else is.
void expect_matches_fixture(const HfModel& model, const std::string& folder) {
  nlohmann::json expected = testing::load_expected(folder);
  ASSERT_FALSE(expected.empty()) << folder;
  EXPECT_EQ(model.weights.size(), expected.size());
  for (const auto& [canonical, want] : expected.items()) {
    const TensorInfo* tensor = model.weights.find(canonical);
    ASSERT_NE(tensor, nullptr) << canonical << " (HF " << want["hf_name"] << ")";
    EXPECT_EQ(tensor->name, canonical);
    EXPECT_EQ(tensor->dtype, safetensors_dtype(want["dtype"].get<std::string>())) << canonical;
    EXPECT_EQ(tensor->shape, want["shape"].get<std::vector<int64_t>>()) << canonical;
    ASSERT_EQ(tensor->nbytes, want["nbytes"].get<uint64_t>()) << canonical;
    EXPECT_EQ(fmt::format("{:016x}", testing::fnv1a64(tensor->data, tensor->nbytes)),
              want["fnv1a64"].get<std::string>())
        << canonical;
    EXPECT_EQ(tensor->source.rfind(hf_data(folder) + "/", 0), 0u) << tensor->source;
  }
}

TEST(HfModel, LoadsTinyLlama) {
  auto model = load_hf_model(hf_data("tiny_llama"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  expect_matches_fixture(*model, "tiny_llama");
  EXPECT_EQ(model->family, HfFamily::kLlama);
  EXPECT_EQ(model->model_type, "llama");
  EXPECT_EQ(model->architecture, "LlamaForCausalLM");
  EXPECT_EQ(model->config["hidden_size"], 16);
  EXPECT_EQ(model->generation_config["temperature"], 0.6);
  EXPECT_EQ(model->tokenizer_config["bos_token"], "<s>");
  EXPECT_EQ(model->tokenizer_json_path, hf_data("tiny_llama") + "/tokenizer.json");
  EXPECT_FALSE(model->tie_word_embeddings);
  EXPECT_TRUE(model->weights.qk_rows_hf_order);
  EXPECT_EQ(model->weights.source, hf_data("tiny_llama"));
  ASSERT_EQ(model->weight_files.size(), 1u);
  // The RoPE buffer has no canonical name: kept, under its HF name, and reported.
  ASSERT_EQ(model->unmapped_tensors.size(), 1u);
  EXPECT_EQ(model->unmapped_tensors[0], "model.layers.0.self_attn.rotary_emb.inv_freq");
  EXPECT_NE(model->weights.find("model.layers.0.self_attn.rotary_emb.inv_freq"), nullptr);
  EXPECT_EQ(model->weights.find("output.weight")->dtype, DType::F16);
  EXPECT_TRUE(is_hf_model_dir(hf_data("tiny_llama")));
  EXPECT_FALSE(is_hf_model_dir(hf_data("tiny_llama/model.safetensors")));
}

TEST(HfModel, ShardedFolderGivesTheSameWeights) {
  auto model = load_hf_model(hf_data("tiny_llama_sharded"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  expect_matches_fixture(*model, "tiny_llama_sharded");
  ASSERT_EQ(model->weight_files.size(), 2u);
  EXPECT_NE(model->weights.find("blk.1.ffn_down.weight")->source.find("model-00002-of-00002"),
            std::string::npos);
  EXPECT_NE(model->weights.find("blk.0.attn_q.weight")->source.find("model-00001-of-00002"),
            std::string::npos);
  EXPECT_TRUE(model->generation_config.is_null());
  EXPECT_TRUE(model->tokenizer_json_path.empty());
}

TEST(HfModel, TiedQwen3HasNoOutputWeight) {
  auto model = load_hf_model(hf_data("tiny_qwen3_tied"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  expect_matches_fixture(*model, "tiny_qwen3_tied");
  EXPECT_EQ(model->family, HfFamily::kQwen3);
  EXPECT_TRUE(model->tie_word_embeddings);
  EXPECT_EQ(model->weights.find("output.weight"), nullptr);  // the model code reuses token_embd
  EXPECT_EQ(model->weights.find("blk.0.attn_k_norm.weight")->shape, (std::vector<int64_t>{4}));
  EXPECT_TRUE(model->tokenizer_config.is_null());
}

TEST(HfModel, LoadsBlockScaledFp8DeepSeek) {
  auto model = load_hf_model(hf_data("tiny_deepseek_v3_fp8"));
  ASSERT_TRUE(model.ok()) << model.error().message;
  expect_matches_fixture(*model, "tiny_deepseek_v3_fp8");
  EXPECT_EQ(model->family, HfFamily::kDeepseek);
  EXPECT_EQ(model->fp8_block_rows, 128);
  EXPECT_EQ(model->fp8_block_cols, 128);
  EXPECT_TRUE(model->unmapped_tensors.empty());
  const TensorInfo* gate = model->weights.find("blk.0.ffn_gate.weight");
  const TensorInfo* gate_scale = model->weights.find("blk.0.ffn_gate.scale_inv");
  ASSERT_NE(gate, nullptr);
  ASSERT_NE(gate_scale, nullptr);
  EXPECT_EQ(gate->dtype, DType::F8_E4M3);
  EXPECT_EQ(gate->shape, (std::vector<int64_t>{200, 32}));
  EXPECT_EQ(gate_scale->dtype, DType::F32);
  EXPECT_EQ(gate_scale->shape, (std::vector<int64_t>{2, 1}));  // ceil(200/128), ceil(32/128)
  EXPECT_EQ(model->weights.find("blk.0.ffn_down.scale_inv")->shape, (std::vector<int64_t>{1, 2}));
  // Experts stay one tensor per expert (see hf_names.h), each with its own scales.
  for (const char* name :
       {"blk.1.ffn_gate_exps.0.weight", "blk.1.ffn_up_exps.1.weight",
        "blk.1.ffn_down_exps.1.scale_inv", "blk.1.ffn_gate_inp.weight", "blk.1.exp_probs_b.bias",
        "blk.1.ffn_down_shexp.weight", "blk.0.attn_kv_a_mqa.weight", "blk.1.attn_q_b.scale_inv"}) {
    EXPECT_NE(model->weights.find(name), nullptr) << name;
  }
  EXPECT_EQ(model->weights.find("blk.1.ffn_gate_exps.weight"), nullptr);
}

struct BadFolder {
  const char* folder;
  ErrorCode code;
  const char* mentions;  // file, tensor or key the message must name
  const char* says;
};

class HfBadFolder : public ::testing::TestWithParam<BadFolder> {};

TEST_P(HfBadFolder, FailsWithCodeNamingFileAndTensor) {
  const BadFolder& bad = GetParam();
  std::string dir = hf_data(std::string("bad/") + bad.folder);
  auto model = load_hf_model(dir);
  ASSERT_FALSE(model.ok()) << dir;
  const Error& error = model.error();
  EXPECT_EQ(error_code_name(error.code), std::string(error_code_name(bad.code))) << error.message;
  EXPECT_EQ(error.message.rfind(dir, 0), 0u) << error.message;  // starts with the path
  EXPECT_NE(error.message.find(bad.mentions), std::string::npos) << error.message;
  EXPECT_NE(error.message.find(bad.says), std::string::npos) << error.message;
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, HfBadFolder,
    ::testing::Values(BadFolder{"missing_config", ErrorCode::kNotFound, "no config.json",
                                "Hugging Face model folder"},
                      BadFolder{"bad_config_json", ErrorCode::kCorruptData, "config.json",
                                "invalid JSON at byte"},
                      BadFolder{"unsupported_arch", ErrorCode::kUnsupported, "'gpt2'", "qwen3_moe"},
                      BadFolder{"no_weights", ErrorCode::kNotFound, "model.safetensors",
                                "no weights"},
                      BadFolder{"corrupt_weights", ErrorCode::kCorruptData,
                                "model.safetensors: tensor", "beyond the data section"},
                      BadFolder{"index_missing_shard", ErrorCode::kNotFound,
                                "model-00002-of-00002.safetensors", "fetch the missing shard"},
                      BadFolder{"index_missing_tensor", ErrorCode::kNotFound,
                                "'model.layers.9.mlp.up_proj.weight'", "missing from this shard"},
                      BadFolder{"index_escape", ErrorCode::kCorruptData, "'../escape.safetensors'",
                                "refusing to read outside the model folder"},
                      BadFolder{"fp8_scale_shape", ErrorCode::kCorruptData,
                                "'blk.0.ffn_gate.scale_inv'", "needs f32 [2, 1]"}),
    [](const auto& info) { return std::string(info.param.folder); });

TEST(HfModel, NotADirectory) {
  auto model = load_hf_model(hf_data("does_not_exist"));
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.error().code, ErrorCode::kNotFound);
  EXPECT_NE(model.error().message.find("does_not_exist"), std::string::npos);
}

}  // namespace
}  // namespace mx
