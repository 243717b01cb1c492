#include "kvstore/tiered_store.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

namespace mx {
namespace {

using Clock = std::chrono::steady_clock;

// With an SSD tier, blocks come back from disk through host slots: keep at least this many
// even when no host tier was asked for.
constexpr int64_t kMinStagingBlocks = 64;

}  // namespace

Result<std::unique_ptr<TieredKvStore>> TieredKvStore::open(const TieredKvStoreConfig& config,
                                                           uint64_t layout_seed,
                                                           size_t block_bytes) {
  if (config.host_bytes < 0 || config.ssd_bytes < 0 || config.max_pending_bytes < 0 ||
      block_bytes == 0) {
    return make_error(ErrorCode::kInvalidArgument, "KV store: sizes must be positive");
  }
  TieredKvStoreConfig c = config;
  if (c.ssd_bytes > 0) {
    c.host_bytes = std::max<int64_t>(c.host_bytes,
                                     kMinStagingBlocks * static_cast<int64_t>(block_bytes));
  }
  std::unique_ptr<TieredKvStore> store(new TieredKvStore(c, block_bytes, config.host_bytes > 0));
  if (c.ssd_bytes > 0) {
    MX_ASSIGN_OR_RETURN(store->ssd_, SsdTier::open(c.ssd_root, layout_seed, block_bytes,
                                                   c.ssd_bytes));
    spdlog::info("KV SSD tier: {} ({} blocks found, index rebuilt in {:.3f} s), {} MiB",
                 store->ssd_->folder(), store->ssd_->files_at_open(), store->ssd_->open_seconds(),
                 c.ssd_bytes >> 20);
    store->writer_ = std::thread([s = store.get()] { s->writer_loop(); });
    store->reader_ = std::thread([s = store.get()] { s->reader_loop(); });
  }
  return store;
}

TieredKvStore::TieredKvStore(const TieredKvStoreConfig& config, size_t block_bytes,
                             bool host_tier)
    : config_(config),
      block_bytes_(block_bytes),
      host_tier_(host_tier),
      host_(config.host_bytes, block_bytes) {
  host_stats_.tier = "host";
  host_stats_.capacity_bytes = host_.capacity_blocks() * static_cast<int64_t>(block_bytes);
}

int64_t TieredKvStore::max_pending_writes() const {
  return std::max<int64_t>(1, config_.max_pending_bytes / static_cast<int64_t>(block_bytes_));
}

TieredKvStore::~TieredKvStore() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;  // the writer finishes its queue (bounded); pending reads are dropped
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (reader_.joinable()) reader_.join();
}

void TieredKvStore::offer(BlockHash hash, std::span<const uint8_t> data, bool persist) {
  if (data.size() != block_bytes_) return;
  std::lock_guard lock(mutex_);
  // Evicted blocks stay in memory only with a host tier: staging slots (SSD only) are kept for
  // blocks coming back from disk, which would otherwise be pushed out before they are read.
  if (!persist && host_tier_ && !host_.holds(hash)) {
    const auto start = Clock::now();
    if (host_.put(hash, data)) {
      ++host_stats_.stores;
      host_stats_.bytes_written += static_cast<int64_t>(block_bytes_);
      host_stats_.write_seconds += std::chrono::duration<double>(Clock::now() - start).count();
    }
  }
  if (!ssd_ || queued_writes_.count(hash) != 0 || ssd_->holds(hash)) return;
  if (static_cast<int64_t>(writes_.size()) >= max_pending_writes()) {
    ++dropped_writes_;
    return;
  }
  std::vector<uint8_t> copy;
  if (!spare_buffers_.empty()) {
    copy = std::move(spare_buffers_.back());
    spare_buffers_.pop_back();
  }
  copy.assign(data.begin(), data.end());
  writes_.push_back({hash, std::move(copy)});
  queued_writes_.insert(hash);
  wake_.notify_all();
}

KvStore::Lookup TieredKvStore::lookup(std::span<const BlockHash> hashes) {
  std::lock_guard lock(mutex_);
  Lookup result;
  bool leading_ready = true;
  for (BlockHash hash : hashes) {
    const bool ready = host_.ready(hash);
    const bool filling = host_.filling(hash);
    if (!ready && !filling && !(ssd_ && ssd_->holds(hash))) break;
    leading_ready = leading_ready && ready;
    if (leading_ready) ++result.ready;
    if (filling) ++result.loading;
    ++result.found;
  }
  return result;
}

int64_t TieredKvStore::prefetch(std::span<const BlockHash> hashes) {
  if (!ssd_) return 0;
  std::lock_guard lock(mutex_);
  int64_t issued = 0;
  for (BlockHash hash : hashes) {
    if (host_.holds(hash)) continue;
    if (!ssd_->holds(hash)) break;
    if (host_.begin_fill(hash) == nullptr) break;  // no room: the rest is recomputed
    reads_.push_back(hash);
    ++issued;
  }
  if (issued > 0) wake_.notify_all();
  return issued;
}

bool TieredKvStore::read(BlockHash hash, std::span<uint8_t> out) {
  std::lock_guard lock(mutex_);
  const auto start = Clock::now();
  bool from_disk = false;
  if (!host_.read(hash, out, &from_disk)) return false;
  if (from_disk) {
    ++ssd_hits_;
    ++host_stats_.misses;
  } else {
    ++host_stats_.hits;
  }
  host_stats_.bytes_read += static_cast<int64_t>(block_bytes_);
  host_stats_.read_seconds += std::chrono::duration<double>(Clock::now() - start).count();
  return true;
}

void TieredKvStore::count_misses(int64_t blocks) {
  std::lock_guard lock(mutex_);
  host_stats_.misses += blocks;
  ssd_misses_ += blocks;
}

std::vector<KvTierStats> TieredKvStore::stats() const {
  std::lock_guard lock(mutex_);
  KvTierStats host = host_stats_;
  host.blocks = host_.n_blocks();
  host.used_bytes = host.blocks * static_cast<int64_t>(block_bytes_);
  host.evictions = host_.evictions();
  std::vector<KvTierStats> out = {host};
  if (ssd_) {
    KvTierStats ssd = ssd_->stats();
    ssd.hits = ssd_hits_;
    ssd.misses = ssd_misses_;
    ssd.dropped_writes = dropped_writes_;
    out.push_back(ssd);
  }
  return out;
}

void TieredKvStore::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return writes_.empty() && reads_.empty() && busy_ == 0; });
}

void TieredKvStore::writer_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !writes_.empty(); });
    if (writes_.empty()) return;  // stopping and nothing left to write
    PendingWrite write = std::move(writes_.front());
    writes_.pop_front();
    ++busy_;
    lock.unlock();
    Status status = ssd_->write(write.hash, write.data);
    lock.lock();
    --busy_;
    queued_writes_.erase(write.hash);
    if (static_cast<int64_t>(spare_buffers_.size()) < max_pending_writes()) {
      spare_buffers_.push_back(std::move(write.data));
    }
    if (!status.ok()) note_io_error(status.error());
    idle_.notify_all();
  }
}

void TieredKvStore::reader_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !reads_.empty(); });
    if (stopping_) {
      for (BlockHash hash : reads_) host_.end_fill(hash, false);
      reads_.clear();
      idle_.notify_all();
      return;
    }
    const BlockHash hash = reads_.front();
    reads_.pop_front();
    uint8_t* slot = host_.fill_slot(hash);
    ++busy_;
    lock.unlock();
    Status status = slot != nullptr ? ssd_->read(hash, std::span<uint8_t>(slot, block_bytes_))
                                    : Status(make_error(ErrorCode::kInternal, "no slot"));
    lock.lock();
    --busy_;
    host_.end_fill(hash, status.ok());
    if (!status.ok() && status.error().code != ErrorCode::kCorruptData) {
      note_io_error(status.error());
    } else if (!status.ok()) {
      spdlog::warn("KV SSD tier: {}; dropped, it will be recomputed", status.error().message);
    }
    idle_.notify_all();
  }
}

void TieredKvStore::note_io_error(const Error& error) {
  const auto now = Clock::now();
  if (now - last_warning_ < std::chrono::seconds(10)) return;
  last_warning_ = now;
  spdlog::warn("KV SSD tier: {}; continuing without it for this block (recomputed if needed)",
               error.message);
}

}  // namespace mx
