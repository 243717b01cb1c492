// HostTier: KV blocks in host memory — a fixed arena of block-sized slots, keyed by block hash.
// Two recency lists: resident blocks (offered from the compute tier, or read at least once) and
// staged blocks (brought back from disk by a prefetch and not read yet). A slot being filled
// from disk is "filling": neither readable nor evictable until end_fill. Room is made by
// evicting the least recently used resident block; a prefetch never evicts a staged block (so
// a long prefix coming back cannot evict its own beginning), an offer may when nothing else is
// left. Not thread-safe: TieredKvStore locks around it (the copy into a filling slot happens
// outside that lock; the slot is pinned meanwhile).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/kv_store.h"

namespace mx {

class HostTier {
 public:
  HostTier(int64_t capacity_bytes, size_t block_bytes);

  int64_t capacity_blocks() const { return n_slots_; }
  int64_t n_blocks() const { return static_cast<int64_t>(slot_of_.size()); }
  bool ready(BlockHash hash) const;    // held and readable
  bool holds(BlockHash hash) const;    // held, ready or filling
  bool filling(BlockHash hash) const;

  // Copies `data` in (a block already held is only touched). False when no slot can be freed
  // (capacity 0, or every slot filling).
  bool put(BlockHash hash, std::span<const uint8_t> data);
  // Reserves a slot for a block coming from disk: the caller writes block_bytes into the
  // returned memory, then calls end_fill. nullptr when held already or no resident block can
  // be evicted.
  uint8_t* begin_fill(BlockHash hash);
  uint8_t* fill_slot(BlockHash hash);      // the memory of a filling slot, else nullptr
  void end_fill(BlockHash hash, bool ok);  // ok: staged; not ok: the slot is freed
  // Copies a ready block out; it becomes the most recently used resident block. from_disk:
  // whether it was staged (came from disk and had not been read).
  bool read(BlockHash hash, std::span<uint8_t> out, bool* from_disk);

  int64_t evictions() const { return evictions_; }

 private:
  using List = std::list<int64_t>;
  struct Slot {
    BlockHash hash = 0;
    List* list = nullptr;  // resident_, staged_, or nullptr while filling
    List::iterator pos;
  };
  int64_t take_slot(bool may_evict_staged);  // a free slot, else an evicted one; -1: none
  void move_to_back(int64_t slot, List& list);

  size_t block_bytes_;
  int64_t n_slots_;
  std::unique_ptr<uint8_t[]> arena_;
  std::vector<Slot> slots_;
  std::vector<int64_t> free_slots_;
  std::unordered_map<BlockHash, int64_t> slot_of_;
  List resident_;  // front: least recently used
  List staged_;    // front: staged longest ago
  int64_t evictions_ = 0;
};

}  // namespace mx
