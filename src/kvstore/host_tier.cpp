#include "kvstore/host_tier.h"

#include <cstring>

namespace mx {

HostTier::HostTier(int64_t capacity_bytes, size_t block_bytes)
    : block_bytes_(block_bytes),
      n_slots_(block_bytes > 0 ? capacity_bytes / static_cast<int64_t>(block_bytes) : 0) {
  if (n_slots_ < 0) n_slots_ = 0;
  arena_ = std::make_unique<uint8_t[]>(static_cast<size_t>(n_slots_) * block_bytes_);
  slots_.resize(static_cast<size_t>(n_slots_));
  for (int64_t i = n_slots_ - 1; i >= 0; --i) free_slots_.push_back(i);
}

bool HostTier::ready(BlockHash hash) const {
  auto it = slot_of_.find(hash);
  return it != slot_of_.end() && !slots_[it->second].filling;
}

bool HostTier::holds(BlockHash hash) const { return slot_of_.count(hash) != 0; }

int64_t HostTier::take_slot() {
  if (!free_slots_.empty()) {
    const int64_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  if (lru_.empty()) return -1;
  const int64_t slot = lru_.front();
  lru_.pop_front();
  slot_of_.erase(slots_[slot].hash);
  ++evictions_;
  return slot;
}

bool HostTier::put(BlockHash hash, std::span<const uint8_t> data) {
  if (data.size() != block_bytes_) return false;
  auto it = slot_of_.find(hash);
  if (it != slot_of_.end()) {
    Slot& s = slots_[it->second];
    if (!s.filling) lru_.splice(lru_.end(), lru_, s.lru);
    return true;
  }
  const int64_t slot = take_slot();
  if (slot < 0) return false;
  std::memcpy(arena_.get() + slot * block_bytes_, data.data(), block_bytes_);
  Slot& s = slots_[slot];
  s = Slot{hash, false, false, lru_.insert(lru_.end(), slot)};
  slot_of_[hash] = slot;
  return true;
}

uint8_t* HostTier::begin_fill(BlockHash hash) {
  if (holds(hash)) return nullptr;
  const int64_t slot = take_slot();
  if (slot < 0) return nullptr;
  slots_[slot] = Slot{hash, true, true, lru_.end()};
  slot_of_[hash] = slot;
  return arena_.get() + slot * block_bytes_;
}

uint8_t* HostTier::fill_slot(BlockHash hash) {
  auto it = slot_of_.find(hash);
  if (it == slot_of_.end() || !slots_[it->second].filling) return nullptr;
  return arena_.get() + it->second * block_bytes_;
}

void HostTier::end_fill(BlockHash hash, bool ok) {
  auto it = slot_of_.find(hash);
  if (it == slot_of_.end() || !slots_[it->second].filling) return;
  const int64_t slot = it->second;
  Slot& s = slots_[slot];
  s.filling = false;
  if (ok) {
    s.lru = lru_.insert(lru_.end(), slot);
    return;
  }
  slot_of_.erase(it);
  free_slots_.push_back(slot);
}

bool HostTier::read(BlockHash hash, std::span<uint8_t> out) {
  auto it = slot_of_.find(hash);
  if (it == slot_of_.end() || out.size() != block_bytes_) return false;
  Slot& s = slots_[it->second];
  if (s.filling) return false;
  std::memcpy(out.data(), arena_.get() + it->second * block_bytes_, block_bytes_);
  lru_.splice(lru_.end(), lru_, s.lru);
  return true;
}

bool HostTier::take_from_disk_flag(BlockHash hash) {
  auto it = slot_of_.find(hash);
  if (it == slot_of_.end()) return false;
  const bool flag = slots_[it->second].from_disk;
  slots_[it->second].from_disk = false;
  return flag;
}

}  // namespace mx
