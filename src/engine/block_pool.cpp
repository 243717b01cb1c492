#include "engine/block_pool.h"

#include <xxhash.h>

#include <cstdio>
#include <cstdlib>

namespace mx {
namespace {

// Misuse by the engine (releasing a free block, publishing an unreferenced one) would corrupt
// the pool silently, so it stops the process in every build type, not only with assertions.
void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "BlockPool invariant violated: %s\n", what);
    std::abort();
  }
}

// hash[i] = XXH3(tokens of block i, seed = hash[i-1]): the previous hash seeds the next, so a
// block's hash depends on every token before it, and hash[-1] = layout_seed on the model.
BlockHash hash_block(std::span<const int32_t> block_tokens, BlockHash previous) {
  return XXH3_64bits_withSeed(block_tokens.data(), block_tokens.size_bytes(), previous);
}

}  // namespace

void chain_block_hashes(std::span<const int32_t> tokens, int64_t block_size, uint64_t layout_seed,
                        std::vector<BlockHash>& hashes) {
  const size_t block = static_cast<size_t>(block_size);
  const size_t n_full = tokens.size() / block;
  BlockHash previous = hashes.empty() ? layout_seed : hashes.back();
  for (size_t i = hashes.size(); i < n_full; ++i) {
    previous = hash_block(tokens.subspan(i * block, block), previous);
    hashes.push_back(previous);
  }
}

BlockPool::BlockPool(int64_t n_blocks, int64_t block_size, uint64_t layout_seed)
    : block_size_(block_size),
      layout_seed_(layout_seed),
      ref_counts_(n_blocks, 0),
      hash_of_(n_blocks, 0),
      published_(n_blocks, 0),
      lru_prev_(n_blocks, kNone),
      lru_next_(n_blocks, kNone) {
  check(n_blocks >= 0 && block_size >= 1, "n_blocks >= 0 and block_size >= 1");
  empty_free_.reserve(n_blocks);
  // Reversed so that blocks are handed out 0, 1, 2, ... from a fresh pool.
  for (int64_t i = n_blocks - 1; i >= 0; --i) empty_free_.push_back(static_cast<BlockId>(i));
}

int64_t BlockPool::n_blocks() const { return static_cast<int64_t>(ref_counts_.size()); }
int64_t BlockPool::block_size() const { return block_size_; }
uint64_t BlockPool::layout_seed() const { return layout_seed_; }
int64_t BlockPool::n_free() const {
  return static_cast<int64_t>(empty_free_.size()) + n_cached_free_;
}
int64_t BlockPool::n_cached_free() const { return n_cached_free_; }
int64_t BlockPool::n_used() const { return n_blocks() - n_free(); }
const BlockPoolStats& BlockPool::stats() const { return stats_; }

int64_t BlockPool::ref_count(BlockId block) const {
  check(block >= 0 && block < n_blocks(), "block id in range");
  return ref_counts_[block];
}

int64_t BlockPool::count_shared(std::span<const BlockId> blocks) const {
  int64_t n_shared = 0;
  for (BlockId block : blocks) n_shared += ref_count(block) > 1 ? 1 : 0;
  return n_shared;
}

bool BlockPool::is_published(BlockId block) const {
  check(block >= 0 && block < n_blocks(), "block id in range");
  return published_[block] != 0;
}

std::vector<BlockHash> BlockPool::block_hashes(std::span<const int32_t> tokens) const {
  std::vector<BlockHash> hashes;
  extend_block_hashes(tokens, hashes);
  return hashes;
}

void BlockPool::extend_block_hashes(std::span<const int32_t> tokens,
                                    std::vector<BlockHash>& hashes) const {
  chain_block_hashes(tokens, block_size_, layout_seed_, hashes);
}

int64_t BlockPool::count_cached_prefix(std::span<const BlockHash> hashes,
                                       int64_t* in_use_out) const {
  int64_t n_cached = 0;
  int64_t n_in_use = 0;
  for (BlockHash hash : hashes) {
    auto it = block_of_hash_.find(hash);
    if (it == block_of_hash_.end()) break;
    ++n_cached;
    if (ref_counts_[it->second] > 0) ++n_in_use;
  }
  if (in_use_out != nullptr) *in_use_out = n_in_use;
  return n_cached;
}

int64_t BlockPool::acquire_cached_prefix(std::span<const BlockHash> hashes,
                                         std::vector<BlockId>& out) {
  stats_.prefix_queries += static_cast<int64_t>(hashes.size());
  int64_t n_acquired = 0;
  for (BlockHash hash : hashes) {
    auto it = block_of_hash_.find(hash);
    if (it == block_of_hash_.end()) break;
    const BlockId block = it->second;
    if (ref_counts_[block] == 0) lru_remove(block);  // cached-free → referenced
    ++ref_counts_[block];
    out.push_back(block);
    ++n_acquired;
  }
  stats_.prefix_hits += n_acquired;
  return n_acquired;
}

bool BlockPool::allocate(int64_t n, std::vector<BlockId>& out) {
  if (n < 0 || n > n_free()) return false;
  for (int64_t i = 0; i < n; ++i) {
    const BlockId block = take_free_block();
    ref_counts_[block] = 1;
    out.push_back(block);
  }
  return true;
}

BlockId BlockPool::take_free_block() {
  if (!empty_free_.empty()) {
    const BlockId block = empty_free_.back();
    empty_free_.pop_back();
    return block;
  }
  const BlockId block = lru_head_;  // least recently used cached-free block
  check(block != kNone, "a free block exists when n <= n_free()");
  lru_remove(block);
  if (on_evict_) on_evict_(block, hash_of_[block]);
  forget_hash(block);
  ++stats_.evictions;
  return block;
}

bool BlockPool::publish(BlockId block, BlockHash hash) {
  check(block >= 0 && block < n_blocks(), "block id in range");
  check(ref_counts_[block] > 0, "only a referenced block is published");
  if (published_[block]) return hash_of_[block] == hash;
  // First published wins: a duplicate stays unpublished and is freed as empty.
  if (!block_of_hash_.emplace(hash, block).second) return false;
  published_[block] = 1;
  hash_of_[block] = hash;
  if (record_events_) events_.push_back(KvBlockEvent{hash, false});
  return true;
}

void BlockPool::release(std::span<const BlockId> blocks) {
  // Last to first: the table's tail enters the LRU first, so it is evicted first.
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    const BlockId block = *it;
    check(block >= 0 && block < n_blocks(), "block id in range");
    check(ref_counts_[block] > 0, "release of a referenced block");
    if (--ref_counts_[block] > 0) continue;
    if (published_[block]) {
      lru_push_back(block);
    } else {
      empty_free_.push_back(block);
    }
  }
}

void BlockPool::lru_push_back(BlockId block) {
  lru_prev_[block] = lru_tail_;
  lru_next_[block] = kNone;
  if (lru_tail_ != kNone) {
    lru_next_[lru_tail_] = block;
  } else {
    lru_head_ = block;
  }
  lru_tail_ = block;
  ++n_cached_free_;
}

void BlockPool::lru_remove(BlockId block) {
  const BlockId prev = lru_prev_[block];
  const BlockId next = lru_next_[block];
  if (prev != kNone) {
    lru_next_[prev] = next;
  } else {
    lru_head_ = next;
  }
  if (next != kNone) {
    lru_prev_[next] = prev;
  } else {
    lru_tail_ = prev;
  }
  lru_prev_[block] = kNone;
  lru_next_[block] = kNone;
  --n_cached_free_;
}

void BlockPool::set_on_evict(std::function<void(BlockId, BlockHash)> on_evict) {
  on_evict_ = std::move(on_evict);
}

void BlockPool::set_record_events(bool record) {
  record_events_ = record;
  if (!record) events_.clear();
}

void BlockPool::take_events(std::vector<KvBlockEvent>& out) {
  out.insert(out.end(), events_.begin(), events_.end());
  events_.clear();
}

void BlockPool::forget_hash(BlockId block) {
  if (record_events_) events_.push_back(KvBlockEvent{hash_of_[block], true});
  block_of_hash_.erase(hash_of_[block]);
  published_[block] = 0;
  hash_of_[block] = 0;
}

}  // namespace mx
