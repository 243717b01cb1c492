// The engine's prefix-cache events on a real tiny model: what a request publishes and what a
// later one evicts reach Engine::kv_events() in order, under the very hashes a frontend computes
// from the prompt alone (chain_block_hashes with EngineLimits' block size and hash seed).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/engine.h"
#include "engine_stream.h"
#include "tiny_model_suite.h"

namespace mx {
namespace {

class EngineKvEventsTest : public TinyModelSuite {
 protected:
  static std::vector<int32_t> prompt(int64_t n, int32_t salt) {
    std::vector<int32_t> p;
    for (int64_t i = 0; i < n; ++i) p.push_back(static_cast<int32_t>((i * 31 + salt) % 4000 + 50));
    return p;
  }
  static void run(Engine& engine, const std::vector<int32_t>& p) {
    Stream stream;
    EngineRequest r;
    r.prompt = p;
    r.sampling.temperature = 0;
    r.max_new_tokens = 4;
    r.on_event = stream.callback();
    ASSERT_TRUE(engine.submit(std::move(r)).ok());
    stream.wait();
    idle_stats(engine);  // a step has ended since: its events are in the log
  }
  // Waits (bounded) for the log to reach `seq` events.
  static bool wait_for(const KvEventLog& log, uint64_t seq) {
    for (int i = 0; i < 1000 && log.last_seq() < seq; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return log.last_seq() >= seq;
  }
};

TEST_F(EngineKvEventsTest, PublishedAndEvictedBlocksReachTheLogUnderTheFrontendsHashes) {
  auto engine = Engine::create(*model_, small_config(7));  // 7 blocks of 16 tokens
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  const EngineLimits limits = (*engine)->limits();
  ASSERT_NE(limits.prefix_hash_seed, 0u);
  const auto p1 = prompt(70, 1), p2 = prompt(70, 2);  // 4 full blocks each (+ 6 tokens)
  std::vector<BlockHash> h1, h2;
  chain_block_hashes(p1, limits.block_size, limits.prefix_hash_seed, h1);
  chain_block_hashes(p2, limits.block_size, limits.prefix_hash_seed, h2);
  ASSERT_EQ(h1.size(), 4u);
  KvEventLog& log = (*engine)->kv_events();

  run(**engine, p1);
  ASSERT_TRUE(wait_for(log, 4));
  auto events = log.read(0, 100);
  ASSERT_TRUE(events.has_value());
  std::vector<KvBlockEvent> expected;
  for (BlockHash h : h1) expected.push_back({h, false});
  EXPECT_EQ(*events, expected);

  // p2 needs 5 blocks and 3 are empty: p1's cached blocks are evicted, its tail first (the
  // LRU takes a released table from the end).
  run(**engine, p2);
  ASSERT_TRUE(wait_for(log, 10));
  events = log.read(4, 100);
  ASSERT_TRUE(events.has_value());
  std::vector<KvBlockEvent> removed, stored;
  for (const KvBlockEvent& e : *events) (e.removed ? removed : stored).push_back(e);
  ASSERT_GE(removed.size(), 1u);
  ASSERT_LE(removed.size(), 4u);
  for (size_t i = 0; i < removed.size(); ++i) EXPECT_EQ(removed[i].hash, h1[3 - i]);
  ASSERT_EQ(stored.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(stored[i].hash, h2[i]);

  auto snapshot = log.snapshot();
  std::sort(snapshot.hashes.begin(), snapshot.hashes.end());
  std::vector<BlockHash> want(h2.begin(), h2.end());
  want.insert(want.end(), h1.begin(), h1.end() - static_cast<int64_t>(removed.size()));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(snapshot.hashes, want);
  EXPECT_EQ(snapshot.seq, log.last_seq());
}

TEST_F(EngineKvEventsTest, NoPrefixCachingNoEventsAndNoSeed) {
  EngineConfig config = small_config(8);
  config.prefix_caching = false;
  auto engine = Engine::create(*model_, config);
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  EXPECT_EQ((*engine)->limits().prefix_hash_seed, 0u);
  run(**engine, prompt(70, 1));
  EXPECT_EQ((*engine)->kv_events().last_seq(), 0u);
}

}  // namespace
}  // namespace mx
