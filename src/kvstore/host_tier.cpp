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
  return it != slot_of_.end() && slots_[it->second].list != nullptr;
}

bool HostTier::holds(BlockHash hash) const { return slot_of_.count(hash) != 0; }

bool HostTier::filling(BlockHash hash) const { return holds(hash) && !ready(hash); }

void HostTier::move_to_back(int64_t slot, List& list) {
  Slot& s = slots_[slot];
  if (s.list != nullptr) s.list->erase(s.pos);
  s.list = &list;
  s.pos = list.insert(list.end(), slot);
}

int64_t HostTier::take_slot(bool may_evict_staged) {
  if (!free_slots_.empty()) {
    const int64_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  List* victims = !resident_.empty() ? &resident_ : may_evict_staged ? &staged_ : nullptr;
  if (victims == nullptr || victims->empty()) return -1;
  const int64_t slot = victims->front();
  victims->pop_front();
  slots_[slot].list = nullptr;
  slot_of_.erase(slots_[slot].hash);
  ++evictions_;
  return slot;
}

bool HostTier::put(BlockHash hash, std::span<const uint8_t> data) {
  if (data.size() != block_bytes_) return false;
  auto it = slot_of_.find(hash);
  if (it != slot_of_.end()) {
    Slot& s = slots_[it->second];
    if (s.list == &resident_) move_to_back(it->second, resident_);
    return true;
  }
  const int64_t slot = take_slot(/*may_evict_staged=*/true);
  if (slot < 0) return false;
  std::memcpy(arena_.get() + slot * block_bytes_, data.data(), block_bytes_);
  slots_[slot].hash = hash;
  slot_of_[hash] = slot;
  move_to_back(slot, resident_);
  return true;
}

uint8_t* HostTier::begin_fill(BlockHash hash) {
  if (holds(hash)) return nullptr;
  const int64_t slot = take_slot(/*may_evict_staged=*/false);
  if (slot < 0) return nullptr;
  slots_[slot].hash = hash;
  slots_[slot].list = nullptr;
  slot_of_[hash] = slot;
  return arena_.get() + slot * block_bytes_;
}

uint8_t* HostTier::fill_slot(BlockHash hash) {
  auto it = slot_of_.find(hash);
  if (it == slot_of_.end() || slots_[it->second].list != nullptr) return nullptr;
  return arena_.get() + it->second * block_bytes_;
}

void HostTier::end_fill(BlockHash hash, bool ok) {
  auto it = slot_of_.find(hash);
  if (it == slot_of_.end() || slots_[it->second].list != nullptr) return;
  const int64_t slot = it->second;
  if (ok) {
    move_to_back(slot, staged_);
    return;
  }
  slot_of_.erase(it);
  free_slots_.push_back(slot);
}

bool HostTier::read(BlockHash hash, std::span<uint8_t> out, bool* from_disk) {
  auto it = slot_of_.find(hash);
  if (it == slot_of_.end() || out.size() != block_bytes_) return false;
  Slot& s = slots_[it->second];
  if (s.list == nullptr) return false;
  std::memcpy(out.data(), arena_.get() + it->second * block_bytes_, block_bytes_);
  if (from_disk) *from_disk = s.list == &staged_;
  move_to_back(it->second, resident_);
  return true;
}

}  // namespace mx
