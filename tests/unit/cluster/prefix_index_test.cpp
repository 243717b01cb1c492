// PrefixIndex: the frontend's view of each worker's prefix cache, fed by KV events and
// snapshots, without processes (src/cluster/prefix_index.h). Hashes come from the engine's
// BlockPool, so the index is checked against what a real pool publishes and evicts.
#include "cluster/prefix_index.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "engine/kv_event_log.h"

namespace mx {
namespace {

using Clock = PrefixIndex::Clock;
constexpr int64_t kBlockSize = 4;
constexpr uint64_t kSeed = 0xabc;
const PrefixLayout kLayout{kBlockSize, kSeed};
const std::string kA = "10.0.0.1:7000";
const std::string kB = "10.0.0.2:7000";

std::vector<BlockHash> hashes_of(int n_tokens, int32_t first) {
  std::vector<int32_t> tokens(n_tokens);
  std::iota(tokens.begin(), tokens.end(), first);
  std::vector<BlockHash> out;
  chain_block_hashes(tokens, kBlockSize, kSeed, out);
  return out;
}

std::vector<KvBlockEvent> stored(const std::vector<BlockHash>& hashes) {
  std::vector<KvBlockEvent> out;
  for (BlockHash h : hashes) out.push_back({h, false});
  return out;
}

// A worker followed from an empty snapshot (as of event 0) of log 7 at epoch 1.
void follow(PrefixIndex& index, const std::string& worker, uint64_t epoch = 1) {
  index.set_layout(worker, kLayout);
  index.begin_snapshot(worker, epoch, 7);
  ASSERT_EQ(index.end_snapshot(worker, 0), PrefixIndex::Applied::kOk);
}

TEST(PrefixIndexTest, EventsInOrderBuildTheLeadingPrefixPerWorker) {
  PrefixIndex index;
  follow(index, kA);
  follow(index, kB);
  const auto prompt = hashes_of(20, 0);  // 5 blocks
  const auto now = Clock::now();
  const std::vector<BlockHash> first3(prompt.begin(), prompt.begin() + 3);
  EXPECT_EQ(index.apply_events(kA, 1, 7, 1, stored(first3)), PrefixIndex::Applied::kOk);
  EXPECT_EQ(index.apply_events(kB, 1, 7, 1, stored({prompt[0]})), PrefixIndex::Applied::kOk);
  EXPECT_EQ(index.cached_blocks(kA, prompt, now), 3);
  EXPECT_EQ(index.cached_blocks(kB, prompt, now), 1);
  // Another prompt sharing no first block: nothing, even if later blocks matched.
  EXPECT_EQ(index.cached_blocks(kA, hashes_of(20, 1), now), 0);
  EXPECT_EQ(index.cursor(kA).after_seq, 3u);
  EXPECT_EQ(index.cursor(kA).log_id, 7u);
}

TEST(PrefixIndexTest, EvictionCutsThePrefixWhereItHappened) {
  PrefixIndex index;
  follow(index, kA);
  const auto prompt = hashes_of(16, 0);  // 4 blocks
  index.apply_events(kA, 1, 7, 1, stored(prompt));
  // The pool evicts a prefix's later blocks first; an evicted middle block ends the match.
  const std::vector<KvBlockEvent> removed{{prompt[3], true}, {prompt[1], true}};
  EXPECT_EQ(index.apply_events(kA, 1, 7, 5, removed), PrefixIndex::Applied::kOk);
  EXPECT_EQ(index.cached_blocks(kA, prompt, Clock::now()), 1);
  EXPECT_EQ(index.n_hashes(kA), 2u);
}

TEST(PrefixIndexTest, AGapAsksForASnapshotAndForgetsTheWorker) {
  PrefixIndex index;
  follow(index, kA);
  const auto prompt = hashes_of(8, 0);
  index.apply_events(kA, 1, 7, 1, stored({prompt[0]}));
  // Event 2 is missing.
  EXPECT_EQ(index.apply_events(kA, 1, 7, 3, stored({prompt[1]})),
            PrefixIndex::Applied::kNeedsSnapshot);
  EXPECT_FALSE(index.ready(kA));
  EXPECT_EQ(index.cached_blocks(kA, prompt, Clock::now()), 0);
  EXPECT_EQ(index.cursor(kA).after_seq, 0u);  // resubscribe from a snapshot
  // Events keep being refused until a snapshot has ended.
  EXPECT_EQ(index.apply_events(kA, 1, 7, 4, stored({prompt[1]})),
            PrefixIndex::Applied::kNeedsSnapshot);
  // The snapshot (two parts) replaces the set, then events go on after its number.
  index.begin_snapshot(kA, 1, 7);
  index.add_snapshot_hashes(kA, std::vector<BlockHash>{prompt[0]});
  EXPECT_EQ(index.cached_blocks(kA, prompt, Clock::now()), 0);  // not until it ends
  index.add_snapshot_hashes(kA, std::vector<BlockHash>{prompt[1]});
  EXPECT_EQ(index.end_snapshot(kA, 10), PrefixIndex::Applied::kOk);
  EXPECT_EQ(index.cached_blocks(kA, prompt, Clock::now()), 2);
  EXPECT_EQ(index.apply_events(kA, 1, 7, 11, {{{prompt[1], true}}}), PrefixIndex::Applied::kOk);
  EXPECT_EQ(index.cached_blocks(kA, prompt, Clock::now()), 1);
}

TEST(PrefixIndexTest, ANewEpochOrAnotherLogAsksForASnapshot) {
  PrefixIndex index;
  follow(index, kA, /*epoch=*/1);
  const auto prompt = hashes_of(8, 0);
  index.apply_events(kA, 1, 7, 1, stored({prompt[0]}));
  EXPECT_EQ(index.apply_events(kA, 2, 7, 2, stored({prompt[1]})),
            PrefixIndex::Applied::kNeedsSnapshot);  // re-registered under a new lease
  EXPECT_EQ(index.cached_blocks(kA, prompt, Clock::now()), 0);
  follow(index, kA, /*epoch=*/2);
  index.apply_events(kA, 2, 7, 1, stored({prompt[0]}));
  EXPECT_EQ(index.apply_events(kA, 2, 8, 2, stored({prompt[1]})),
            PrefixIndex::Applied::kNeedsSnapshot);  // a restarted process: another log
  EXPECT_FALSE(index.ready(kA));
}

TEST(PrefixIndexTest, DroppedWorkersAndChangedLayoutsAreForgotten) {
  PrefixIndex index;
  follow(index, kA);
  follow(index, kB);
  const auto prompt = hashes_of(8, 0);
  index.apply_events(kA, 1, 7, 1, stored(prompt));
  index.apply_events(kB, 1, 7, 1, stored(prompt));
  const std::vector<std::string> view{kB};
  index.retain(view);
  EXPECT_EQ(index.cached_blocks(kA, prompt, Clock::now()), 0);
  EXPECT_EQ(index.cached_blocks(kB, prompt, Clock::now()), 2);
  index.set_layout(kB, PrefixLayout{kBlockSize, kSeed + 1});  // restarted with another dtype
  EXPECT_EQ(index.cached_blocks(kB, prompt, Clock::now()), 0);
  EXPECT_FALSE(index.ready(kB));
  index.drop(kB);
  EXPECT_EQ(index.n_hashes(kB), 0u);
  // A worker without a layout (prefix caching off) is never counted, even with notes.
  index.set_layout(kA, PrefixLayout{kBlockSize, 0});
  index.note_routed(kA, prompt, Clock::now() + std::chrono::seconds(5), Clock::now());
  EXPECT_EQ(index.cached_blocks(kA, prompt, Clock::now()), 0);
}

TEST(PrefixIndexTest, RoutedPrefixesCountUntilTheyExpireOrTheWorkerSpeaks) {
  PrefixIndex index;
  follow(index, kA);
  const auto prompt = hashes_of(12, 0);  // 3 blocks
  const auto t0 = Clock::now();
  index.note_routed(kA, prompt, t0 + std::chrono::seconds(5), t0);
  EXPECT_EQ(index.cached_blocks(kA, prompt, t0 + std::chrono::seconds(1)), 3);
  EXPECT_EQ(index.cached_blocks(kA, prompt, t0 + std::chrono::seconds(6)), 0);
  // The worker stored the first two, and evicted the second at once: its word wins.
  const std::vector<KvBlockEvent> events{{prompt[0], false}, {prompt[1], false}, {prompt[1], true}};
  index.apply_events(kA, 1, 7, 1, events);
  EXPECT_EQ(index.cached_blocks(kA, prompt, t0 + std::chrono::seconds(1)), 1);
}

// End to end without processes: a real BlockPool's recorded events through a KvEventLog into
// the index, incrementally for one reader and by snapshot for a late one: both agree with the
// pool's own count of cached blocks.
TEST(PrefixIndexTest, FollowsARealPoolThroughTheEventLog) {
  BlockPool pool(6, kBlockSize, kSeed);
  pool.set_record_events(true);
  KvEventLog log(8);  // small: a late reader cannot catch up from events
  PrefixIndex index;
  follow(index, kA);
  uint64_t applied = 0;
  auto pump = [&] {
    std::vector<KvBlockEvent> events;
    pool.take_events(events);
    log.append(events);
    for (;;) {
      auto next = log.read(applied, 2);
      ASSERT_TRUE(next.has_value());
      if (next->empty()) return;
      ASSERT_EQ(index.apply_events(kA, 1, 7, applied + 1, *next), PrefixIndex::Applied::kOk);
      applied += next->size();
    }
  };
  auto run = [&](int32_t first) {  // a 4-block sequence: prefill, publish, finish
    std::vector<int32_t> tokens(16);
    std::iota(tokens.begin(), tokens.end(), first);
    const auto hashes = pool.block_hashes(tokens);
    std::vector<BlockId> table;
    const int64_t hit = pool.acquire_cached_prefix(hashes, table);
    EXPECT_TRUE(pool.allocate(4 - hit, table));
    for (size_t i = 0; i < hashes.size(); ++i) pool.publish(table[i], hashes[i]);
    pool.release(table);
    pump();
    return hashes;
  };
  const auto a = run(0);
  EXPECT_EQ(index.cached_blocks(kA, a, Clock::now()), pool.count_cached_prefix(a));
  const auto b = run(100);  // evicts two of a's blocks
  EXPECT_EQ(index.cached_blocks(kA, a, Clock::now()), pool.count_cached_prefix(a));
  EXPECT_EQ(index.cached_blocks(kA, b, Clock::now()), pool.count_cached_prefix(b));
  EXPECT_EQ(index.cached_blocks(kA, b, Clock::now()), 4);
  // A late reader: event 1 is long gone from the log, so it takes the snapshot.
  EXPECT_FALSE(log.read(0, 10).has_value());
  const KvEventLog::Snapshot snapshot = log.snapshot();
  index.set_layout(kB, kLayout);
  index.begin_snapshot(kB, 1, 7);
  index.add_snapshot_hashes(kB, snapshot.hashes);
  ASSERT_EQ(index.end_snapshot(kB, snapshot.seq), PrefixIndex::Applied::kOk);
  EXPECT_EQ(index.cached_blocks(kB, a, Clock::now()), pool.count_cached_prefix(a));
  EXPECT_EQ(index.cached_blocks(kB, b, Clock::now()), 4);
  EXPECT_EQ(index.cursor(kB).after_seq, applied);
}

}  // namespace
}  // namespace mx
