#include "model/test_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

namespace mx {
namespace {

TEST(TestModel, ValuesDependOnlyOnSeedAndName) {
  TestModelSpec spec;
  spec.vocab_size = 1000;
  ModelConfig config = test_model_config(spec);
  ASSERT_TRUE(config.validate("tiny").ok());
  auto layout = test_model_layout(config);
  GeneratedTensor a = layout[1], b = layout[1], c = layout[1];
  generate_test_tensor(config, 7, a);
  generate_test_tensor(config, 7, b);
  generate_test_tensor(config, 8, c);
  EXPECT_EQ(a.values, b.values);
  EXPECT_NE(a.values, c.values);
}

TEST(TestModel, MatricesAreScaledByGainOverSqrtFanIn) {
  TestModelSpec spec;
  spec.vocab_size = 1000;
  spec.arch = Arch::kLlama;
  ModelConfig config = test_model_config(spec);
  for (GeneratedTensor tensor : test_model_layout(config)) {
    if (tensor.name != "output.weight" && tensor.name != "blk.0.ffn_up.weight") continue;
    generate_test_tensor(config, 1, tensor);
    double sum_sq = std::inner_product(tensor.values.begin(), tensor.values.end(),
                                       tensor.values.begin(), 0.0);
    double stddev = std::sqrt(sum_sq / tensor.values.size());
    double gain = tensor.name == "output.weight" ? 3.0 : 1.0;
    EXPECT_NEAR(stddev * std::sqrt(static_cast<double>(config.d_model)), gain, 0.05 * gain)
        << tensor.name;
  }
}

TEST(TestModel, InterleavedPermutationMovesHalvesToPairs) {
  // One head, head_dim 4, 1 column: rows [a b c d] (halves [a b], [c d]) → [a c b d].
  std::vector<float> rows = {0, 1, 2, 3};
  EXPECT_EQ(permute_rows_for_interleaved_rope(rows, 1, 4, 1), (std::vector<float>{0, 2, 1, 3}));
}

TEST(TestModel, Llama3FreqFactorsFollowTheScalingBands) {
  TestModelSpec spec;
  spec.vocab_size = 1000;
  spec.arch = Arch::kLlama;
  ModelConfig config = test_model_config(spec);
  std::vector<float> factors = llama3_rope_freq_factors(config);
  ASSERT_EQ(static_cast<int64_t>(factors.size()), config.rope_dims / 2);
  EXPECT_FLOAT_EQ(factors.front(), 1.0f);   // highest frequency: unscaled
  EXPECT_FLOAT_EQ(factors.back(), 32.0f);   // lowest frequency: divided by the factor
  for (size_t i = 1; i < factors.size(); ++i) EXPECT_GE(factors[i], factors[i - 1]);
}

}  // namespace
}  // namespace mx

#include "io/hf_names.h"

namespace mx {
namespace {

// The test model's HF names must map to its canonical names through the HF loader's table.
TEST(TestModel, HfNamesMapToCanonicalNames) {
  for (Arch arch : {Arch::kLlama, Arch::kQwen2, Arch::kQwen3, Arch::kQwen3Moe, Arch::kMinimaxM2}) {
    TestModelSpec spec;
    spec.arch = arch;
    spec.vocab_size = 1000;
    for (const GeneratedTensor& tensor : test_model_layout(test_model_config(spec))) {
      if (tensor.shape.size() == 3) {  // MoE experts: one HF tensor per expert
        std::string hf = tensor.hf_name;
        hf.replace(hf.find("{}"), 2, "5");
        std::string name = tensor.name;
        name.replace(name.find(".weight"), 7, ".5.weight");
        EXPECT_EQ(hf_to_canonical_name(hf).value_or(""), name);
        continue;
      }
      auto canonical = hf_to_canonical_name(tensor.hf_name);
      ASSERT_TRUE(canonical.has_value()) << tensor.hf_name;
      EXPECT_EQ(*canonical, tensor.name);
    }
  }
}

}  // namespace
}  // namespace mx
