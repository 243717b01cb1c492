// The serving engine on a real tiny model: many sequences batched together, prefix reuse,
// preemption under a small KV pool and cancellation all give the same greedy tokens as one
// sequence run alone (SingleSequence), and every request ends with exactly one final event.
#include "engine/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "engine/single_sequence.h"
#include "engine_stream.h"
#include "tiny_model_suite.h"

namespace mx {
namespace {

class EngineTest : public TinyModelSuite {
 protected:
  static std::vector<int32_t> prompt(int64_t n, int32_t salt) {
    std::vector<int32_t> p;
    for (int64_t i = 0; i < n; ++i)
      p.push_back(static_cast<int32_t>((i * 7919 + salt * 104729) % 5000 + 100));
    return p;
  }

  static EngineConfig config(int64_t kv_blocks) { return small_config(kv_blocks); }

  static EngineRequest greedy(std::vector<int32_t> p, int64_t n, Stream& stream) {
    EngineRequest r;
    r.prompt = std::move(p);
    r.sampling.temperature = 0;
    r.max_new_tokens = n;
    r.on_event = stream.callback();
    return r;
  }
};


TEST_F(EngineTest, ConcurrentSequencesMatchSingleSequence) {
  auto engine = Engine::create(*model_, config(256));
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  constexpr int kN = 6;
  std::vector<std::vector<int32_t>> prompts, expected;
  std::vector<Stream> streams(kN);
  for (int i = 0; i < kN; ++i) {
    prompts.push_back(prompt(5 + 23 * i, i));  // 5..120 tokens: chunked prefill mixed with decode
    expected.push_back(reference(prompts[i], 12));
  }
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE((*engine)->submit(greedy(prompts[i], 12, streams[i])).ok());
  }
  for (int i = 0; i < kN; ++i) {
    streams[i].wait();
    EXPECT_EQ(streams[i].tokens, expected[i]) << "sequence " << i;
    ASSERT_EQ(streams[i].finals.size(), 1u);
    EXPECT_EQ(streams[i].finals[0].stop_reason, StopReason::kLength);
    EXPECT_EQ(streams[i].finals[0].completion_tokens, 12);
    EXPECT_EQ(streams[i].finals[0].prompt_tokens, static_cast<int64_t>(prompts[i].size()));
  }
  EngineStats stats = idle_stats(**engine);
  EXPECT_EQ(stats.kv_blocks_used, 0);
  EXPECT_EQ(stats.generated_tokens, kN * 12);
}

TEST_F(EngineTest, PrefixCacheReusesBlocksWithSameTokens) {
  std::vector<int32_t> p = prompt(70, 3);  // 4 full blocks of 16 + 6
  const std::vector<int32_t> expected = reference(p, 8);
  auto engine = Engine::create(*model_, config(64));
  ASSERT_TRUE(engine.ok());
  Stream first, second;
  ASSERT_TRUE((*engine)->submit(greedy(p, 8, first)).ok());
  first.wait();
  EXPECT_EQ(first.finals[0].cached_tokens, 0);
  ASSERT_TRUE((*engine)->submit(greedy(p, 8, second)).ok());
  second.wait();
  EXPECT_EQ(second.finals[0].cached_tokens, 64);
  EXPECT_EQ(first.tokens, second.tokens);
  EXPECT_EQ(second.tokens, expected);
  // A prompt that differs in its first token shares nothing.
  std::vector<int32_t> other = p;
  other[0] += 1;
  Stream third;
  ASSERT_TRUE((*engine)->submit(greedy(other, 4, third)).ok());
  third.wait();
  EXPECT_EQ(third.finals[0].cached_tokens, 0);
}

TEST_F(EngineTest, PreemptionUnderSmallPoolKeepsOutputs) {
  // 12 blocks of 16 tokens; each request needs up to 4 blocks at its end: 5 at once cannot fit.
  constexpr int kN = 5;
  std::vector<Stream> streams(kN);
  std::vector<std::vector<int32_t>> prompts, expected;
  for (int i = 0; i < kN; ++i) {
    prompts.push_back(prompt(20 + i, 10 + i));
    expected.push_back(reference(prompts[i], 40));
  }
  auto engine = Engine::create(*model_, config(12));
  ASSERT_TRUE(engine.ok());
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE((*engine)->submit(greedy(prompts[i], 40, streams[i])).ok());
  }
  for (int i = 0; i < kN; ++i) {
    streams[i].wait();
    EXPECT_EQ(streams[i].tokens, expected[i]) << "sequence " << i;
  }
  EngineStats stats = idle_stats(**engine);
  EXPECT_EQ(stats.kv_blocks_used, 0);
  EXPECT_GT(stats.preemptions, 0);
}

TEST_F(EngineTest, CancelEndsWithOneFinalEventAndFreesBlocks) {
  auto engine = Engine::create(*model_, config(64));
  ASSERT_TRUE(engine.ok());
  Stream stream;
  auto id = (*engine)->submit(greedy(prompt(30, 1), 500, stream));
  ASSERT_TRUE(id.ok());
  for (int i = 0; i < 2000; ++i) {
    {
      std::lock_guard lock(stream.mutex);
      if (stream.tokens.size() >= 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  (*engine)->cancel(*id);
  stream.wait();
  ASSERT_EQ(stream.finals.size(), 1u);
  EXPECT_EQ(stream.finals[0].stop_reason, StopReason::kCancelled);
  EXPECT_LT(stream.tokens.size(), 500u);
  EXPECT_EQ(idle_stats(**engine).kv_blocks_used, 0);
  (*engine)->cancel(*id);  // already finished: ignored
}

TEST_F(EngineTest, StopTokenEndsGeneration) {
  std::vector<int32_t> p = prompt(10, 4);
  std::vector<int32_t> expected = reference(p, 6);
  auto engine = Engine::create(*model_, config(64));
  ASSERT_TRUE(engine.ok());
  Stream stream;
  EngineRequest r = greedy(p, 50, stream);
  r.stop_token_ids = {expected[3]};
  ASSERT_TRUE((*engine)->submit(std::move(r)).ok());
  stream.wait();
  // Tokens up to (not including) the stop token; the stop token is counted as generated.
  const auto stop_at = std::find(expected.begin(), expected.end(), expected[3]) - expected.begin();
  EXPECT_EQ(stream.tokens, std::vector<int32_t>(expected.begin(), expected.begin() + stop_at));
  EXPECT_EQ(stream.finals[0].stop_reason, StopReason::kStop);
  EXPECT_TRUE(stream.finals[0].stop_token);
  EXPECT_EQ(stream.finals[0].completion_tokens, stop_at + 1);
}

TEST_F(EngineTest, RejectsRequestsThatCannotFit) {
  EngineConfig c = config(64);
  c.max_context = 100;
  auto engine = Engine::create(*model_, c);
  ASSERT_TRUE(engine.ok());
  Stream stream;
  auto too_long = (*engine)->submit(greedy(prompt(90, 1), 20, stream));
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.error().message.find("context is 100 tokens"), std::string::npos);
  EXPECT_FALSE((*engine)->submit(greedy({}, 5, stream)).ok());
  EXPECT_FALSE((*engine)->submit(greedy({-1}, 5, stream)).ok());
  EXPECT_FALSE((*engine)->submit(greedy({1}, 0, stream)).ok());
}

TEST_F(EngineTest, StopCancelsRunningRequests) {
  auto engine = Engine::create(*model_, config(64));
  ASSERT_TRUE(engine.ok());
  std::vector<Stream> streams(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*engine)->submit(greedy(prompt(8, i), 900, streams[i])).ok());
  }
  (*engine)->stop();
  for (Stream& s : streams) {
    ASSERT_EQ(s.finals.size(), 1u);
  }
  Stream late;
  EXPECT_FALSE((*engine)->submit(greedy(prompt(8, 1), 5, late)).ok());
}

}  // namespace
}  // namespace mx
