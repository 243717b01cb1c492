#include "kvstore/ssd_tier.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include "kvstore/block_file.h"

namespace mx {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Writes all of `data` at the file's current offset; false with errno set on failure.
bool write_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Reads exactly `size` bytes; returns how many were read (less: the file is short).
size_t read_all(int fd, uint8_t* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace

Result<std::unique_ptr<SsdTier>> SsdTier::open(const std::string& root, uint64_t layout_seed,
                                               size_t block_bytes, int64_t capacity_bytes) {
  std::unique_ptr<SsdTier> tier(new SsdTier());
  tier->folder_ = (fs::path(root) / fmt::format("{:016x}", layout_seed)).string();
  tier->layout_seed_ = layout_seed;
  tier->block_bytes_ = block_bytes;
  tier->file_bytes_ = static_cast<int64_t>(kBlockFileHeaderBytes + block_bytes);
  tier->capacity_bytes_ = capacity_bytes;
  tier->stats_.tier = "ssd";
  tier->stats_.capacity_bytes = capacity_bytes;
  std::error_code ec;
  fs::create_directories(tier->folder_, ec);
  if (ec) {
    return make_error(ErrorCode::kIoError,
                      "cannot create the SSD KV cache folder {}: {} (check --data-dir and its "
                      "permissions, or turn the SSD tier off with --kv-ssd-size 0)",
                      tier->folder_, ec.message());
  }
  MX_RETURN_IF_ERROR(tier->rebuild_index());
  return tier;
}

// Names and sizes only: wrong-sized files are truncated or foreign (deleted), leftovers of
// interrupted writes (*.tmp) are deleted; the rest enter the LRU oldest first by mtime.
Status SsdTier::rebuild_index() {
  const auto start = Clock::now();
  std::vector<std::pair<fs::file_time_type, BlockHash>> found;
  std::error_code ec;
  for (fs::directory_iterator it(folder_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    BlockHash hash = 0;
    std::error_code stat_ec;
    if (!parse_block_file_name(name, hash)) {
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
        fs::remove(it->path(), stat_ec);
      }
      continue;
    }
    const auto size = it->file_size(stat_ec);
    if (stat_ec || static_cast<int64_t>(size) != file_bytes_) {
      fs::remove(it->path(), stat_ec);
      ++stats_.bad_blocks;
      continue;
    }
    found.emplace_back(it->last_write_time(stat_ec), hash);
  }
  if (ec) {
    return make_error(ErrorCode::kIoError, "cannot list the SSD KV cache folder {}: {}",
                      folder_, ec.message());
  }
  std::sort(found.begin(), found.end());
  std::lock_guard lock(mutex_);
  for (const auto& [time, hash] : found) index_[hash] = lru_.insert(lru_.end(), hash);
  files_at_open_ = static_cast<int64_t>(index_.size());
  evict_beyond_capacity_locked();
  stats_.blocks = static_cast<int64_t>(index_.size());
  stats_.used_bytes = stats_.blocks * file_bytes_;
  open_seconds_ = seconds_since(start);
  return ok_status();
}

std::string SsdTier::path_of(BlockHash hash) const {
  return (fs::path(folder_) / block_file_name(hash)).string();
}

bool SsdTier::holds(BlockHash hash) const {
  std::lock_guard lock(mutex_);
  return index_.count(hash) != 0;
}

void SsdTier::drop_locked(BlockHash hash, bool delete_file) {
  auto it = index_.find(hash);
  if (it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  if (delete_file) ::unlink(path_of(hash).c_str());
  stats_.blocks = static_cast<int64_t>(index_.size());
  stats_.used_bytes = stats_.blocks * file_bytes_;
}

void SsdTier::evict_beyond_capacity_locked() {
  while (!lru_.empty() && static_cast<int64_t>(index_.size()) * file_bytes_ > capacity_bytes_) {
    drop_locked(lru_.front(), true);
    ++stats_.evictions;
  }
}

Status SsdTier::write(BlockHash hash, std::span<const uint8_t> data) {
  if (data.size() != block_bytes_ || file_bytes_ > capacity_bytes_) {
    return make_error(ErrorCode::kInvalidArgument, "block of {} bytes does not fit the SSD tier",
                      data.size());
  }
  if (holds(hash)) return ok_status();
  const auto start = Clock::now();
  uint8_t header[kBlockFileHeaderBytes];
  encode_block_header(make_block_header(layout_seed_, hash, data), header);
  const std::string path = path_of(hash);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  // Synced, then dropped from the page cache: the SSD tier is the copy on disk; memory is the
  // host tier's job (and a benchmark of this tier then measures the disk, not the cache).
  bool ok = fd >= 0 && write_all(fd, header, sizeof header) &&
            write_all(fd, data.data(), data.size()) && ::fdatasync(fd) == 0;
  const int saved_errno = errno;
  if (ok) ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  if (fd >= 0) ok = ::close(fd) == 0 && ok;
  if (ok) ok = ::rename(tmp.c_str(), path.c_str()) == 0;
  std::lock_guard lock(mutex_);
  if (!ok) {
    ::unlink(tmp.c_str());
    ++stats_.io_errors;
    return make_error(ErrorCode::kIoError, "writing {} failed: {}", path,
                      std::strerror(saved_errno ? saved_errno : errno));
  }
  index_[hash] = lru_.insert(lru_.end(), hash);
  ++stats_.stores;
  stats_.bytes_written += file_bytes_;
  stats_.write_seconds += seconds_since(start);
  evict_beyond_capacity_locked();
  stats_.blocks = static_cast<int64_t>(index_.size());
  stats_.used_bytes = stats_.blocks * file_bytes_;
  return ok_status();
}

Status SsdTier::read(BlockHash hash, std::span<uint8_t> out) {
  const auto start = Clock::now();
  const std::string path = path_of(hash);
  auto bad = [&](Error error, bool corrupt) -> Status {
    std::lock_guard lock(mutex_);
    drop_locked(hash, true);
    ++(corrupt ? stats_.bad_blocks : stats_.io_errors);
    return error;
  };
  if (out.size() != block_bytes_) {
    return make_error(ErrorCode::kInvalidArgument, "read buffer of {} bytes", out.size());
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return bad(Error{ErrorCode::kNotFound, fmt::format("{}: {}", path, std::strerror(errno))},
               errno == ENOENT);
  }
  uint8_t header_bytes[kBlockFileHeaderBytes];
  const size_t got_header = read_all(fd, header_bytes, sizeof header_bytes);
  const size_t got = got_header == sizeof header_bytes ? read_all(fd, out.data(), out.size()) : 0;
  uint8_t extra;
  const bool longer = got == out.size() && read_all(fd, &extra, 1) == 1;
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);  // the block now lives in a host slot
  ::close(fd);
  BlockFileHeader header;
  if (got_header != sizeof header_bytes || got != out.size() || longer) {
    return bad(Error{ErrorCode::kCorruptData, fmt::format("{}: truncated or oversized", path)},
               true);
  }
  Status checked = check_block_header(header_bytes, layout_seed_, hash, block_bytes_, header);
  if (checked.ok()) checked = check_block_payload(header, out);
  if (!checked.ok()) return bad(checked.error().with_context(path), true);
  std::lock_guard lock(mutex_);
  auto it = index_.find(hash);
  if (it != index_.end()) lru_.splice(lru_.end(), lru_, it->second);
  stats_.bytes_read += file_bytes_;
  stats_.read_seconds += seconds_since(start);
  return ok_status();
}

KvTierStats SsdTier::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace mx
