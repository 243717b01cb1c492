// Speculative decoding through the engine on a real tiny model. Greedy: spec on gives exactly
// the tokens of one sequence decoded alone (SingleSequence), also under preemption, stop
// tokens, max-token limits and prefix reuse of blocks written during verification. Sampled:
// the joint frequencies of three generated tokens — the second verified against an n-gram
// draft, the third a bonus or resampled token, all under top-k, a presence penalty and logit
// bias — match the exact distribution computed here from the model's logits, with spec on and
// off (chi-square at significance 1e-6).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>

#include "engine/engine.h"
#include "engine/single_sequence.h"
#include "engine_stream.h"
#include "tiny_model_suite.h"
#include "model/test_model_writer.h"

namespace mx {
namespace {

class EngineSpecTest : public TinyModelSuite {
 protected:
  // Text that repeats (what n-gram drafts copy) after a salted start.
  static std::vector<int32_t> prompt(int64_t n, int32_t salt, int64_t period) {
    std::vector<int32_t> p;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t j = i < 4 ? i + 1000 : i % period;
      p.push_back(static_cast<int32_t>((j * 7919 + salt * 104729) % 5000 + 100));
    }
    return p;
  }

  static EngineConfig config(int64_t kv_blocks, bool speculative) {
    EngineConfig c = small_config(kv_blocks);
    if (speculative) {
      c.speculative.method = SpeculativeMethod::kNgram;
      c.speculative.draft_tokens = 4;
      c.speculative.ngram_min = 1;
      c.speculative.ngram_max = 3;
    }
    return c;
  }

  static EngineRequest greedy(std::vector<int32_t> p, int64_t n, Stream& stream) {
    EngineRequest r;
    r.prompt = std::move(p);
    r.sampling.temperature = 0;
    r.max_new_tokens = n;
    r.on_event = stream.callback();
    return r;
  }

};


TEST_F(EngineSpecTest, GreedyOutputIsIdenticalWithSpecOnAndOff) {
  constexpr int kN = 6;
  std::vector<std::vector<int32_t>> prompts, expected;
  for (int i = 0; i < kN; ++i) {
    prompts.push_back(prompt(8 + 19 * i, i, 3 + i));
    expected.push_back(reference(prompts[i], 5 + 9 * i));  // 5..50 tokens
  }
  for (bool speculative : {false, true}) {
    auto engine = Engine::create(*model_, config(256, speculative));
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    std::vector<Stream> streams(kN);
    for (int i = 0; i < kN; ++i) {
      const int64_t n = static_cast<int64_t>(expected[i].size());
      ASSERT_TRUE((*engine)->submit(greedy(prompts[i], n, streams[i])).ok());
    }
    for (int i = 0; i < kN; ++i) {
      streams[i].wait();
      EXPECT_EQ(streams[i].tokens, expected[i]) << "sequence " << i << " spec " << speculative;
      EXPECT_EQ(streams[i].finals[0].stop_reason, StopReason::kLength);
      EXPECT_EQ(streams[i].finals[0].completion_tokens, static_cast<int64_t>(expected[i].size()));
    }
    const EngineStats stats = idle_stats(**engine);
    EXPECT_EQ(stats.kv_blocks_used, 0);
    if (speculative) {
      EXPECT_GT(stats.spec_draft_tokens, 0);
      EXPECT_GT(stats.spec_accepted_tokens, 0);  // the outputs do copy earlier text
      EXPECT_LT(stats.sampling_steps, stats.generated_tokens);
      EXPECT_EQ(stats.spec_emitted_tokens - stats.spec_accepted_tokens, stats.spec_verify_steps);
    } else {
      EXPECT_EQ(stats.spec_draft_tokens, 0);
      EXPECT_EQ(stats.sampling_steps, stats.generated_tokens);
    }
  }
}

TEST_F(EngineSpecTest, MtpNeedsAModelWithNextnLayers) {
  EngineConfig c = config(64, false);
  c.speculative.method = SpeculativeMethod::kMtp;
  auto engine = Engine::create(*model_, c);
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.error().message.find("nextn"), std::string::npos) << engine.error().message;
  EXPECT_NE(engine.error().message.find("--speculative ngram"), std::string::npos);
}

TEST_F(EngineSpecTest, PreemptionUnderSmallPoolKeepsGreedyOutputs) {
  constexpr int kN = 5;
  std::vector<std::vector<int32_t>> prompts, expected;
  for (int i = 0; i < kN; ++i) {
    prompts.push_back(prompt(20 + i, 10 + i, 2 + i));
    expected.push_back(reference(prompts[i], 40));
  }
  auto engine = Engine::create(*model_, config(12, true));
  ASSERT_TRUE(engine.ok());
  std::vector<Stream> streams(kN);
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE((*engine)->submit(greedy(prompts[i], 40, streams[i])).ok());
  }
  for (int i = 0; i < kN; ++i) {
    streams[i].wait();
    EXPECT_EQ(streams[i].tokens, expected[i]) << "sequence " << i;
  }
  const EngineStats stats = idle_stats(**engine);
  EXPECT_EQ(stats.kv_blocks_used, 0);
  EXPECT_GT(stats.preemptions, 0);
  EXPECT_GT(stats.spec_accepted_tokens, 0);
}

TEST_F(EngineSpecTest, StopTokenInsideAnAcceptedRunEndsThere) {
  const std::vector<int32_t> p = prompt(24, 4, 3);
  const std::vector<int32_t> expected = reference(p, 30);
  auto engine = Engine::create(*model_, config(64, true));
  ASSERT_TRUE(engine.ok());
  for (size_t j : {1u, 5u, 12u, 20u}) {
    Stream stream;
    EngineRequest r = greedy(p, 30, stream);
    r.stop_token_ids = {expected[j]};
    ASSERT_TRUE((*engine)->submit(std::move(r)).ok());
    stream.wait();
    const auto stop_at =
        std::find(expected.begin(), expected.end(), expected[j]) - expected.begin();
    EXPECT_EQ(stream.tokens, std::vector<int32_t>(expected.begin(), expected.begin() + stop_at));
    EXPECT_EQ(stream.finals[0].stop_reason, StopReason::kStop);
    EXPECT_EQ(stream.finals[0].completion_tokens, stop_at + 1);
  }
  EXPECT_GT(idle_stats(**engine).spec_accepted_tokens, 0);
  EXPECT_EQ(idle_stats(**engine).kv_blocks_used, 0);
}

TEST_F(EngineSpecTest, BlocksPublishedDuringVerificationHoldTheRealTokens) {
  // A continuation of a speculated output reuses its blocks (published as drafts were
  // accepted) and still decodes exactly like a sequence alone.
  const std::vector<int32_t> p = prompt(20, 6, 4);
  const std::vector<int32_t> first = reference(p, 60);
  std::vector<int32_t> continued = p;
  continued.insert(continued.end(), first.begin(), first.begin() + 50);
  const std::vector<int32_t> expected = reference(continued, 8);
  auto engine = Engine::create(*model_, config(64, true));
  ASSERT_TRUE(engine.ok());
  Stream a, b;
  ASSERT_TRUE((*engine)->submit(greedy(p, 60, a)).ok());
  a.wait();
  EXPECT_EQ(a.tokens, first);
  ASSERT_TRUE((*engine)->submit(greedy(continued, 8, b)).ok());
  b.wait();
  EXPECT_EQ(b.finals[0].cached_tokens, 64);  // 4 full blocks of 16 of the 70 tokens
  EXPECT_EQ(b.tokens, expected);
}

TEST_F(EngineSpecTest, FixedSeedReproducesSampledText) {
  // Sampling among four biased tokens: many drafts, accepted and rejected.
  auto run = [&](uint64_t seed) {
    auto engine = Engine::create(*model_, config(64, true));
    EXPECT_TRUE(engine.ok());
    Stream stream;
    EngineRequest r;
    r.prompt = {1200, 3400, 560, 4780, 1200, 3400};
    r.max_new_tokens = 48;
    r.sampling.temperature = 4.0f;  // flat enough that all four come up
    r.sampling.seed = seed;
    for (int32_t t : r.prompt) r.sampling.logit_bias.push_back({t, 40.0f});
    r.on_event = stream.callback();
    EXPECT_TRUE((*engine)->submit(std::move(r)).ok());
    stream.wait();
    const EngineStats stats = idle_stats(**engine);
    EXPECT_GT(stats.spec_accepted_tokens, 0);
    EXPECT_GT(stats.spec_draft_tokens, stats.spec_accepted_tokens);
    EXPECT_GE(stats.spec_proposed_tokens, stats.spec_draft_tokens);
    return stream.tokens;
  };
  const std::vector<int32_t> first = run(42);
  EXPECT_EQ(first.size(), 48u);
  EXPECT_EQ(run(42), first);
  EXPECT_NE(run(43), first);
}

// ---- Sampled requests: the exact distribution of three tokens.

constexpr float kTemperature = 0.8f;
constexpr int32_t kTopK = 4;
constexpr float kPresence = 0.7f;
constexpr float kBias = 40.0f;

// The four tokens the bias favours; the prompt cycles through them so that every one of them
// has an earlier occurrence (an n-gram draft) once generated.
const std::vector<int32_t> kFavoured = {1200, 3400, 560, 4780};

SamplingParams sampled_params(uint64_t seed) {
  SamplingParams s;
  s.temperature = kTemperature;
  s.top_k = kTopK;
  s.presence_penalty = kPresence;
  for (int32_t t : kFavoured) s.logit_bias.push_back({t, kBias});
  s.seed = seed;
  return s;
}

// Next-token distribution from the definition: bias, presence penalty of `generated`,
// top-k, temperature softmax. Returned over token ids with p > 0.
std::map<int32_t, double> exact_next(std::vector<float> logits,
                                     const std::vector<int32_t>& generated) {
  for (int32_t t : kFavoured) logits[static_cast<size_t>(t)] += kBias;
  std::vector<int32_t> seen = generated;
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (int32_t t : seen) logits[static_cast<size_t>(t)] -= kPresence;
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + kTopK, ids.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::map<int32_t, double> p;
  double z = 0;
  for (int i = 0; i < kTopK; ++i) {
    const double w = std::exp((logits[ids[i]] - logits[ids[0]]) / kTemperature);
    p[ids[i]] = w;
    z += w;
  }
  for (auto& [t, w] : p) w /= z;
  return p;
}

using Triple = std::array<int32_t, 3>;

std::map<Triple, double> exact_joint(Model& model, const std::vector<int32_t>& prompt) {
  ThreadPool pool(2);
  auto logits_after = [&](const std::vector<int32_t>& generated) {
    SingleSequence seq(model, static_cast<int64_t>(prompt.size()) + 4, DType::F32, 16);
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), generated.begin(), generated.end());
    std::vector<float> logits;
    EXPECT_TRUE(seq.append(all, SingleSequence::Rows::kLastRow, logits, pool).ok());
    return logits;
  };
  std::map<Triple, double> joint;
  for (const auto& [t1, p1] : exact_next(logits_after({}), {})) {
    for (const auto& [t2, p2] : exact_next(logits_after({t1}), {t1})) {
      for (const auto& [t3, p3] : exact_next(logits_after({t1, t2}), {t1, t2})) {
        joint[{t1, t2, t3}] = p1 * p2 * p3;
      }
    }
  }
  return joint;
}

// Chi-square of observed triples against `joint`, cells with expected count < 5 pooled; true
// when it passes at significance 1e-6 (Wilson-Hilferty critical value) and nothing impossible
// was drawn.
bool matches(const std::map<Triple, int64_t>& counts, const std::map<Triple, double>& joint,
             int64_t n, std::string& report) {
  double chi2 = 0, pooled_expected = 0, pooled_observed = 0;
  int cells = 0;
  int64_t impossible = 0;
  for (const auto& [triple, count] : counts) {
    if (!joint.contains(triple)) impossible += count;
  }
  for (const auto& [triple, p] : joint) {
    const double expected = p * static_cast<double>(n);
    const auto found = counts.find(triple);
    const double observed = found == counts.end() ? 0.0 : static_cast<double>(found->second);
    if (expected < 5) {
      pooled_expected += expected;
      pooled_observed += observed;
      continue;
    }
    chi2 += (observed - expected) * (observed - expected) / expected;
    ++cells;
  }
  if (pooled_expected > 0) {
    chi2 +=
        (pooled_observed - pooled_expected) * (pooled_observed - pooled_expected) / pooled_expected;
    ++cells;
  }
  const int df = cells - 1;
  const double a = 2.0 / (9.0 * df);
  const double critical = df * std::pow(1.0 - a + 4.753 * std::sqrt(a), 3.0);
  report = fmt::format("chi2 {:.1f} df {} critical {:.1f} impossible {}", chi2, df, critical,
                       impossible);
  return impossible == 0 && chi2 < critical;
}

TEST_F(EngineSpecTest, SampledTokensFollowTheExactDistribution) {
  std::vector<int32_t> p;
  for (int r = 0; r < 3; ++r) p.insert(p.end(), kFavoured.begin(), kFavoured.end());
  const std::map<Triple, double> joint = exact_joint(*model_, p);
  constexpr int kRequests = 2000;
  for (bool speculative : {false, true}) {
    // A budget that admits a whole wave of prompts in one step, so the next step has room for
    // every decode's draft (drafts only get what prefills leave).
    EngineConfig c = config(1024, speculative);
    c.scheduler.max_running = 48;
    c.max_waiting = kRequests;  // every request queued at once
    c.scheduler.max_batch_tokens = 1024;
    std::vector<Stream> streams(kRequests);  // outlives the engine, which may still call them
    auto engine = Engine::create(*model_, c);
    ASSERT_TRUE(engine.ok());
    for (int i = 0; i < kRequests; ++i) {
      EngineRequest r;
      r.prompt = p;
      r.max_new_tokens = 3;
      r.sampling = sampled_params(static_cast<uint64_t>(i) + (speculative ? 0 : 1000000));
      r.on_event = streams[i].callback();
      ASSERT_TRUE((*engine)->submit(std::move(r)).ok());
    }
    std::map<Triple, int64_t> counts;
    for (Stream& s : streams) {
      s.wait();
      ASSERT_EQ(s.tokens.size(), 3u);
      ++counts[{s.tokens[0], s.tokens[1], s.tokens[2]}];
    }
    std::string report;
    EXPECT_TRUE(matches(counts, joint, kRequests, report))
        << "spec " << speculative << ": " << report;
    const EngineStats stats = idle_stats(**engine);
    std::printf("[ spec %s ] %s; drafts %ld accepted %ld\n", speculative ? "on" : "off",
                report.c_str(), static_cast<long>(stats.spec_draft_tokens),
                static_cast<long>(stats.spec_accepted_tokens));
    if (speculative) {
      // Every second token was verified against a one-token draft; some were rejected.
      EXPECT_GE(stats.spec_draft_tokens, kRequests * 9 / 10);
      EXPECT_GT(stats.spec_accepted_tokens, 0);
      EXPECT_LT(stats.spec_accepted_tokens, stats.spec_draft_tokens);
    }
  }
}

}  // namespace
}  // namespace mx
