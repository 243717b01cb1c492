// BlockPool: the bookkeeping of the paged KV cache's blocks (their memory is KvCacheStorage).
//
// Every block is in exactly one of three states:
//   - referenced: held by one or more sequences (ref count > 0);
//   - cached-free: ref count 0 but still holding a published prefix (its content hash maps to
//     it); kept in an LRU and evicted (hash forgotten) only when a fresh block is needed;
//   - empty-free: ref count 0, no content.
// n_free() counts both free kinds: a cached-free block can be handed out at any time.
//
// Prefix reuse: a sequence's full token blocks get chained content hashes —
// hash[i] = H(hash[i-1], tokens of block i), hash[-1] = layout_seed — where layout_seed names
// the model and KV layout (so blocks of another model or dtype never match). Once a block's
// KV has been written, the engine publishes it under its hash; a later sequence with the same
// leading tokens acquires those blocks instead of recomputing them. A block is published under
// at most one hash, and a hash maps to at most one block (the first published wins; a second
// block with the same content stays unpublished and is freed normally).
//
// Not thread-safe: owned by the engine thread.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>
#include <vector>

namespace mx {

using BlockId = int32_t;
using BlockHash = uint64_t;

// A change to the set of published hashes, for the frontends' prefix indexes (KvEventLog):
// `hash` was published (stored) or its block's content was dropped for reuse (removed).
struct KvBlockEvent {
  BlockHash hash = 0;
  bool removed = false;
  bool operator==(const KvBlockEvent&) const = default;
};

// Extends `hashes` (the chain of tokens[0, hashes.size() * block_size)) over the further full
// blocks of `tokens`: hash[i] = XXH3(tokens of block i, seed = hash[i-1]), hash[-1] =
// layout_seed. BlockPool's hashes; a frontend computes the same ones from a tokenized prompt.
void chain_block_hashes(std::span<const int32_t> tokens, int64_t block_size, uint64_t layout_seed,
                        std::vector<BlockHash>& hashes);

struct BlockPoolStats {
  int64_t prefix_queries = 0;  // hashes passed to acquire_cached_prefix (blocks asked for)
  int64_t prefix_hits = 0;     // of those, found cached (the acquired prefix)
  int64_t evictions = 0;       // cached-free blocks whose content was dropped for reuse
};

class BlockPool {
 public:
  BlockPool(int64_t n_blocks, int64_t block_size, uint64_t layout_seed);

  int64_t n_blocks() const;
  int64_t block_size() const;
  uint64_t layout_seed() const;
  int64_t n_free() const;         // empty-free + cached-free
  int64_t n_cached_free() const;  // free blocks still holding a published prefix
  int64_t n_used() const;         // referenced
  int64_t ref_count(BlockId block) const;
  // How many of `blocks` are also referenced elsewhere (ref count > 1): releasing the table
  // would not free them (SequenceView::n_blocks_shared).
  int64_t count_shared(std::span<const BlockId> blocks) const;
  const BlockPoolStats& stats() const;

  // Chained hashes of the full blocks of `tokens` (tokens.size() / block_size of them).
  std::vector<BlockHash> block_hashes(std::span<const int32_t> tokens) const;
  // Extends `hashes` (the chain of tokens[0, hashes.size() * block_size)) over the further full
  // blocks of `tokens`; for sequences whose tokens grow during generation.
  void extend_block_hashes(std::span<const int32_t> tokens, std::vector<BlockHash>& hashes) const;

  // How many leading hashes are published, without taking references.
  // in_use_out (optional): how many of those are referenced (cost no free block to acquire).
  int64_t count_cached_prefix(std::span<const BlockHash> hashes,
                              int64_t* in_use_out = nullptr) const;
  // The longest published prefix of `hashes`: appends its blocks to `out` and takes a reference
  // on each (a cached-free block leaves the LRU). Returns how many blocks were appended.
  int64_t acquire_cached_prefix(std::span<const BlockHash> hashes, std::vector<BlockId>& out);

  // Appends n fresh blocks (ref count 1) to `out`, evicting least-recently-used cached-free
  // blocks when no empty block is left. Returns false, changing nothing, if n > n_free().
  bool allocate(int64_t n, std::vector<BlockId>& out);

  // Publishes a full, written, referenced block under `hash` (see above for duplicates).
  // Returns true if `block` is now published under `hash`; false if the hash already names
  // another block or `block` is already published under another hash (nothing changes).
  bool publish(BlockId block, BlockHash hash);
  // Whether `block` is published (its hash maps to it).
  bool is_published(BlockId block) const;

  // Called with a cached-free block and its hash right before its content is dropped for
  // reuse (the block's KV bytes are still intact): the tiers below take a copy (KvStore).
  void set_on_evict(std::function<void(BlockId, BlockHash)> on_evict);

  // Off by default. On: every publish of a new hash and every eviction of a published block is
  // recorded, in order, until take_events() moves them out (the engine does after each step:
  // the cost is O(events), never a scan of the pool).
  void set_record_events(bool record);
  void take_events(std::vector<KvBlockEvent>& out);

  // Drops one reference on each block. A block reaching zero becomes cached-free (most recently
  // used end of the LRU) if published, else empty-free. Pass a sequence's whole block table:
  // it is walked from last to first, so a prefix's later blocks are evicted before its earlier
  // ones (an evicted early block would make the later ones unreachable anyway).
  void release(std::span<const BlockId> blocks);

 private:
  static constexpr BlockId kNone = -1;

  void lru_push_back(BlockId block);  // most recently used end
  void lru_remove(BlockId block);
  BlockId take_free_block();  // an empty block, else the LRU's oldest (evicted)
  void forget_hash(BlockId block);

  int64_t block_size_;
  uint64_t layout_seed_;
  std::vector<int32_t> ref_counts_;  // [n_blocks]
  std::vector<BlockHash> hash_of_;   // [n_blocks], valid where published_
  std::vector<uint8_t> published_;   // [n_blocks]
  std::unordered_map<BlockHash, BlockId> block_of_hash_;
  // Intrusive doubly linked LRU of cached-free blocks: head is the least recently used.
  std::vector<BlockId> lru_prev_;  // [n_blocks], kNone at the head / when not in the LRU
  std::vector<BlockId> lru_next_;  // [n_blocks], kNone at the tail / when not in the LRU
  BlockId lru_head_ = kNone;
  BlockId lru_tail_ = kNone;
  int64_t n_cached_free_ = 0;
  std::vector<BlockId> empty_free_;  // stack; back() is handed out next
  BlockPoolStats stats_;
  std::function<void(BlockId, BlockHash)> on_evict_;
  bool record_events_ = false;
  std::vector<KvBlockEvent> events_;
};

}  // namespace mx
