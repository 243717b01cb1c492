#include "engine/block_pool.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace mx {
namespace {

constexpr int64_t kBlockSize = 4;
constexpr uint64_t kSeed = 0x5eed;

std::vector<int32_t> iota_tokens(int n, int32_t first = 100) {
  std::vector<int32_t> tokens(n);
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

// Allocates n blocks, publishes each under the matching hash, returns the table.
std::vector<BlockId> allocate_published(BlockPool& pool, const std::vector<BlockHash>& hashes) {
  std::vector<BlockId> table;
  EXPECT_TRUE(pool.allocate(static_cast<int64_t>(hashes.size()), table));
  for (size_t i = 0; i < hashes.size(); ++i) EXPECT_TRUE(pool.publish(table[i], hashes[i]));
  return table;
}

TEST(BlockPool, FreshPoolHandsOutBlocksInOrder) {
  BlockPool pool(8, kBlockSize, kSeed);
  EXPECT_EQ(pool.n_blocks(), 8);
  EXPECT_EQ(pool.block_size(), kBlockSize);
  EXPECT_EQ(pool.n_free(), 8);
  EXPECT_EQ(pool.n_used(), 0);
  std::vector<BlockId> out = {42};  // allocate appends
  ASSERT_TRUE(pool.allocate(3, out));
  EXPECT_EQ(out, (std::vector<BlockId>{42, 0, 1, 2}));
  EXPECT_EQ(pool.n_free(), 5);
  EXPECT_EQ(pool.n_used(), 3);
  for (BlockId b : {0, 1, 2}) EXPECT_EQ(pool.ref_count(b), 1);
  EXPECT_EQ(pool.ref_count(3), 0);
}

TEST(BlockPool, AllocateBeyondFreeFailsWithoutSideEffects) {
  BlockPool pool(4, kBlockSize, kSeed);
  auto hashes = pool.block_hashes(iota_tokens(8));
  auto table = allocate_published(pool, hashes);  // blocks 0, 1
  pool.release(table);                            // both cached-free
  std::vector<BlockId> out = {7};
  EXPECT_FALSE(pool.allocate(5, out));
  EXPECT_FALSE(pool.allocate(-1, out));
  EXPECT_EQ(out, (std::vector<BlockId>{7}));
  EXPECT_EQ(pool.n_free(), 4);
  EXPECT_EQ(pool.n_cached_free(), 2);
  EXPECT_EQ(pool.stats().evictions, 0);
  EXPECT_EQ(pool.count_cached_prefix(hashes), 2);
  EXPECT_TRUE(pool.allocate(0, out));
  EXPECT_EQ(out.size(), 1u);
  EXPECT_TRUE(pool.allocate(4, out));  // exactly n_free() succeeds
  EXPECT_EQ(pool.n_free(), 0);
  EXPECT_FALSE(pool.allocate(1, out));
}

TEST(BlockPool, RefCountsAndRelease) {
  BlockPool pool(4, kBlockSize, kSeed);
  auto hashes = pool.block_hashes(iota_tokens(8));
  auto a = allocate_published(pool, hashes);
  std::vector<BlockId> b;
  EXPECT_EQ(pool.acquire_cached_prefix(hashes, b), 2);
  EXPECT_EQ(b, a);  // shared, not copied
  EXPECT_EQ(pool.ref_count(a[0]), 2);
  EXPECT_EQ(pool.n_used(), 2);
  std::vector<BlockId> c;
  ASSERT_TRUE(pool.allocate(1, c));
  std::vector<BlockId> b_and_c = {b[0], b[1], c[0]};
  EXPECT_EQ(pool.count_shared(b_and_c), 2);
  pool.release(c);
  pool.release(a);
  EXPECT_EQ(pool.count_shared(b), 0);
  EXPECT_EQ(pool.ref_count(a[0]), 1);
  EXPECT_EQ(pool.n_free(), 2);
  EXPECT_EQ(pool.n_cached_free(), 0);
  pool.release(b);
  EXPECT_EQ(pool.ref_count(a[0]), 0);
  EXPECT_EQ(pool.n_free(), 4);
  EXPECT_EQ(pool.n_cached_free(), 2);
}

TEST(BlockPool, UnpublishedBlocksBecomeEmptyFree) {
  BlockPool pool(3, kBlockSize, kSeed);
  std::vector<BlockId> table;
  ASSERT_TRUE(pool.allocate(3, table));
  pool.release(table);
  EXPECT_EQ(pool.n_free(), 3);
  EXPECT_EQ(pool.n_cached_free(), 0);
  for (BlockId b : table) EXPECT_FALSE(pool.is_published(b));
  // Empty blocks are reused without evictions.
  std::vector<BlockId> again;
  ASSERT_TRUE(pool.allocate(3, again));
  EXPECT_EQ(pool.stats().evictions, 0);
}

TEST(BlockPool, ReleaseOfFreeBlockAborts) {
  BlockPool pool(2, kBlockSize, kSeed);
  std::vector<BlockId> table;
  ASSERT_TRUE(pool.allocate(1, table));
  pool.release(table);
  EXPECT_DEATH(pool.release(table), "release of a referenced block");
}

TEST(BlockPool, PublishOfUnreferencedBlockAborts) {
  BlockPool pool(2, kBlockSize, kSeed);
  EXPECT_DEATH(pool.publish(0, 123), "only a referenced block is published");
}

TEST(BlockPool, PublishAndAcquireLongestPrefix) {
  BlockPool pool(8, kBlockSize, kSeed);
  auto tokens = iota_tokens(14);  // 3 full blocks + 2 tokens
  auto hashes = pool.block_hashes(tokens);
  ASSERT_EQ(hashes.size(), 3u);
  std::vector<BlockId> table;
  ASSERT_TRUE(pool.allocate(4, table));
  EXPECT_TRUE(pool.publish(table[0], hashes[0]));
  EXPECT_TRUE(pool.publish(table[1], hashes[1]));
  // hashes[2] not published: the prefix stops there.
  int64_t in_use = -1;
  EXPECT_EQ(pool.count_cached_prefix(hashes, &in_use), 2);
  EXPECT_EQ(in_use, 2);
  EXPECT_EQ(pool.stats().prefix_queries, 0);  // count does not touch stats or references
  EXPECT_EQ(pool.ref_count(table[0]), 1);

  std::vector<BlockId> other;
  EXPECT_EQ(pool.acquire_cached_prefix(hashes, other), 2);
  EXPECT_EQ(other, (std::vector<BlockId>{table[0], table[1]}));
  EXPECT_EQ(pool.stats().prefix_queries, 3);
  EXPECT_EQ(pool.stats().prefix_hits, 2);

  // A gap stops the prefix even if a later hash is published.
  std::vector<BlockHash> gapped = {hashes[0], 999, hashes[1]};
  EXPECT_EQ(pool.count_cached_prefix(gapped), 1);
  std::vector<BlockId> third;
  EXPECT_EQ(pool.acquire_cached_prefix(gapped, third), 1);
  EXPECT_EQ(pool.stats().prefix_queries, 6);
  EXPECT_EQ(pool.stats().prefix_hits, 3);
}

TEST(BlockPool, CountCachedPrefixSplitsInUseAndFree) {
  BlockPool pool(8, kBlockSize, kSeed);
  auto hashes = pool.block_hashes(iota_tokens(12));
  auto a = allocate_published(pool, hashes);
  // Keep block 0 referenced by a second holder; release the first table.
  std::vector<BlockId> holder;
  EXPECT_EQ(pool.acquire_cached_prefix(std::span(hashes).first(1), holder), 1);
  pool.release(a);
  int64_t in_use = -1;
  EXPECT_EQ(pool.count_cached_prefix(hashes, &in_use), 3);
  EXPECT_EQ(in_use, 1);
  EXPECT_EQ(pool.n_cached_free(), 2);
  // Acquiring takes cached-free blocks out of the LRU: n_free drops by exactly those.
  const int64_t free_before = pool.n_free();
  std::vector<BlockId> b;
  EXPECT_EQ(pool.acquire_cached_prefix(hashes, b), 3);
  EXPECT_EQ(pool.n_free(), free_before - 2);
  EXPECT_EQ(pool.n_cached_free(), 0);
  EXPECT_EQ(pool.ref_count(b[0]), 2);
  EXPECT_EQ(pool.ref_count(b[2]), 1);
}

TEST(BlockPool, DuplicateHashFirstPublishedWins) {
  BlockPool pool(4, kBlockSize, kSeed);
  auto hashes = pool.block_hashes(iota_tokens(4));
  std::vector<BlockId> a, b;
  ASSERT_TRUE(pool.allocate(1, a));
  ASSERT_TRUE(pool.allocate(1, b));
  EXPECT_TRUE(pool.publish(a[0], hashes[0]));
  EXPECT_FALSE(pool.publish(b[0], hashes[0]));  // same content computed twice
  EXPECT_TRUE(pool.is_published(a[0]));
  EXPECT_FALSE(pool.is_published(b[0]));
  EXPECT_TRUE(pool.publish(a[0], hashes[0]));  // republishing the same pair is harmless
  EXPECT_FALSE(pool.publish(a[0], 12345));     // one hash per block
  EXPECT_EQ(pool.count_cached_prefix(std::vector<BlockHash>{12345}), 0);
  pool.release(b);  // the duplicate goes back empty
  EXPECT_EQ(pool.n_cached_free(), 0);
  pool.release(a);
  EXPECT_EQ(pool.n_cached_free(), 1);
  std::vector<BlockId> c;
  EXPECT_EQ(pool.acquire_cached_prefix(hashes, c), 1);
  EXPECT_EQ(c[0], a[0]);
}

TEST(BlockPool, EmptyBlocksGoBeforeCachedOnes) {
  BlockPool pool(4, kBlockSize, kSeed);
  auto hashes = pool.block_hashes(iota_tokens(8));
  auto cached = allocate_published(pool, hashes);
  pool.release(cached);
  std::vector<BlockId> out;
  ASSERT_TRUE(pool.allocate(2, out));  // the two empty ones
  EXPECT_EQ(pool.stats().evictions, 0);
  EXPECT_EQ(pool.count_cached_prefix(hashes), 2);
  ASSERT_TRUE(pool.allocate(1, out));  // now one cached block must go
  EXPECT_EQ(pool.stats().evictions, 1);
  EXPECT_EQ(pool.n_cached_free(), 1);
}

TEST(BlockPool, ReleaseWalksTableLastToFirstSoTailIsEvictedFirst) {
  BlockPool pool(3, kBlockSize, kSeed);
  auto hashes = pool.block_hashes(iota_tokens(12));
  auto table = allocate_published(pool, hashes);  // the whole pool
  pool.release(table);
  EXPECT_EQ(pool.n_cached_free(), 3);
  std::vector<BlockId> out;
  ASSERT_TRUE(pool.allocate(1, out));
  EXPECT_EQ(out[0], table[2]);  // the last block of the prefix goes first
  EXPECT_EQ(pool.count_cached_prefix(hashes), 2);
  ASSERT_TRUE(pool.allocate(1, out));
  EXPECT_EQ(out[1], table[1]);
  EXPECT_EQ(pool.count_cached_prefix(hashes), 1);
  EXPECT_FALSE(pool.is_published(table[1]));
  EXPECT_EQ(pool.stats().evictions, 2);
}

TEST(BlockPool, LruEvictsLeastRecentlyReleasedFirst) {
  BlockPool pool(4, kBlockSize, kSeed);
  // Four one-block prefixes, published and released one at a time: A, B, C, D.
  std::vector<std::vector<BlockHash>> prefixes;
  std::vector<BlockId> blocks;
  for (int i = 0; i < 4; ++i) {
    prefixes.push_back(pool.block_hashes(iota_tokens(4, 1000 * (i + 1))));
    blocks.push_back(allocate_published(pool, prefixes.back())[0]);
  }
  for (BlockId b : blocks) pool.release(std::span(&b, 1));
  // Touch B: acquire and release moves it to the most recently used end.
  std::vector<BlockId> touched;
  ASSERT_EQ(pool.acquire_cached_prefix(prefixes[1], touched), 1);
  EXPECT_EQ(pool.n_cached_free(), 3);
  pool.release(touched);
  // Eviction order: A, C, D, B.
  const std::vector<BlockId> expected = {blocks[0], blocks[2], blocks[3], blocks[1]};
  for (size_t i = 0; i < expected.size(); ++i) {
    std::vector<BlockId> out;
    ASSERT_TRUE(pool.allocate(1, out));
    EXPECT_EQ(out[0], expected[i]) << "eviction " << i;
  }
  EXPECT_EQ(pool.stats().evictions, 4);
  EXPECT_EQ(pool.n_cached_free(), 0);
  for (const auto& prefix : prefixes) EXPECT_EQ(pool.count_cached_prefix(prefix), 0);
}

TEST(BlockPool, AcquireFromMiddleOfLruKeepsListConsistent) {
  BlockPool pool(5, kBlockSize, kSeed);
  std::vector<std::vector<BlockHash>> prefixes;
  std::vector<BlockId> blocks;
  for (int i = 0; i < 5; ++i) {
    prefixes.push_back(pool.block_hashes(iota_tokens(4, 50 * i)));
    blocks.push_back(allocate_published(pool, prefixes.back())[0]);
  }
  for (BlockId b : blocks) pool.release(std::span(&b, 1));
  // Take out the middle, the head and the tail of the LRU.
  std::vector<BlockId> held;
  for (int i : {2, 0, 4}) ASSERT_EQ(pool.acquire_cached_prefix(prefixes[i], held), 1);
  EXPECT_EQ(pool.n_cached_free(), 2);
  std::vector<BlockId> out;
  ASSERT_TRUE(pool.allocate(2, out));
  EXPECT_EQ(out, (std::vector<BlockId>{blocks[1], blocks[3]}));
  EXPECT_FALSE(pool.allocate(1, out));
  pool.release(held);  // walked last to first: 4, 0, 2 enter the LRU in that order
  out.clear();
  ASSERT_TRUE(pool.allocate(3, out));
  EXPECT_EQ(out, (std::vector<BlockId>{blocks[4], blocks[0], blocks[2]}));
}

TEST(BlockPool, HashesAreChainedAndSeeded) {
  BlockPool pool(1, kBlockSize, kSeed);
  auto tokens = iota_tokens(13);
  auto h = pool.block_hashes(tokens);
  ASSERT_EQ(h.size(), 3u);                  // the partial block has no hash
  EXPECT_EQ(pool.block_hashes(tokens), h);  // deterministic
  EXPECT_NE(h[0], h[1]);
  EXPECT_NE(h[1], h[2]);

  // Another pool with the same seed agrees; another seed (model / layout) differs everywhere.
  BlockPool same(2, kBlockSize, kSeed);
  EXPECT_EQ(same.block_hashes(tokens), h);
  BlockPool other_seed(1, kBlockSize, kSeed + 1);
  auto o = other_seed.block_hashes(tokens);
  for (size_t i = 0; i < h.size(); ++i) EXPECT_NE(o[i], h[i]) << i;

  // Changing a token of block 0 changes every later hash: the chain carries the prefix.
  auto changed = tokens;
  changed[1] += 1;
  auto c = pool.block_hashes(changed);
  for (size_t i = 0; i < h.size(); ++i) EXPECT_NE(c[i], h[i]) << i;
  // Changing a token of block 1 leaves block 0 alone.
  changed = tokens;
  changed[kBlockSize + 3] = -7;
  c = pool.block_hashes(changed);
  EXPECT_EQ(c[0], h[0]);
  EXPECT_NE(c[1], h[1]);
  EXPECT_NE(c[2], h[2]);

  // Same block content after a different prefix hashes differently.
  std::vector<int32_t> ab = {1, 2, 3, 4, 9, 9, 9, 9};
  std::vector<int32_t> cb = {5, 6, 7, 8, 9, 9, 9, 9};
  EXPECT_NE(pool.block_hashes(ab)[1], pool.block_hashes(cb)[1]);
  // Token order within a block matters.
  std::vector<int32_t> swapped = {2, 1, 3, 4};
  EXPECT_NE(pool.block_hashes(swapped)[0], pool.block_hashes(ab)[0]);
}

TEST(BlockPool, ExtendBlockHashesMatchesWholeComputation) {
  BlockPool pool(1, kBlockSize, kSeed);
  auto tokens = iota_tokens(21);
  const auto whole = pool.block_hashes(tokens);
  std::vector<BlockHash> grown;
  // Grow token by token, as during generation.
  for (size_t n = 0; n <= tokens.size(); ++n) {
    pool.extend_block_hashes(std::span(tokens).first(n), grown);
    EXPECT_EQ(grown.size(), n / kBlockSize);
  }
  EXPECT_EQ(grown, whole);
  EXPECT_TRUE(pool.block_hashes(std::span(tokens).first(3)).empty());
}

TEST(BlockPool, BlockSizeChangesHashes) {
  BlockPool four(1, 4, kSeed);
  BlockPool eight(1, 8, kSeed);
  auto tokens = iota_tokens(8);
  EXPECT_NE(four.block_hashes(tokens)[1], eight.block_hashes(tokens)[0]);
}

}  // namespace
}  // namespace mx
