// KvEventLog: the prefix cache's changes (KvBlockEvent: a hash published, a published block
// evicted) numbered 1, 2, 3, ... in the order the engine made them, for the frontends that
// route by prefix (cluster/prefix_index.h). Bounded: it keeps the newest `capacity` events; a
// reader that fell further behind (or starts) takes a snapshot instead — every hash published
// as of a sequence number, from the set of published hashes the log keeps up to date as events
// come (so a snapshot never looks into the engine's BlockPool).
//
// `log_id` names this log's history (random per log): a reader that followed another log (a
// previous process at the same address) must take a snapshot, whatever numbers it has seen.
//
// Threads: the engine thread appends once per step (O(events)); any thread reads. Listeners
// run on the appending thread after each append, outside the log's lock, and must not block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_set>
#include <vector>

#include "engine/block_pool.h"

namespace mx {

class KvEventLog {
 public:
  explicit KvEventLog(size_t capacity);

  uint64_t log_id() const { return log_id_; }
  size_t capacity() const { return capacity_; }
  uint64_t last_seq() const;  // the newest event's number; 0: none yet

  // Numbers `events` last_seq() + 1, ... and notifies the listeners.
  void append(std::span<const KvBlockEvent> events);

  // Up to `max` events after `after_seq` (empty: none yet). nullopt when the log no longer
  // holds event after_seq + 1 or has never reached after_seq: the reader needs a snapshot.
  std::optional<std::vector<KvBlockEvent>> read(uint64_t after_seq, size_t max) const;

  struct Snapshot {
    uint64_t seq = 0;               // the events it reflects: 1..seq
    std::vector<BlockHash> hashes;  // published after event `seq`, in no particular order
  };
  Snapshot snapshot() const;

  // Called after every append that added events; returns an id for remove_listener, which
  // waits for a call in progress to end.
  int add_listener(std::function<void()> listener);
  void remove_listener(int id);

 private:
  const size_t capacity_;
  const uint64_t log_id_;
  mutable std::mutex mutex_;
  std::deque<KvBlockEvent> events_;  // numbered first_seq_, first_seq_ + 1, ...
  uint64_t first_seq_ = 1;
  std::unordered_set<BlockHash> published_;
  std::mutex listeners_mutex_;
  std::map<int, std::function<void()>> listeners_;
  int next_listener_ = 1;
};

}  // namespace mx
