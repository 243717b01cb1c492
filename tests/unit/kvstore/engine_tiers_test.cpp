// The engine over the KV tiers on a real tiny model: a conversation whose prefix blocks were
// evicted from the compute tier comes back from host memory, or from the SSD tier after the
// engine (and its store) restarted; corrupted SSD files are never served. In every case the
// greedy tokens equal a cold computation (SingleSequence) and cached_tokens shows the reuse.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "../engine/tiny_model_suite.h"
#include "engine/engine.h"
#include "kvstore/tiered_store.h"

namespace mx {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kBlock = 16;

struct Outcome {
  std::vector<int32_t> tokens;
  int64_t cached_tokens = -1;
  std::string error;
};

class EngineTiersTest : public TinyModelSuite {
 protected:
  static std::vector<int32_t> prompt(int64_t n, int32_t salt) {
    std::vector<int32_t> p;
    for (int64_t i = 0; i < n; ++i) {
      p.push_back(static_cast<int32_t>((i * 7919 + salt * 104729) % 5000 + 100));
    }
    return p;
  }

  // A small compute tier (8 blocks of 16 tokens) so that other conversations evict one.
  EngineConfig config(TieredKvStoreConfig tiers) {
    EngineConfig c = small_config(8);
    c.make_kv_store = [tiers](uint64_t seed, size_t bytes) -> Result<std::unique_ptr<KvStore>> {
      MX_ASSIGN_OR_RETURN(auto store, TieredKvStore::open(tiers, seed, bytes));
      return std::unique_ptr<KvStore>(std::move(store));
    };
    return c;
  }

  static Outcome generate(Engine& engine, std::vector<int32_t> p, int64_t n) {
    std::mutex mutex;
    std::condition_variable done;
    Outcome out;
    bool finished = false;
    EngineRequest r;
    r.prompt = std::move(p);
    r.sampling.temperature = 0;
    r.max_new_tokens = n;
    r.on_event = [&](const TokenEvent& e) {
      std::lock_guard lock(mutex);
      if (e.token.token >= 0 && !e.stop_token) out.tokens.push_back(e.token.token);
      out.cached_tokens = e.cached_tokens;
      if (e.finished) {
        out.error = e.error;
        finished = true;
        done.notify_all();
      }
    };
    EXPECT_TRUE(engine.submit(std::move(r)).ok());
    std::unique_lock lock(mutex);
    EXPECT_TRUE(done.wait_for(lock, std::chrono::seconds(120), [&] { return finished; }));
    return out;
  }

  static const KvTierStats& tier(const EngineStats& s, const std::string& name) {
    for (const KvTierStats& t : s.kv_tiers) {
      if (t.tier == name) return t;
    }
    static KvTierStats none;
    ADD_FAILURE() << "no tier " << name;
    return none;
  }

};

TEST_F(EngineTiersTest, EvictedPrefixComesBackFromHostMemory) {
  const auto turn1 = prompt(70, 1);  // 4 full blocks + 6 tokens
  auto turn2 = turn1;
  const auto more = prompt(20, 9);
  turn2.insert(turn2.end(), more.begin(), more.end());
  const auto expected = reference(turn2, 6);
  TieredKvStoreConfig tiers;
  tiers.host_bytes = 64 << 20;
  auto engine = Engine::create(*model_, config(tiers));
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  generate(**engine, turn1, 4);
  generate(**engine, prompt(100, 2), 4);  // fills the compute tier: turn 1's blocks are evicted
  Outcome again = generate(**engine, turn2, 6);
  EXPECT_EQ(again.tokens, expected);
  EXPECT_GE(again.cached_tokens, 4 * kBlock);  // compute tier + host tier together
  EngineStats s = idle_stats(**engine);
  // The pool evicts a prefix's later blocks first: some of the four may still be in compute.
  EXPECT_GE(s.store_restored_blocks, 1);
  EXPECT_EQ(tier(s, "host").hits, s.store_restored_blocks);
}

TEST_F(EngineTiersTest, SsdTierServesAnOldConversationAfterARestart) {
  const auto turn1 = prompt(70, 3);
  auto turn2 = turn1;
  const auto more = prompt(25, 8);
  turn2.insert(turn2.end(), more.begin(), more.end());
  const auto expected = reference(turn2, 5);
  TieredKvStoreConfig tiers;
  tiers.ssd_root = (dir_ / "ssd-restart").string();
  tiers.ssd_bytes = 256 << 20;
  {
    auto engine = Engine::create(*model_, config(tiers));
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    generate(**engine, turn1, 4);
  }  // the store's writer finishes its queue on destruction
  auto engine = Engine::create(*model_, config(tiers));  // a restarted server: compute tier empty
  ASSERT_TRUE(engine.ok());
  Outcome again = generate(**engine, turn2, 5);
  EXPECT_EQ(again.tokens, expected);
  EXPECT_GE(again.cached_tokens, 4 * kBlock);
  EngineStats s = idle_stats(**engine);
  EXPECT_GE(tier(s, "ssd").hits, 4);
  EXPECT_EQ(tier(s, "ssd").bad_blocks, 0);
}

TEST_F(EngineTiersTest, CorruptedTruncatedAndDeletedSsdFilesAreRecomputed) {
  const auto turn1 = prompt(90, 5);
  auto turn2 = turn1;
  const auto more = prompt(10, 7);
  turn2.insert(turn2.end(), more.begin(), more.end());
  const auto expected = reference(turn2, 5);
  TieredKvStoreConfig tiers;
  tiers.ssd_root = (dir_ / "ssd-bad").string();
  tiers.ssd_bytes = 256 << 20;
  {
    auto engine = Engine::create(*model_, config(tiers));
    ASSERT_TRUE(engine.ok());
    generate(**engine, turn1, 4);
  }
  std::vector<fs::path> files;
  for (const auto& layout : fs::directory_iterator(tiers.ssd_root)) {
    for (const auto& file : fs::directory_iterator(layout.path())) files.push_back(file.path());
  }
  ASSERT_GE(files.size(), 5u);
  std::sort(files.begin(), files.end());
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  fs::resize_file(files[1], 64);
  fs::remove(files[2]);
  auto engine = Engine::create(*model_, config(tiers));
  ASSERT_TRUE(engine.ok());
  Outcome again = generate(**engine, turn2, 5);
  EXPECT_EQ(again.tokens, expected);
  // And the blocks recomputed now serve the next run again.
  Outcome third = generate(**engine, turn2, 5);
  EXPECT_EQ(third.tokens, expected);
  EngineStats s = idle_stats(**engine);
  EXPECT_GE(tier(s, "ssd").bad_blocks, 1);  // which ones were read depends on the chain order
}

// INT8 KV blocks (int8 rows and their scales in one span) go to the SSD tier and come back after a
// restart, giving the int8 cold computation's tokens; an f16 engine on the same folder never
// reads them (the dtype is part of the layout seed), and its tokens are its own cold ones.
TEST_F(EngineTiersTest, Int8BlocksRoundTripThroughSsdAndStayApartFromF16) {
  const auto turn1 = prompt(70, 4);
  auto turn2 = turn1;
  const auto more = prompt(21, 6);
  turn2.insert(turn2.end(), more.begin(), more.end());
  const auto expected_int8 = reference(turn2, 5, kBlock, DType::I8);
  const auto expected_f16 = reference(turn2, 5, kBlock, DType::F16);
  TieredKvStoreConfig tiers;
  tiers.ssd_root = (dir_ / "ssd-int8").string();
  tiers.ssd_bytes = 256 << 20;
  EngineConfig int8 = config(tiers);
  int8.kv_dtype = DType::I8;
  {
    auto engine = Engine::create(*model_, int8);
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    generate(**engine, turn1, 4);
  }
  {
    EngineConfig f16 = config(tiers);
    f16.kv_dtype = DType::F16;
    auto engine = Engine::create(*model_, f16);
    ASSERT_TRUE(engine.ok());
    Outcome other = generate(**engine, turn2, 5);
    EXPECT_EQ(other.tokens, expected_f16);
    EXPECT_EQ(other.cached_tokens, 0);
    EXPECT_EQ(tier(idle_stats(**engine), "ssd").hits, 0);
  }
  auto engine = Engine::create(*model_, int8);
  ASSERT_TRUE(engine.ok());
  Outcome again = generate(**engine, turn2, 5);
  EXPECT_EQ(again.tokens, expected_int8);
  EXPECT_GE(again.cached_tokens, 4 * kBlock);
  EngineStats s = idle_stats(**engine);
  EXPECT_GE(tier(s, "ssd").hits, 4);
  EXPECT_EQ(tier(s, "ssd").bad_blocks, 0);
}

}  // namespace
}  // namespace mx
