#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace mx {
namespace {

std::vector<float> log_of(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

// Draws n tokens from fresh copies of `logits` and returns the observed frequencies.
std::vector<double> frequencies(SamplingParams params, const std::vector<float>& logits, int n) {
  params.seed = 1234;
  SamplerState state(params, static_cast<int32_t>(logits.size()));
  std::vector<double> counts(logits.size(), 0.0);
  for (int i = 0; i < n; ++i) {
    std::vector<float> row = logits;
    counts[state.sample(row).token] += 1.0;
  }
  for (double& c : counts) c /= n;
  return counts;
}

TEST(Sampler, GreedyTakesArgmax) {
  SamplingParams params;
  params.temperature = 0.0f;
  SamplerState state(params, 5);
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.9f, 0.0f};
  EXPECT_EQ(state.sample(logits).token, 1);
}

// A queued sequence's SamplerState holds no vocabulary-sized buffers: 100 requests of n=16
// waiting on a 152k-token vocabulary would otherwise hold ~2 GiB before computing anything.
TEST(Sampler, VocabularyBuffersComeWithTheFirstSampleAndCanBeReleased) {
  constexpr int32_t kVocab = 151936;
  SamplingParams params;
  params.top_p = 0.9f;
  params.logprobs = true;
  SamplerState state(params, kVocab);
  EXPECT_EQ(state.buffer_bytes(), 0u);
  std::vector<float> logits(kVocab, 0.0f);
  logits[7] = 50.0f;
  const SampledToken first = state.sample(logits);
  EXPECT_GE(state.buffer_bytes(), 3u * kVocab * sizeof(float));  // candidates, probs, raw logits
  state.release_buffers();  // preempted: back to nothing
  EXPECT_EQ(state.buffer_bytes(), 0u);
  std::vector<float> again(kVocab, 0.0f);
  again[7] = 50.0f;
  EXPECT_EQ(state.sample(again).token, first.token);  // and sampling still works
  EXPECT_GT(state.buffer_bytes(), 0u);
}

TEST(Sampler, FullDistributionMatchesSoftmax) {
  const std::vector<double> probs = {0.5, 0.25, 0.15, 0.1};
  auto freq = frequencies(SamplingParams{}, log_of(probs), 40000);
  for (size_t i = 0; i < probs.size(); ++i) EXPECT_NEAR(freq[i], probs[i], 0.01) << i;
}

TEST(Sampler, TemperatureSharpens) {
  const std::vector<double> probs = {0.5, 0.25, 0.15, 0.1};
  SamplingParams params;
  params.temperature = 0.5f;  // p^2 renormalized
  auto freq = frequencies(params, log_of(probs), 40000);
  double z = 0.25 + 0.0625 + 0.0225 + 0.01;
  EXPECT_NEAR(freq[0], 0.25 / z, 0.01);
  EXPECT_NEAR(freq[3], 0.01 / z, 0.005);
}

TEST(Sampler, TopKRenormalizesOverKept) {
  SamplingParams params;
  params.top_k = 2;
  auto freq = frequencies(params, log_of({0.1, 0.5, 0.15, 0.25}), 30000);
  EXPECT_NEAR(freq[1], 0.5 / 0.75, 0.01);
  EXPECT_NEAR(freq[3], 0.25 / 0.75, 0.01);
  EXPECT_EQ(freq[0] + freq[2], 0.0);
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  SamplingParams params;
  params.top_p = 0.7f;  // 0.5 + 0.3 >= 0.7: keep two
  auto freq = frequencies(params, log_of({0.3, 0.5, 0.2}), 30000);
  EXPECT_NEAR(freq[1], 0.625, 0.01);
  EXPECT_NEAR(freq[0], 0.375, 0.01);
  EXPECT_EQ(freq[2], 0.0);
}

TEST(Sampler, TopPOverLargeVocabularyGrowsCandidates) {
  // 1000 equal tokens: top_p 0.5 must keep exactly 500 of them.
  SamplingParams params;
  params.top_p = 0.5f;
  auto freq = frequencies(params, std::vector<float>(1000, 0.0f), 4000);
  int nonzero = 0;
  for (double f : freq) nonzero += f > 0.0;
  EXPECT_GT(nonzero, 400);
  EXPECT_LE(nonzero, 500);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  SamplingParams params;
  params.min_p = 0.25f;  // threshold 0.25 * 0.5 = 0.125: drops 0.1, keeps 0.15
  auto freq = frequencies(params, log_of({0.5, 0.25, 0.15, 0.1}), 30000);
  EXPECT_EQ(freq[3], 0.0);
  EXPECT_NEAR(freq[0], 0.5 / 0.9, 0.01);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDiffers) {
  std::vector<float> logits(50, 0.0f);
  auto run = [&](uint64_t seed) {
    SamplingParams params;
    params.seed = seed;
    SamplerState state(params, 50);
    std::vector<int32_t> out;
    for (int i = 0; i < 32; ++i) {
      std::vector<float> row = logits;
      out.push_back(state.sample(row).token);
    }
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(Sampler, PenaltiesAndBiasChangeLogits) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.presence_penalty = 1.0f;
  params.frequency_penalty = 0.5f;
  params.logit_bias = {{2, -100.0f}};
  SamplerState state(params, 3);
  state.accept(0);
  state.accept(0);
  std::vector<float> logits = {2.5f, 1.0f, 10.0f};
  EXPECT_EQ(state.sample(logits).token, 1);  // 0: 2.5 - 1 - 1.0 = 0.5 < 1; 2 is banned
  EXPECT_FLOAT_EQ(logits[0], 0.5f);
  EXPECT_FLOAT_EQ(logits[2], -90.0f);
}

TEST(Sampler, RepetitionPenaltyCountsPromptTokens) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.repetition_penalty = 2.0f;
  SamplerState state(params, 3);
  std::vector<int32_t> prompt = {0, 2};
  state.add_prompt_tokens(prompt);
  std::vector<float> logits = {3.0f, 2.0f, -1.0f};
  EXPECT_EQ(state.sample(logits).token, 1);
  EXPECT_FLOAT_EQ(logits[0], 1.5f);
  EXPECT_FLOAT_EQ(logits[2], -2.0f);
}

TEST(Sampler, LogprobsComeFromRawDistribution) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.logprobs = true;
  params.top_logprobs = 2;
  params.logit_bias = {{1, 5.0f}};
  SamplerState state(params, 3);
  std::vector<float> logits = log_of({0.6, 0.3, 0.1});
  SampledToken out = state.sample(logits);
  EXPECT_EQ(out.token, 1);
  EXPECT_NEAR(out.logprob, std::log(0.3), 1e-5);
  ASSERT_EQ(out.top_logprobs.size(), 2u);
  EXPECT_EQ(out.top_logprobs[0].token, 0);
  EXPECT_NEAR(out.top_logprobs[0].logprob, std::log(0.6), 1e-5);
}

TEST(Sampler, ValidateNamesFieldAndRange) {
  SamplingParams params;
  params.top_p = 0.0f;
  Status status = params.validate(100);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("top_p must be in (0, 1]"), std::string::npos);
  params = SamplingParams{};
  params.logit_bias = {{100, 1.0f}};
  EXPECT_FALSE(params.validate(100).ok());
  EXPECT_TRUE(SamplingParams{}.validate(100).ok());
}

}  // namespace
}  // namespace mx
