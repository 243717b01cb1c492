// SsdTier: KV blocks as files under <root>/<layout seed>/ (format in block_file.h), bounded in
// bytes, least recently used deleted first. The index (hash -> file) lives in memory and is
// rebuilt from the folder at open — names and sizes only, so a restart takes time proportional
// to the number of files, not their bytes; contents are verified by checksum when read.
// Thread-safe: the engine thread asks holds(); the store's I/O threads read and write.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

#include "core/status.h"
#include "engine/kv_store.h"

namespace mx {

class SsdTier {
 public:
  static Result<std::unique_ptr<SsdTier>> open(const std::string& root, uint64_t layout_seed,
                                               size_t block_bytes, int64_t capacity_bytes);

  const std::string& folder() const { return folder_; }
  bool holds(BlockHash hash) const;
  // Writes the block (to a temporary file, then renamed into place) and deletes the least
  // recently used files beyond the capacity. An error (disk full, I/O) leaves no file behind.
  Status write(BlockHash hash, std::span<const uint8_t> data);
  // Reads and verifies a block into `out`. A missing, truncated, foreign or corrupted file is
  // an error and is dropped from the index and the disk (counted as a bad block).
  Status read(BlockHash hash, std::span<uint8_t> out);

  KvTierStats stats() const;
  double open_seconds() const { return open_seconds_; }
  int64_t files_at_open() const { return files_at_open_; }

 private:
  SsdTier() = default;
  Status rebuild_index();
  std::string path_of(BlockHash hash) const;
  void drop_locked(BlockHash hash, bool delete_file);  // from index (and disk)
  void evict_beyond_capacity_locked();

  std::string folder_;
  uint64_t layout_seed_ = 0;
  size_t block_bytes_ = 0;
  int64_t file_bytes_ = 0;
  int64_t capacity_bytes_ = 0;
  double open_seconds_ = 0;
  int64_t files_at_open_ = 0;

  mutable std::mutex mutex_;
  std::list<BlockHash> lru_;  // front: least recently used
  std::unordered_map<BlockHash, std::list<BlockHash>::iterator> index_;
  KvTierStats stats_;
};

}  // namespace mx
