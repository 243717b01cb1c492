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

TEST_F(EngineTest, ServedContextIsWhatTheKvPoolHolds) {
  ASSERT_GT(model_->config().context_length, 8 * 16);
  auto engine = Engine::create(*model_, config(8));  // 128 tokens of KV cache
  ASSERT_TRUE(engine.ok());
  EXPECT_EQ((*engine)->max_context(), 128);
  // A request to the served context's end is taken and runs to its length.
  Stream stream;
  ASSERT_TRUE((*engine)->submit(greedy(prompt(100, 2), 28, stream)).ok());
  stream.wait();
  EXPECT_EQ(stream.finals[0].stop_reason, StopReason::kLength);
  EXPECT_EQ(stream.finals[0].completion_tokens, 28);
  Stream beyond;
  auto refused = (*engine)->submit(greedy(prompt(100, 2), 29, beyond));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("context is 128 tokens"), std::string::npos);
  // A --ctx the pool holds is served as asked.
  EngineConfig c = config(8);
  c.max_context = 64;
  auto smaller = Engine::create(*model_, c);
  ASSERT_TRUE(smaller.ok());
  EXPECT_EQ((*smaller)->max_context(), 64);
}

TEST_F(EngineTest, ChoicesThatCannotRunTogetherAreRefused) {
  auto engine = Engine::create(*model_, config(8));  // 8 blocks of 16 tokens
  ASSERT_TRUE(engine.ok());
  const std::vector<int32_t> p = prompt(20, 5);
  std::vector<Stream> streams(4);
  auto choices = [&](int64_t max_new) {
    std::vector<EngineRequest> requests;
    for (Stream& s : streams) requests.push_back(greedy(p, max_new, s));
    return requests;
  };
  // 4 × (20 + 30) tokens need 4 × 4 blocks: they could only preempt one another.
  auto refused = (*engine)->submit_all(choices(30));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(refused.error().message.find("fewer choices (n) or a smaller max_tokens (at most 12"),
            std::string::npos)
      << refused.error().message;
  // What max_new_tokens_for allows fits: 4 × 2 blocks, run without a preemption.
  EXPECT_EQ((*engine)->max_new_tokens_for(20, 4), 12);
  ASSERT_TRUE((*engine)->submit_all(choices(12)).ok());
  for (Stream& s : streams) {
    s.wait();
    EXPECT_EQ(s.finals[0].completion_tokens, 12);
  }
  EXPECT_EQ(idle_stats(**engine).preemptions, 0);
  // Only those that run at once count: with one running at a time 4 × 50 tokens are fine.
  EngineConfig one = config(8);
  one.scheduler.max_running = 1;
  auto serial = Engine::create(*model_, one);
  ASSERT_TRUE(serial.ok());
  EXPECT_EQ((*serial)->max_new_tokens_for(20, 4), 128 - 20);
  std::vector<Stream> more(4);
  std::vector<EngineRequest> requests;
  for (Stream& s : more) requests.push_back(greedy(p, 30, s));
  ASSERT_TRUE((*serial)->submit_all(std::move(requests)).ok());
  for (Stream& s : more) s.wait();
}

TEST_F(EngineTest, FullQueueRefusesWithResourceExhausted) {
  EngineConfig c = config(64);
  c.scheduler.max_running = 1;
  c.max_waiting = 3;
  auto engine = Engine::create(*model_, c);
  ASSERT_TRUE(engine.ok());
  Stream running;
  auto long_one = (*engine)->submit(greedy(prompt(8, 1), 900, running));
  ASSERT_TRUE(long_one.ok());
  // Wait until it runs (the stats published with it running count nothing queued).
  bool started = false;
  for (int i = 0; i < 5000 && !started; ++i) {
    const EngineStats s = (*engine)->stats();
    started = s.running == 1 && s.waiting == 0;
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(started);
  std::vector<Stream> queued(4);
  std::vector<SeqId> ids;
  for (int i = 0; i < 3; ++i) {
    auto id = (*engine)->submit(greedy(prompt(8, 2 + i), 4, queued[i]));
    ASSERT_TRUE(id.ok()) << id.error().message;
    ids.push_back(*id);
  }
  auto full = (*engine)->submit(greedy(prompt(8, 9), 4, queued[3]));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(full.error().message.find("3 sequences are queued, at most 3 may wait"),
            std::string::npos)
      << full.error().message;
  // More choices than the queue holds can never be taken: that is the request's fault.
  std::vector<Stream> many(4);
  std::vector<EngineRequest> requests;
  for (Stream& s : many) requests.push_back(greedy(prompt(8, 3), 4, s));
  auto too_many = (*engine)->submit_all(std::move(requests));
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, ErrorCode::kOutOfRange);
  (*engine)->cancel(*long_one);
  for (int i = 0; i < 3; ++i) queued[i].wait();
  running.wait();
  EXPECT_EQ(running.finals[0].stop_reason, StopReason::kCancelled);
  // The queue drained: requests are taken again.
  ASSERT_TRUE((*engine)->submit(greedy(prompt(8, 9), 4, queued[3])).ok());
  queued[3].wait();
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
