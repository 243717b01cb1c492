// Speculative verification keeps the target distribution exactly: many trials of
// SamplerState::verify with a known p and a fixed (one-hot q) or drawn (general q) draft give
// token frequencies that pass a chi-square test against p at significance 1e-6, and the same
// test rejects two biased variants (always accepting the draft; resampling from p instead of
// the residual after a rejection), so it has the power to catch a wrong verifier.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/sampler.h"

namespace mx {
namespace {

constexpr int kTrials = 200000;
constexpr double kZ = 4.753;  // one-sided normal quantile of 1e-6

// Chi-square critical value for df degrees of freedom at the kZ quantile (Wilson-Hilferty).
double chi_square_critical(int df) {
  const double a = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - a + kZ * std::sqrt(a), 3.0);
}

struct ChiSquare {
  double statistic = 0;
  int df = 0;
  int64_t impossible = 0;  // draws of tokens with p == 0
  bool passes() const { return impossible == 0 && statistic < chi_square_critical(df); }
};

ChiSquare chi_square(const std::vector<int64_t>& counts, const std::vector<double>& p) {
  ChiSquare out;
  int64_t n = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  int cells = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0.0) {
      out.impossible += counts[i];
      continue;
    }
    const double expected = p[i] * static_cast<double>(n);
    out.statistic += (counts[i] - expected) * (counts[i] - expected) / expected;
    ++cells;
  }
  out.df = cells - 1;
  return out;
}

std::vector<float> log_of(const std::vector<double>& p) {
  std::vector<float> logits;
  for (double x : p) logits.push_back(x > 0 ? static_cast<float>(std::log(x)) : -1e30f);
  return logits;
}

SamplingParams seeded(uint64_t seed, float temperature = 1.0f) {
  SamplingParams params;
  params.temperature = temperature;
  params.seed = seed;
  return params;
}

const std::vector<double> kP = {0.05, 0.10, 0.30, 0.20, 0.25, 0.10};

// Frequencies of the emitted token over kTrials verifications of `draft` (one-hot q).
std::vector<int64_t> run_one_hot(SamplerState& sampler, const std::vector<float>& logits,
                                 int32_t draft) {
  std::vector<int64_t> counts(logits.size(), 0);
  std::vector<float> row;
  for (int t = 0; t < kTrials; ++t) {
    row = logits;
    ++counts[static_cast<size_t>(sampler.verify(row, draft, {}).token.token)];
  }
  return counts;
}

TEST(SpecVerifyTest, OneHotDraftKeepsTargetDistribution) {
  for (int32_t draft : {2, 0}) {  // a likely and an unlikely draft
    SamplerState sampler(seeded(11 + draft), static_cast<int32_t>(kP.size()));
    const ChiSquare chi = chi_square(run_one_hot(sampler, log_of(kP), draft), kP);
    EXPECT_TRUE(chi.passes()) << "draft " << draft << ": chi2 " << chi.statistic << " df " << chi.df
                              << " critical " << chi_square_critical(chi.df);
  }
}

TEST(SpecVerifyTest, AcceptanceRateIsTargetProbability) {
  SamplerState sampler(seeded(5), static_cast<int32_t>(kP.size()));
  const std::vector<float> logits = log_of(kP);
  std::vector<float> row;
  int64_t accepted = 0;
  for (int t = 0; t < kTrials; ++t) {
    row = logits;
    accepted += sampler.verify(row, 3, {}).accepted ? 1 : 0;
  }
  // Binomial(kTrials, 0.2): standard deviation ~179 draws.
  EXPECT_NEAR(static_cast<double>(accepted) / kTrials, kP[3], kZ * std::sqrt(0.2 * 0.8 / kTrials));
}

TEST(SpecVerifyTest, GeneralDraftDistributionKeepsTargetDistribution) {
  // q puts mass where p has little, nothing where p has some (token 5), and some on token 0.
  const std::vector<double> q = {0.30, 0.30, 0.10, 0.20, 0.10, 0.0};
  const std::vector<float> q_row(q.begin(), q.end());
  SamplerState sampler(seeded(21), static_cast<int32_t>(kP.size()));
  std::mt19937_64 drafter_rng(99);
  std::discrete_distribution<int32_t> draw_q(q.begin(), q.end());
  const std::vector<float> logits = log_of(kP);
  std::vector<int64_t> counts(kP.size(), 0);
  std::vector<float> row;
  for (int t = 0; t < kTrials; ++t) {
    row = logits;
    const int32_t draft = draw_q(drafter_rng);
    ++counts[static_cast<size_t>(sampler.verify(row, draft, q_row).token.token)];
  }
  const ChiSquare chi = chi_square(counts, kP);
  EXPECT_TRUE(chi.passes()) << "chi2 " << chi.statistic << " critical "
                            << chi_square_critical(chi.df);
}

TEST(SpecVerifyTest, WholeSamplerChainIsTheTarget) {
  // p after temperature 0.5 and top-k 3, computed here from the definition: the draft is
  // verified against the truncated, sharpened distribution, and a cut draft is never emitted.
  const std::vector<float> logits = {0.1f, 1.0f, -0.4f, 0.7f, 0.9f, -2.0f};
  std::vector<double> p(logits.size(), 0.0);
  for (int i : {1, 4, 3})
    p[static_cast<size_t>(i)] = std::exp(logits[static_cast<size_t>(i)] / 0.5);
  const double z = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& x : p) x /= z;
  for (int32_t draft : {4, 0}) {  // kept and cut by top-k
    SamplingParams params = seeded(31 + draft, 0.5f);
    params.top_k = 3;
    SamplerState sampler(params, static_cast<int32_t>(logits.size()));
    const ChiSquare chi = chi_square(run_one_hot(sampler, logits, draft), p);
    EXPECT_TRUE(chi.passes()) << "draft " << draft << ": chi2 " << chi.statistic << " impossible "
                              << chi.impossible;
  }
}

TEST(SpecVerifyTest, GreedyAcceptsExactlyTheArgmax) {
  SamplerState sampler(seeded(1, 0.0f), 6);
  std::vector<float> row = {0.1f, 1.0f, -0.4f, 0.7f, 2.5f, -2.0f};
  auto verdict = sampler.verify(row, 4, {});
  EXPECT_TRUE(verdict.accepted);
  EXPECT_EQ(verdict.token.token, 4);
  row = {0.1f, 1.0f, -0.4f, 0.7f, 2.5f, -2.0f};
  verdict = sampler.verify(row, 1, {});
  EXPECT_FALSE(verdict.accepted);
  EXPECT_EQ(verdict.token.token, 4);
}

TEST(SpecVerifyTest, PenaltiesSeeAcceptedTokens) {
  // Greedy with a presence penalty: once token 4 is accepted, the penalty makes 1 the argmax.
  SamplingParams params = seeded(1, 0.0f);
  params.presence_penalty = 2.0f;
  SamplerState sampler(params, 6);
  std::vector<float> row = {0.1f, 1.0f, -0.4f, 0.7f, 2.5f, -2.0f};
  sampler.accept(4);
  auto verdict = sampler.verify(row, 4, {});
  EXPECT_FALSE(verdict.accepted);
  EXPECT_EQ(verdict.token.token, 1);
}

TEST(SpecVerifyTest, NegativeControlsAreCaught) {
  const std::vector<float> logits = log_of(kP);
  std::vector<float> row;
  // Always accepting the draft.
  std::vector<int64_t> always(kP.size(), 0);
  always[2] = kTrials;
  EXPECT_FALSE(chi_square(always, kP).passes());
  // Accepting with p(x) but resampling from p (not the residual) after a rejection: the draft
  // comes out with probability p + (1 - p) p.
  SamplerState sampler(seeded(41), static_cast<int32_t>(kP.size()));
  std::vector<int64_t> counts(kP.size(), 0);
  for (int t = 0; t < kTrials; ++t) {
    row = logits;
    SamplerState::Verdict verdict = sampler.verify(row, 2, {});
    if (!verdict.accepted) {
      row = logits;
      verdict.token = sampler.sample(row);
    }
    ++counts[static_cast<size_t>(verdict.token.token)];
  }
  const ChiSquare chi = chi_square(counts, kP);
  EXPECT_FALSE(chi.passes()) << "chi2 " << chi.statistic;
  EXPECT_GT(chi.statistic, 10 * chi_square_critical(chi.df));
}

TEST(SpecVerifyTest, SeedReproducesVerdicts) {
  const std::vector<float> logits = log_of(kP);
  SamplerState a(seeded(77), 6), b(seeded(77), 6);
  std::vector<float> row_a, row_b;
  for (int t = 0; t < 1000; ++t) {
    row_a = logits;
    row_b = logits;
    EXPECT_EQ(a.verify(row_a, t % 6, {}).token.token, b.verify(row_b, t % 6, {}).token.token);
  }
}

}  // namespace
}  // namespace mx
