// --speculative mtp through the engine on the tiny deepseek2 test model (random weights, one
// nextn layer): greedy output is exactly that of one sequence decoded alone without
// speculation (SingleSequence), with many sequences batched, under preemption and with prefix
// reuse; sampled runs reproduce with a seed. (That verification keeps a sampled distribution
// exactly, for any valid q, is spec_verify_test's chi-square; that the MTP drafter's q rows are
// valid distributions is drafter_test's AppendDraftToken*; that the MTP logits are right is
// tests/reference/check_logits.py against the PyTorch reference.)
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "engine/engine.h"
#include "engine_stream.h"
#include "tiny_model_suite.h"

namespace mx {
namespace {

class EngineMtpTest : public TinyModelSuite {
 protected:
  static void SetUpTestSuite() { load_tiny_model(Arch::kDeepseek2); }

  static std::vector<int32_t> prompt(int64_t n, int32_t salt) {
    std::vector<int32_t> p;
    for (int64_t i = 0; i < n; ++i) {
      p.push_back(static_cast<int32_t>((i * 7919 + salt * 104729) % 5000 + 100));
    }
    return p;
  }

  static EngineConfig mtp_config(int64_t kv_blocks, int64_t draft_tokens = 3) {
    EngineConfig c = small_config(kv_blocks);
    c.speculative.method = SpeculativeMethod::kMtp;
    c.speculative.draft_tokens = draft_tokens;
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

  // Runs the prompts together on an MTP engine and checks each against decoding alone.
  // Sequence i: a prompt of prompt_base + prompt_step * i tokens, new_base + new_step * i new.
  static EngineStats expect_greedy_identical(const EngineConfig& config, int n_seqs,
                                             int64_t prompt_base, int64_t prompt_step,
                                             int64_t new_base, int64_t new_step) {
    std::vector<std::vector<int32_t>> prompts, expected;
    for (int i = 0; i < n_seqs; ++i) {
      prompts.push_back(prompt(prompt_base + prompt_step * i, i));
      expected.push_back(reference(prompts[i], new_base + new_step * i));
    }
    auto engine = Engine::create(*model_, config);
    EXPECT_TRUE(engine.ok()) << engine.error().message;
    if (!engine.ok()) return {};
    std::vector<Stream> streams(n_seqs);
    for (int i = 0; i < n_seqs; ++i) {
      const int64_t n = static_cast<int64_t>(expected[i].size());
      EXPECT_TRUE((*engine)->submit(greedy(prompts[i], n, streams[i])).ok());
    }
    for (int i = 0; i < n_seqs; ++i) {
      streams[i].wait();
      EXPECT_EQ(streams[i].tokens, expected[i]) << "sequence " << i;
    }
    const EngineStats stats = idle_stats(**engine);
    EXPECT_EQ(stats.kv_blocks_used, 0);  // drafts' extra blocks went back too
    return stats;
  }
};

TEST_F(EngineMtpTest, GreedyOutputIsIdenticalToDecodingAlone) {
  const EngineStats stats = expect_greedy_identical(mtp_config(256), 5, 6, 13, 12, 7);
  EXPECT_GT(stats.spec_draft_tokens, 0);
  EXPECT_EQ(stats.spec_emitted_tokens - stats.spec_accepted_tokens, stats.spec_verify_steps);
  EXPECT_LE(stats.spec_accepted_tokens, stats.spec_draft_tokens);
}

TEST_F(EngineMtpTest, AcceptedDraftsKeepGreedyOutputs) {
  // With +100 on four tokens both the target and the MTP head (which gets the bias too) choose
  // among the four, so many drafts are accepted: the catch-up then runs over accepted draft
  // rows, and the KV those rows wrote must be the real tokens'.
  const std::vector<int32_t> favoured = {1200, 3400, 560, 4780};
  std::vector<Stream> streams(3);
  std::vector<std::vector<int32_t>> expected;
  std::vector<EngineRequest> requests;
  for (int i = 0; i < 3; ++i) {
    EngineRequest r = greedy(prompt(10 + 9 * i, 20 + i), 40, streams[i]);
    for (int32_t t : favoured) r.sampling.logit_bias.push_back({t, 100.0f});
    // Reference: decoding alone with the bias added to the logits before the argmax.
    ThreadPool pool(2);
    SingleSequence seq(*model_, static_cast<int64_t>(r.prompt.size()) + 40, DType::F32, 16);
    std::vector<float> logits;
    std::vector<int32_t> out;
    ASSERT_TRUE(seq.append(r.prompt, SingleSequence::Rows::kLastRow, logits, pool).ok());
    for (int n = 0; n < 40; ++n) {
      for (int32_t t : favoured) logits[static_cast<size_t>(t)] += 100.0f;
      out.push_back(argmax(logits));
      if (n + 1 < 40) {
        ASSERT_TRUE(
            seq.append(std::span(&out.back(), 1), SingleSequence::Rows::kLastRow, logits, pool)
                .ok());
      }
    }
    expected.push_back(out);
    requests.push_back(std::move(r));
  }
  auto engine = Engine::create(*model_, mtp_config(64, 4));
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  for (EngineRequest& r : requests) ASSERT_TRUE((*engine)->submit(std::move(r)).ok());
  for (int i = 0; i < 3; ++i) {
    streams[i].wait();
    EXPECT_EQ(streams[i].tokens, expected[i]) << "sequence " << i;
  }
  const EngineStats stats = idle_stats(**engine);
  EXPECT_GT(stats.spec_accepted_tokens, 0);
  EXPECT_LT(stats.sampling_steps, stats.generated_tokens);  // some steps emitted 2+ tokens
  EXPECT_EQ(stats.kv_blocks_used, 0);
}

TEST_F(EngineMtpTest, LongDraftsAndPreemptionKeepGreedyOutputs) {
  // 12 blocks of 16 tokens for 5 sequences of ~60 tokens: preemptions, and draft KV rows that
  // need blocks of their own.
  const EngineStats stats = expect_greedy_identical(mtp_config(12, 6), 5, 20, 1, 40, 0);
  EXPECT_GT(stats.preemptions, 0);
  EXPECT_GT(stats.spec_draft_tokens, 0);
}

TEST_F(EngineMtpTest, PrefixReuseKeepsGreedyOutputs) {
  // The second request reuses the first's published blocks (their MTP KV included).
  const std::vector<int32_t> p = prompt(40, 9);
  const std::vector<int32_t> first = reference(p, 20);
  std::vector<int32_t> continued = p;
  continued.insert(continued.end(), first.begin(), first.begin() + 15);
  const std::vector<int32_t> expected = reference(continued, 10);
  auto engine = Engine::create(*model_, mtp_config(64));
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  Stream a, b;
  ASSERT_TRUE((*engine)->submit(greedy(p, 20, a)).ok());
  a.wait();
  EXPECT_EQ(a.tokens, first);
  ASSERT_TRUE((*engine)->submit(greedy(continued, 10, b)).ok());
  b.wait();
  EXPECT_EQ(b.finals[0].cached_tokens, 48);
  EXPECT_EQ(b.tokens, expected);
}

TEST_F(EngineMtpTest, DraftsHoldNoBlocksBetweenSteps) {
  // Drafting takes KV blocks only inside a step, for what the scheduler granted, and gives
  // them back after verification: after every step a sequence running alone holds exactly the
  // blocks of its computed tokens (n_tokens - 1 of them), none for the next step's drafts —
  // which would take blocks outside the scheduler's policy (evicting cached prefixes, pushing
  // the next step's decodes into preemption). Each event reads the stats published after the
  // step before its own.
  auto engine = Engine::create(*model_, mtp_config(64, 6));
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  struct Seen {
    int64_t published_steps;  // steps run when the event came: its step is the next one
    int64_t blocks_used;      // after step published_steps
    int64_t n_tokens;         // after this event
  };
  std::vector<Seen> seen;  // engine thread only until the final event
  Stream stream;
  EngineRequest r = greedy(prompt(21, 31), 80, stream);
  // One token favoured so much that the target and the MTP head both always choose it: every
  // draft is accepted, so drafts stay as long as allowed and cross block boundaries.
  r.sampling.logit_bias.push_back({1200, 100.0f});
  Engine* raw = engine->get();
  r.on_event = [&seen, raw, collect = stream.callback()](const TokenEvent& event) {
    const EngineStats stats = raw->stats();
    seen.push_back(
        {stats.steps, stats.kv_blocks_used, event.prompt_tokens + event.completion_tokens});
    collect(event);
  };
  ASSERT_TRUE(raw->submit(std::move(r)).ok());
  stream.wait();
  EXPECT_EQ(stream.finals[0].completion_tokens, 80);
  std::map<int64_t, int64_t> tokens_after_step;  // step → n_tokens after it
  for (const Seen& s : seen) {
    int64_t& n = tokens_after_step[s.published_steps + 1];
    n = std::max(n, s.n_tokens);
  }
  int checked = 0;
  for (const Seen& s : seen) {
    auto after = tokens_after_step.find(s.published_steps);
    if (after == tokens_after_step.end()) continue;  // before the first step
    const int64_t n_computed = after->second - 1;
    EXPECT_EQ(s.blocks_used, (n_computed + 15) / 16)
        << "after step " << s.published_steps << ", " << n_computed << " tokens computed";
    ++checked;
  }
  EXPECT_GT(checked, 10);
  const EngineStats stats = idle_stats(*raw);
  EXPECT_GT(stats.spec_accepted_tokens, 0);
  EXPECT_EQ(stats.kv_blocks_used, 0);
}

TEST_F(EngineMtpTest, FixedSeedReproducesSampledText) {
  auto run = [&](uint64_t seed) {
    auto engine = Engine::create(*model_, mtp_config(64));
    EXPECT_TRUE(engine.ok());
    Stream stream;
    EngineRequest r;
    r.prompt = prompt(12, 3);
    r.max_new_tokens = 32;
    r.sampling.temperature = 0.7f;
    r.sampling.top_k = 20;
    r.sampling.seed = seed;
    r.on_event = stream.callback();
    EXPECT_TRUE((*engine)->submit(std::move(r)).ok());
    stream.wait();
    EXPECT_GT(idle_stats(**engine).spec_draft_tokens, 0);
    return stream.tokens;
  };
  const std::vector<int32_t> first = run(42);
  EXPECT_EQ(first.size(), 32u);
  EXPECT_EQ(run(42), first);
  EXPECT_NE(run(43), first);
}

}  // namespace
}  // namespace mx
