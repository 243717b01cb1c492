// HostTier: KV blocks in host memory — a fixed arena of block-sized slots, keyed by block hash,
// least recently used evicted first. A slot being filled from disk is "filling": neither
// readable nor evictable until end_fill. Not thread-safe: TieredKvStore locks around it (the
// copy into a filling slot happens outside that lock; the slot is pinned meanwhile).
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

  // Copies `data` in (a block already held is only touched). False when no slot can be freed
  // (capacity 0, or every slot filling).
  bool put(BlockHash hash, std::span<const uint8_t> data);
  // Reserves a slot for a block coming from disk: the caller writes block_bytes into the
  // returned memory, then calls end_fill. nullptr when held already or no slot can be freed.
  uint8_t* begin_fill(BlockHash hash);
  uint8_t* fill_slot(BlockHash hash);      // the memory of a filling slot, else nullptr
  void end_fill(BlockHash hash, bool ok);  // ok=false drops the slot
  // Copies a ready block out and marks it most recently used.
  bool read(BlockHash hash, std::span<uint8_t> out);
  // Whether the block came in by begin_fill (from disk) and has not been read since.
  bool take_from_disk_flag(BlockHash hash);

  int64_t evictions() const { return evictions_; }

 private:
  struct Slot {
    BlockHash hash = 0;
    bool filling = false;
    bool from_disk = false;
    std::list<int64_t>::iterator lru;  // position in lru_ (ready slots only)
  };
  int64_t take_slot();  // a free slot, else the least recently used ready one (evicted); -1

  size_t block_bytes_;
  int64_t n_slots_;
  std::unique_ptr<uint8_t[]> arena_;
  std::vector<Slot> slots_;
  std::vector<int64_t> free_slots_;
  std::unordered_map<BlockHash, int64_t> slot_of_;
  std::list<int64_t> lru_;  // front: least recently used
  int64_t evictions_ = 0;
};

}  // namespace mx
