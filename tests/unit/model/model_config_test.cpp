#include "model/model_config.h"

#include <gtest/gtest.h>

namespace mx {
namespace {

nlohmann::json qwen3_config() {
  return nlohmann::json::parse(R"({
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 1024,
    "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8,
    "head_dim": 128, "intermediate_size": 3072, "vocab_size": 151936, "rms_norm_eps": 1e-06,
    "rope_theta": 1000000, "max_position_embeddings": 40960, "tie_word_embeddings": true})");
}

TEST(ModelConfig, ReadsHfQwen3) {
  auto config = model_config_from_hf(qwen3_config(), "qwen3-dir");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->arch, Arch::kQwen3);
  EXPECT_EQ(config->head_dim, 128);
  EXPECT_TRUE(config->qk_norm);
  EXPECT_TRUE(config->tie_embeddings);
  EXPECT_FALSE(config->rope_interleaved);
  EXPECT_FLOAT_EQ(config->rope_theta, 1e6f);
}

TEST(ModelConfig, ReadsLlama3RopeScaling) {
  auto json = qwen3_config();
  json["model_type"] = "llama";
  json["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  auto config = model_config_from_hf(json, "llama-dir");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->rope_scaling.kind, RopeScalingConfig::Kind::kLlama3);
  EXPECT_EQ(config->rope_scaling.original_context, 8192);
}

TEST(ModelConfig, ErrorsNameTheProblem) {
  auto json = qwen3_config();
  json.erase("hidden_size");
  auto missing = model_config_from_hf(json, "dir");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, "dir: config.json has no 'hidden_size'");
  json = qwen3_config();
  json["num_key_value_heads"] = 5;
  auto bad = model_config_from_hf(json, "dir");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("not a multiple of the KV head count 5"), std::string::npos);
  json = qwen3_config();
  json["model_type"] = "mamba";
  EXPECT_EQ(model_config_from_hf(json, "dir").error().code, ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace mx
