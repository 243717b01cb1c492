// The n-gram drafter against a brute-force lookup written from its definition, on growing
// random sequences (the incremental index must agree with a fresh scan at every length).
#include "engine/drafter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace mx {
namespace {

// Definition: for n from ngram_max down to ngram_min, the latest e < L with
// tokens[e-n, e) == tokens[L-n, L); propose tokens[e, e+k), running on into the proposal.
std::vector<int32_t> brute_force(const std::vector<int32_t>& tokens, int64_t k, int64_t n_min,
                                 int64_t n_max) {
  const int64_t length = static_cast<int64_t>(tokens.size());
  for (int64_t n = std::min(n_max, length - 1); n >= n_min; --n) {
    for (int64_t end = length - 1; end >= n; --end) {
      if (!std::equal(tokens.begin() + (end - n), tokens.begin() + end, tokens.end() - n)) continue;
      std::vector<int32_t> ext = tokens;
      for (int64_t j = 0; j < k; ++j) ext.push_back(ext[static_cast<size_t>(end + j)]);
      return std::vector<int32_t>(ext.begin() + length, ext.end());
    }
  }
  return {};
}

TEST(NgramDrafterTest, ProposesWhatFollowedTheLatestMatch) {
  NgramDrafter drafter(1, 3);
  Draft draft;
  // "5 6 7" occurs at 0 and 4; the latest earlier one (ending at 7) is followed by 9 10.
  const std::vector<int32_t> tokens = {5, 6, 7, 8, 5, 6, 7, 9, 10, 5, 6, 7};
  drafter.propose(tokens, 2, draft);
  EXPECT_EQ(draft.tokens, (std::vector<int32_t>{9, 10}));
  EXPECT_TRUE(draft.probs.empty());
}

TEST(NgramDrafterTest, LongestSuffixWinsOverLaterShorterMatch) {
  NgramDrafter drafter(1, 3);
  Draft draft;
  // Suffix "1 2 3": full match at 0 (followed by 4); "3" alone matches later (followed by 9).
  drafter.propose(std::vector<int32_t>{1, 2, 3, 4, 3, 9, 1, 2, 3}, 1, draft);
  EXPECT_EQ(draft.tokens, (std::vector<int32_t>{4}));
}

TEST(NgramDrafterTest, LoopContinuesIntoItsOwnProposal) {
  NgramDrafter drafter(2, 2);
  Draft draft;
  drafter.propose(std::vector<int32_t>{7, 1, 2, 1, 2}, 5, draft);
  EXPECT_EQ(draft.tokens, (std::vector<int32_t>{1, 2, 1, 2, 1}));
}

TEST(NgramDrafterTest, NoMatchNoDraft) {
  NgramDrafter drafter(2, 4);
  Draft draft;
  draft.tokens = {99};  // replaced, not appended to
  drafter.propose(std::vector<int32_t>{1, 2, 3, 4, 5}, 4, draft);
  EXPECT_TRUE(draft.tokens.empty());
  drafter.propose(std::vector<int32_t>{1, 2, 3, 4, 5, 1}, 0, draft);
  EXPECT_TRUE(draft.tokens.empty());
}

TEST(NgramDrafterTest, IncrementalIndexAgreesWithBruteForce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t n_min = 1 + trial % 3;
    const int64_t n_max = n_min + trial % 4;
    const int32_t alphabet = 2 + trial % 6;  // small alphabets: many matches
    NgramDrafter drafter(n_min, n_max);
    Draft draft;
    std::vector<int32_t> tokens;
    for (int step = 0; step < 300; ++step) {
      // Grow by 1..4 tokens per call, as accepted drafts do.
      const int grow = 1 + static_cast<int>(rng() % 4);
      for (int g = 0; g < grow; ++g) tokens.push_back(static_cast<int32_t>(rng() % alphabet));
      const int64_t k = 1 + step % 6;
      drafter.propose(tokens, k, draft);
      ASSERT_EQ(draft.tokens, brute_force(tokens, k, n_min, n_max))
          << "trial " << trial << " length " << tokens.size();
    }
  }
}

TEST(NgramDrafterTest, LongContextFindsEarlyText) {
  // A 200k-token context: a phrase from its start is found again at its end.
  std::mt19937 rng(3);
  std::vector<int32_t> tokens;
  for (int i = 0; i < 200000; ++i) tokens.push_back(static_cast<int32_t>(1000 + rng() % 100000));
  const std::vector<int32_t> phrase(tokens.begin() + 10, tokens.begin() + 20);
  tokens.insert(tokens.end(), phrase.begin(), phrase.begin() + 4);
  NgramDrafter drafter(2, 4);
  Draft draft;
  drafter.propose(tokens, 6, draft);
  EXPECT_EQ(draft.tokens, std::vector<int32_t>(phrase.begin() + 4, phrase.end()));
}

TEST(DraftPacerTest, LengthFollowsAcceptanceAndFailuresPause) {
  DraftPacer pacer(4);
  EXPECT_EQ(pacer.next_length(), 4);
  pacer.record(4, 1);  // rejected at the second token: next time 1 + 1
  EXPECT_EQ(pacer.next_length(), 2);
  pacer.record(2, 2);  // all accepted: grow by one
  EXPECT_EQ(pacer.next_length(), 3);
  pacer.record(3, 3);
  pacer.record(4, 4);
  EXPECT_EQ(pacer.next_length(), 4);  // capped at the maximum
  // Nothing accepted: pauses of 1, 2, 4 steps, each followed by a one-token draft.
  std::vector<int64_t> lengths;
  for (int round = 0; round < 3; ++round) {
    pacer.record(1, 0);
    for (int64_t n = pacer.next_length(); n == 0; n = pacer.next_length()) lengths.push_back(0);
    lengths.push_back(1);
  }
  EXPECT_EQ(lengths, (std::vector<int64_t>{0, 1, 0, 0, 1, 0, 0, 0, 0, 1}));
  pacer.record(1, 1);  // an acceptance ends the back-off
  EXPECT_EQ(pacer.next_length(), 2);
  pacer.record(2, 0);
  EXPECT_EQ(pacer.next_length(), 0);  // the pause starts again at one step
  EXPECT_EQ(pacer.next_length(), 1);
}

TEST(SpeculativeConfigTest, ValidatesRanges) {
  SpeculativeConfig config;
  EXPECT_TRUE(config.validate().ok());  // off: nothing checked
  EXPECT_FALSE(config.enabled());
  config.method = SpeculativeMethod::kNgram;
  EXPECT_TRUE(config.validate().ok());
  EXPECT_TRUE(config.enabled());
  config.ngram_max = 1;
  EXPECT_NE(config.validate().error().message.find("--ngram-max"), std::string::npos);
  config.ngram_max = 4;
  config.draft_tokens = 0;
  EXPECT_NE(config.validate().error().message.find("--draft-tokens"), std::string::npos);
  EXPECT_EQ(*parse_speculative_method("ngram"), SpeculativeMethod::kNgram);
  EXPECT_EQ(*parse_speculative_method("mtp"), SpeculativeMethod::kMtp);
  EXPECT_FALSE(parse_speculative_method("medusa").ok());
  EXPECT_EQ(make_drafter(config), nullptr);  // k = 0: nothing to draft
  config.draft_tokens = 4;
  EXPECT_NE(make_drafter(config), nullptr);
  config.method = SpeculativeMethod::kNone;
  EXPECT_EQ(make_drafter(config), nullptr);
}

// ---- append_draft_token: the MTP drafter's draw from its logits.

TEST(AppendDraftTokenTest, GreedyTakesTheArgmaxWithOneHotQ) {
  const std::vector<float> logits = {0.5f, 3.0f, -1.0f, 2.9f};
  SamplingParams params;
  params.temperature = 0.0f;
  std::mt19937_64 rng(1);
  Draft draft;
  append_draft_token(logits, params, rng, draft);
  append_draft_token(logits, params, rng, draft);
  EXPECT_EQ(draft.tokens, (std::vector<int32_t>{1, 1}));
  EXPECT_TRUE(draft.probs.empty());  // one-hot q: verify() checks "is it the argmax"
}

TEST(AppendDraftTokenTest, QRowsAreTheDistributionsTheTokensWereDrawnFrom) {
  // q = softmax(logits / T) over the top k, written from the definition here; each row must
  // be a distribution, the token must have q > 0, and the draws must follow q.
  std::mt19937_64 gen(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(50);
  for (float& l : logits) l = normal(gen);
  SamplingParams params;
  params.temperature = 0.8f;
  params.top_k = 6;
  std::vector<float> sorted = logits;
  std::sort(sorted.rbegin(), sorted.rend());
  std::vector<double> want(logits.size(), 0.0);
  double total = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] >= sorted[5]) want[i] = std::exp((logits[i] - sorted[0]) / 0.8);
    total += want[i];
  }
  for (double& w : want) w /= total;
  std::mt19937_64 rng(7);
  Draft draft;
  constexpr int kDraws = 20000;
  std::vector<int> counts(logits.size(), 0);
  for (int n = 0; n < kDraws; ++n) {
    draft.clear();
    append_draft_token(logits, params, rng, draft);
    ASSERT_EQ(draft.probs.size(), logits.size());
    double sum = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) {
      ASSERT_GE(draft.probs[i], 0.0f);
      EXPECT_NEAR(draft.probs[i], want[i], 1e-6) << "token " << i;
      sum += draft.probs[i];
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
    ASSERT_GT(draft.probs[static_cast<size_t>(draft.tokens[0])], 0.0f);
    ++counts[static_cast<size_t>(draft.tokens[0])];
  }
  for (size_t i = 0; i < logits.size(); ++i) {  // within 5 standard deviations
    const double sd = std::sqrt(kDraws * want[i] * (1 - want[i]));
    EXPECT_NEAR(counts[i], kDraws * want[i], 5 * sd + 1e-9) << "token " << i;
  }
}

TEST(AppendDraftTokenTest, LogitBiasIsApplied) {
  const std::vector<float> logits = {0.5f, 3.0f, -1.0f, 2.9f};
  SamplingParams params;
  params.temperature = 0.0f;
  params.logit_bias = {{2, 10.0f}};
  std::mt19937_64 rng(1);
  Draft draft;
  append_draft_token(logits, params, rng, draft);
  EXPECT_EQ(draft.tokens, (std::vector<int32_t>{2}));
  params.temperature = 1.0f;
  params.logit_bias = {{0, -100.0f}};
  append_draft_token(logits, params, rng, draft);
  ASSERT_EQ(draft.probs.size(), 4u);
  EXPECT_LT(draft.probs[0], 1e-30);
  EXPECT_NEAR(draft.probs[1] / draft.probs[3], std::exp(0.1), 1e-5);
}

TEST(AppendDraftTokenTest, RowsAppendPerToken) {
  const std::vector<float> logits = {1.0f, 0.0f, -1.0f};
  SamplingParams params;  // temperature 1, no top-k
  std::mt19937_64 rng(3);
  Draft draft;
  for (int i = 0; i < 3; ++i) append_draft_token(logits, params, rng, draft);
  ASSERT_EQ(draft.tokens.size(), 3u);
  ASSERT_EQ(draft.probs.size(), 9u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(draft.probs[3 * i] + draft.probs[3 * i + 1] + draft.probs[3 * i + 2], 1.0, 1e-6);
  }
}

TEST(SpeculativeMethodTest, ParsesMtp) {
  auto method = parse_speculative_method("mtp");
  ASSERT_TRUE(method.ok());
  EXPECT_EQ(*method, SpeculativeMethod::kMtp);
  EXPECT_STREQ(speculative_method_name(SpeculativeMethod::kMtp), "mtp");
  EXPECT_FALSE(parse_speculative_method("eagle").ok());
  SpeculativeConfig config;
  config.method = SpeculativeMethod::kMtp;
  EXPECT_EQ(make_drafter(config), nullptr);  // the engine drafts itself
}

}  // namespace
}  // namespace mx
