// TieredKvStore: the KvStore of one serving process — a HostTier in memory over an optional
// SsdTier on disk. Blocks evicted from the compute tier go to host memory; when the SSD tier is
// on, every block offered (evicted or freshly published) is also written behind to disk, so the
// disk holds the context cache across restarts. prefetch() reads disk blocks into host slots on
// a reader thread; a writer thread drains a bounded queue of block copies (full: the write is
// dropped and counted, never waited for). Corrupted or unreadable blocks are dropped, counted
// and recomputed by the engine; I/O errors are logged (rate-limited) and never fail a request.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "engine/kv_store.h"
#include "kvstore/host_tier.h"
#include "kvstore/ssd_tier.h"

namespace mx {

struct TieredKvStoreConfig {
  int64_t host_bytes = 0;        // 0: no host tier
  std::string ssd_root;          // folder for the SSD tier (a layout subfolder is made in it)
  int64_t ssd_bytes = 0;         // 0: no SSD tier
  int64_t max_pending_bytes = 256ll << 20;  // block copies queued for the disk writer
};

class TieredKvStore : public KvStore {
 public:
  // block_bytes: one block of KvCacheStorage; layout_seed: the prefix cache's hash seed.
  static Result<std::unique_ptr<TieredKvStore>> open(const TieredKvStoreConfig& config,
                                                     uint64_t layout_seed, size_t block_bytes);
  ~TieredKvStore() override;

  void offer(BlockHash hash, std::span<const uint8_t> data, bool persist) override;
  Lookup lookup(std::span<const BlockHash> hashes) override;
  int64_t prefetch(std::span<const BlockHash> hashes) override;
  bool read(BlockHash hash, std::span<uint8_t> out) override;
  void count_misses(int64_t blocks) override;
  std::vector<KvTierStats> stats() const override;

  // Blocks until queued writes and reads are done (tests, shutdown).
  void drain();
  const SsdTier* ssd() const { return ssd_.get(); }

 private:
  TieredKvStore(const TieredKvStoreConfig& config, size_t block_bytes, bool host_tier);
  int64_t max_pending_writes() const;  // at least one block
  void writer_loop();
  void reader_loop();
  void note_io_error(const Error& error);

  TieredKvStoreConfig config_;
  size_t block_bytes_;
  bool host_tier_;  // asked for; else the host slots only stage blocks read back from disk
  std::unique_ptr<SsdTier> ssd_;

  mutable std::mutex mutex_;  // host_, queues, counters below
  std::condition_variable wake_;
  std::condition_variable idle_;
  HostTier host_;
  struct PendingWrite {
    BlockHash hash;
    std::vector<uint8_t> data;
  };
  std::deque<PendingWrite> writes_;
  std::vector<std::vector<uint8_t>> spare_buffers_;  // recycled write copies
  std::unordered_set<BlockHash> queued_writes_;
  std::deque<BlockHash> reads_;
  int64_t busy_ = 0;  // I/O operations in flight
  bool stopping_ = false;
  KvTierStats host_stats_;
  int64_t ssd_hits_ = 0, ssd_misses_ = 0, dropped_writes_ = 0;
  std::chrono::steady_clock::time_point last_warning_{};
  std::thread writer_, reader_;
};

}  // namespace mx
