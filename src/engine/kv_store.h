// KvStore: the tiers under the compute tier's prefix cache (host memory, SSD; later the shared
// kvpool). Blocks are keyed by the prefix cache's chained content hashes (BlockPool), whose seed
// names the model, the KV layout and dtype and the block size, so blocks of another model or
// layout never match; a store also keeps each layout in its own namespace.
//
// The engine thread is the only caller. Implementations never block it on disk: offers are
// copied and written behind on their own threads, and blocks on disk are brought back into
// memory by prefetch() while the engine keeps running other sequences; a sequence whose prefix
// is coming back waits in the queue until lookup() says it is ready.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/block_pool.h"

namespace mx {

// Counters of one tier, cumulative since start.
struct KvTierStats {
  std::string tier;             // "host", "ssd"
  int64_t capacity_bytes = 0;
  int64_t used_bytes = 0;
  int64_t blocks = 0;           // held now
  int64_t hits = 0;             // blocks served from this tier
  int64_t misses = 0;           // blocks looked up and not found here (nor above)
  int64_t stores = 0;           // blocks written into this tier
  int64_t evictions = 0;        // blocks dropped for room
  int64_t bad_blocks = 0;       // corrupted, truncated or foreign blocks detected and dropped
  int64_t io_errors = 0;        // failed reads/writes (degraded to recompute)
  int64_t dropped_writes = 0;   // writes skipped because the writer was behind
  int64_t bytes_read = 0;
  int64_t bytes_written = 0;
  double read_seconds = 0;      // time spent reading / writing: bandwidth = bytes / seconds
  double write_seconds = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;

  // A block leaving the compute tier (evicted from the prefix cache), or a freshly published
  // one (persist = true: only kept below if a persistent tier exists, so a restarted server
  // still has it). `data` is copied before the call returns.
  virtual void offer(BlockHash hash, std::span<const uint8_t> data, bool persist) = 0;

  struct Lookup {
    int64_t ready = 0;    // leading blocks in memory now (read() will succeed unless evicted)
    int64_t found = 0;    // leading blocks held in any tier (>= ready)
    int64_t loading = 0;  // of the found ones, reads from disk in flight
  };
  // How many of the leading `hashes` the store holds (counts nothing).
  virtual Lookup lookup(std::span<const BlockHash> hashes) = 0;
  // Starts bringing the leading `hashes` held on disk into memory; returns at once, with how
  // many reads it started (0: nothing more can come: all in memory, in flight, or no room).
  virtual int64_t prefetch(std::span<const BlockHash> hashes) = 0;
  // Copies a ready block into `out` (block bytes). False if it is not ready, gone, or failed its
  // checksum: the caller recomputes it. A success counts a hit of the tier the block came from.
  virtual bool read(BlockHash hash, std::span<uint8_t> out) = 0;
  // Blocks of an admitted prefix that no tier had (the engine computes them): counted as misses.
  virtual void count_misses(int64_t blocks) = 0;

  virtual std::vector<KvTierStats> stats() const = 0;
};

}  // namespace mx
