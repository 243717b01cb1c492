// The prefix cache's event log: BlockPool records what it publishes and evicts, KvEventLog
// numbers it, serves the events after a point, and a snapshot when the reader fell behind.
#include "engine/kv_event_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "engine/block_pool.h"

namespace mx {
namespace {

constexpr int64_t kBlockSize = 4;
constexpr uint64_t kSeed = 0x5eed;

std::vector<int32_t> tokens_from(int n, int32_t first) {
  std::vector<int32_t> tokens(n);
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

std::vector<BlockHash> sorted(std::vector<BlockHash> hashes) {
  std::sort(hashes.begin(), hashes.end());
  return hashes;
}

TEST(KvEvents, ChainedHashesMatchThePool) {
  BlockPool pool(8, kBlockSize, kSeed);
  const auto tokens = tokens_from(10, 7);
  std::vector<BlockHash> mine;
  chain_block_hashes(tokens, kBlockSize, kSeed, mine);
  EXPECT_EQ(mine, pool.block_hashes(tokens));
  ASSERT_EQ(mine.size(), 2u);
  std::vector<BlockHash> other_seed;
  chain_block_hashes(tokens, kBlockSize, kSeed + 1, other_seed);
  EXPECT_NE(other_seed[0], mine[0]);
}

TEST(KvEvents, PoolRecordsPublishAndEvictionInOrder) {
  BlockPool pool(2, kBlockSize, kSeed);
  pool.set_record_events(true);
  const auto a = pool.block_hashes(tokens_from(8, 0));
  std::vector<BlockId> table;
  ASSERT_TRUE(pool.allocate(2, table));
  EXPECT_TRUE(pool.publish(table[0], a[0]));
  EXPECT_TRUE(pool.publish(table[0], a[0]));  // again: no new event
  EXPECT_TRUE(pool.publish(table[1], a[1]));
  std::vector<BlockId> duplicate;
  pool.release(table);
  // Reusing both cached-free blocks evicts them: the table's tail first.
  ASSERT_TRUE(pool.allocate(2, duplicate));
  std::vector<KvBlockEvent> events;
  pool.take_events(events);
  const std::vector<KvBlockEvent> expected{
      {a[0], false}, {a[1], false}, {a[1], true}, {a[0], true}};
  EXPECT_EQ(events, expected);
  events.clear();
  pool.take_events(events);
  EXPECT_TRUE(events.empty());
}

TEST(KvEvents, PoolRecordsNothingUnlessAsked) {
  BlockPool pool(2, kBlockSize, kSeed);
  std::vector<BlockId> table;
  ASSERT_TRUE(pool.allocate(1, table));
  EXPECT_TRUE(pool.publish(table[0], 42));
  std::vector<KvBlockEvent> events;
  pool.take_events(events);
  EXPECT_TRUE(events.empty());
}

TEST(KvEvents, LogNumbersEventsAndReadsAfterASequenceNumber) {
  KvEventLog log(16);
  EXPECT_NE(log.log_id(), 0u);
  EXPECT_EQ(log.last_seq(), 0u);
  auto none = log.read(0, 10);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  const std::vector<KvBlockEvent> batch{{1, false}, {2, false}, {1, true}};
  log.append(batch);
  EXPECT_EQ(log.last_seq(), 3u);
  auto all = log.read(0, 10);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(*all, batch);
  auto tail = log.read(1, 1);  // at most 1: event 2
  ASSERT_TRUE(tail.has_value());
  EXPECT_EQ(*tail, (std::vector<KvBlockEvent>{{2, false}}));
  auto caught_up = log.read(3, 10);
  ASSERT_TRUE(caught_up.has_value());
  EXPECT_TRUE(caught_up->empty());
  // A reader ahead of the log followed another history.
  EXPECT_FALSE(log.read(4, 10).has_value());
}

TEST(KvEvents, ReaderBehindTheBoundTakesASnapshot) {
  KvEventLog log(4);
  for (BlockHash h = 1; h <= 6; ++h) {
    const KvBlockEvent stored{h, false};
    log.append({&stored, 1});
  }
  const KvBlockEvent removed{2, true};
  log.append({&removed, 1});
  EXPECT_EQ(log.last_seq(), 7u);
  // Events 4..7 are held: a reader at 3 goes on, one at 2 (needs event 3) cannot.
  auto from3 = log.read(3, 10);
  ASSERT_TRUE(from3.has_value());
  EXPECT_EQ(from3->size(), 4u);
  EXPECT_EQ(from3->back(), removed);
  EXPECT_FALSE(log.read(2, 10).has_value());
  EXPECT_FALSE(log.read(0, 10).has_value());
  const KvEventLog::Snapshot snapshot = log.snapshot();
  EXPECT_EQ(snapshot.seq, 7u);
  EXPECT_EQ(sorted(snapshot.hashes), (std::vector<BlockHash>{1, 3, 4, 5, 6}));
}

TEST(KvEvents, ListenersHearAppendsUntilRemoved) {
  KvEventLog log(8);
  int calls = 0;
  const int id = log.add_listener([&] { ++calls; });
  const KvBlockEvent event{9, false};
  log.append({&event, 1});
  log.append({});  // nothing added: nobody is woken
  EXPECT_EQ(calls, 1);
  log.remove_listener(id);
  log.append({&event, 1});
  EXPECT_EQ(calls, 1);
}

TEST(KvEvents, TwoLogsHaveDifferentIds) {
  KvEventLog a(4), b(4);
  EXPECT_NE(a.log_id(), b.log_id());
}

}  // namespace
}  // namespace mx
