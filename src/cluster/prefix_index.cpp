#include "cluster/prefix_index.h"

#include <algorithm>

namespace mx {

void PrefixIndex::forget(WorkerState& state) {
  state.hashes.clear();
  state.routed.clear();
  state.log_id = 0;
  state.last_seq = 0;
  state.in_snapshot = false;
  state.ready = false;
}

void PrefixIndex::set_layout(const std::string& worker, PrefixLayout layout) {
  WorkerState& state = workers_[worker];
  if (state.layout == layout) return;
  forget(state);
  state.layout = layout;
}

PrefixLayout PrefixIndex::layout(const std::string& worker) const {
  auto it = workers_.find(worker);
  return it == workers_.end() ? PrefixLayout{} : it->second.layout;
}

void PrefixIndex::begin_snapshot(const std::string& worker, uint64_t epoch, uint64_t log_id) {
  WorkerState& state = workers_[worker];
  state.hashes.clear();
  state.epoch = epoch;
  state.log_id = log_id;
  state.last_seq = 0;
  state.in_snapshot = true;
  state.ready = false;
}

void PrefixIndex::add_snapshot_hashes(const std::string& worker,
                                      std::span<const BlockHash> hashes) {
  auto it = workers_.find(worker);
  if (it == workers_.end() || !it->second.in_snapshot) return;
  it->second.hashes.insert(hashes.begin(), hashes.end());
}

PrefixIndex::Applied PrefixIndex::end_snapshot(const std::string& worker, uint64_t seq) {
  auto it = workers_.find(worker);
  if (it == workers_.end() || !it->second.in_snapshot) return Applied::kNeedsSnapshot;
  WorkerState& state = it->second;
  state.in_snapshot = false;
  state.ready = true;
  state.last_seq = seq;
  for (BlockHash hash : state.hashes) state.routed.erase(hash);
  return Applied::kOk;
}

PrefixIndex::Applied PrefixIndex::apply_events(const std::string& worker, uint64_t epoch,
                                               uint64_t log_id, uint64_t first_seq,
                                               std::span<const KvBlockEvent> events) {
  auto it = workers_.find(worker);
  if (it == workers_.end()) return Applied::kNeedsSnapshot;
  WorkerState& state = it->second;
  const bool follows = state.ready && state.epoch == epoch && state.log_id == log_id &&
                       first_seq == state.last_seq + 1;
  if (!follows) {
    forget(state);
    return Applied::kNeedsSnapshot;
  }
  for (const KvBlockEvent& event : events) {
    state.routed.erase(event.hash);  // the worker's word replaces the guess
    if (event.removed) {
      state.hashes.erase(event.hash);
    } else {
      state.hashes.insert(event.hash);
    }
  }
  state.last_seq += events.size();
  return Applied::kOk;
}

void PrefixIndex::reset(const std::string& worker) {
  auto it = workers_.find(worker);
  if (it != workers_.end()) forget(it->second);
}

void PrefixIndex::drop(const std::string& worker) { workers_.erase(worker); }

void PrefixIndex::retain(std::span<const std::string> workers) {
  std::erase_if(workers_, [&](const auto& entry) {
    return std::find(workers.begin(), workers.end(), entry.first) == workers.end();
  });
}

PrefixIndex::Cursor PrefixIndex::cursor(const std::string& worker) const {
  auto it = workers_.find(worker);
  if (it == workers_.end() || !it->second.ready) return Cursor{};
  return Cursor{it->second.log_id, it->second.last_seq};
}

bool PrefixIndex::ready(const std::string& worker) const {
  auto it = workers_.find(worker);
  return it != workers_.end() && it->second.ready;
}

size_t PrefixIndex::n_hashes(const std::string& worker) const {
  auto it = workers_.find(worker);
  return it == workers_.end() ? 0 : it->second.hashes.size();
}

int64_t PrefixIndex::cached_blocks(const std::string& worker, std::span<const BlockHash> hashes,
                                   Clock::time_point now) const {
  auto it = workers_.find(worker);
  if (it == workers_.end() || !it->second.layout.known()) return 0;
  const WorkerState& state = it->second;
  int64_t n = 0;
  for (BlockHash hash : hashes) {
    const bool stored = state.ready && state.hashes.contains(hash);
    if (!stored) {
      auto routed = state.routed.find(hash);
      if (routed == state.routed.end() || routed->second <= now) break;
    }
    ++n;
  }
  return n;
}

void PrefixIndex::note_routed(const std::string& worker, std::span<const BlockHash> hashes,
                              Clock::time_point expires, Clock::time_point now) {
  auto it = workers_.find(worker);
  if (it == workers_.end() || !it->second.layout.known()) return;
  WorkerState& state = it->second;
  // Expired guesses go when the map has grown: amortized O(1) per note.
  if (state.routed.size() > 4 * (state.hashes.size() + 1024)) {
    std::erase_if(state.routed, [&](const auto& entry) { return entry.second <= now; });
  }
  for (BlockHash hash : hashes) {
    if (state.hashes.contains(hash)) continue;
    Clock::time_point& until = state.routed[hash];
    until = std::max(until, expires);
  }
}

}  // namespace mx
