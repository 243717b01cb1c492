// PrefixIndex: which prefix blocks each worker holds in its prefix cache, as the frontend knows
// from the workers' KV events (engine/kv_event_log.h, the KvEvents stream) — a pure data
// structure, tested without processes; the cluster client feeds it and the router asks it.
//
// Per worker: the set of its published block hashes, the log it follows (log id, worker epoch)
// and the number of the last event applied. Events must come in order: a gap, another log or a
// new epoch forgets the worker's hashes and asks for a snapshot (kNeedsSnapshot: resubscribe
// from 0); a snapshot replaces the set. Until a snapshot has ended the worker counts as
// holding nothing.
//
// A prefix just routed to a worker is not published there until its prefill runs; note_routed
// remembers its hashes for a short while (until `expires`) so that the requests right behind it
// go to the same worker instead of computing the same prefix elsewhere.
//
// Hashes are the engine's chained block hashes (chain_block_hashes), which depend on the
// worker's block size and seed (its layout): the caller computes them per layout; a worker
// whose layout is unknown (seed 0: prefix caching off, or an older worker) is never queried.
//
// Not thread-safe: the caller locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/block_pool.h"

namespace mx {

struct PrefixLayout {
  int64_t block_size = 0;
  uint64_t seed = 0;
  bool known() const { return block_size > 0 && seed != 0; }
  bool operator==(const PrefixLayout&) const = default;
};

class PrefixIndex {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Applied { kOk, kNeedsSnapshot };

  // Where a (re)subscription starts: the log followed and its last event applied (0: none,
  // a snapshot comes first).
  struct Cursor {
    uint64_t log_id = 0;
    uint64_t after_seq = 0;
  };

  // From the worker's status; a changed layout forgets its hashes (and asks for a snapshot).
  void set_layout(const std::string& worker, PrefixLayout layout);
  PrefixLayout layout(const std::string& worker) const;

  // A snapshot: begin forgets what is known and follows (epoch, log_id); the hashes come in
  // one or more parts; end makes them count, as of event `seq`.
  void begin_snapshot(const std::string& worker, uint64_t epoch, uint64_t log_id);
  void add_snapshot_hashes(const std::string& worker, std::span<const BlockHash> hashes);
  Applied end_snapshot(const std::string& worker, uint64_t seq);
  // Events numbered first_seq, first_seq + 1, ... of log `log_id` at `epoch`.
  Applied apply_events(const std::string& worker, uint64_t epoch, uint64_t log_id,
                       uint64_t first_seq, std::span<const KvBlockEvent> events);
  // Forgets the worker's hashes and cursor (its next subscription starts from a snapshot).
  void reset(const std::string& worker);
  void drop(const std::string& worker);  // left the view
  // Drops every worker not in `workers`.
  void retain(std::span<const std::string> workers);

  Cursor cursor(const std::string& worker) const;
  bool ready(const std::string& worker) const;       // a snapshot has ended since the last reset
  size_t n_hashes(const std::string& worker) const;  // published hashes known

  // How many leading `hashes` (the worker's layout's) the worker holds, counting those noted
  // as routed there that have not expired by `now`.
  int64_t cached_blocks(const std::string& worker, std::span<const BlockHash> hashes,
                        Clock::time_point now) const;
  void note_routed(const std::string& worker, std::span<const BlockHash> hashes,
                   Clock::time_point expires, Clock::time_point now);

 private:
  struct WorkerState {
    PrefixLayout layout;
    uint64_t epoch = 0;
    uint64_t log_id = 0;
    uint64_t last_seq = 0;
    bool in_snapshot = false;
    bool ready = false;
    std::unordered_set<BlockHash> hashes;
    std::unordered_map<BlockHash, Clock::time_point> routed;  // noted, until the time given
  };
  static void forget(WorkerState& state);

  std::unordered_map<std::string, WorkerState> workers_;
};

}  // namespace mx
