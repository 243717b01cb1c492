// The SSD tier's restart cost and read bandwidth: writes GB gigabytes of KV block files through
// SsdTier (synced, dropped from the page cache, as the server writes them), then measures
//   - index rebuild: SsdTier::open over the folder (what a restarted server pays), after
//     dropping the kernel's dentry/inode and page caches when permitted (root);
//   - read bandwidth: SsdTier::read of READ_GB gigabytes of those blocks (checksums verified).
// Prints one JSON object. Usage:
//   bench_kvstore --dir DIR [--gb 10] [--block-bytes 3670016] [--read-gb 2] [--keep]
// (3670016 bytes = one 32-token block of the Qwen3-0.6B-shaped model in f16.)
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kvstore/ssd_tier.h"

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool drop_caches() {
  ::sync();
  std::ofstream f("/proc/sys/vm/drop_caches");
  if (!f) return false;
  f << "3\n";
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  double gb = 10, read_gb = 2;
  size_t block_bytes = 3670016;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--dir") dir = next();
    else if (a == "--gb") gb = std::stod(next());
    else if (a == "--read-gb") read_gb = std::stod(next());
    else if (a == "--block-bytes") block_bytes = std::stoul(next());
    else if (a == "--keep") keep = true;
    else {
      fmt::print(stderr, "unknown argument {}\n", a);
      return 2;
    }
  }
  if (dir.empty()) {
    fmt::print(stderr, "usage: bench_kvstore --dir DIR [--gb 10] [--block-bytes N] [--read-gb 2]\n");
    return 2;
  }
  const uint64_t seed = 0x5eed;
  const int64_t n_blocks = static_cast<int64_t>(gb * 1e9 / static_cast<double>(block_bytes));
  const int64_t capacity = static_cast<int64_t>(gb * 1.1e9) + (1 << 20);
  std::vector<uint8_t> data(block_bytes);
  std::mt19937_64 rng(1);
  for (size_t i = 0; i + 8 <= data.size(); i += 8) {
    const uint64_t v = rng();
    std::memcpy(&data[i], &v, 8);
  }
  double write_seconds = 0;
  {
    auto tier = mx::SsdTier::open(dir, seed, block_bytes, capacity);
    if (!tier.ok()) {
      fmt::print(stderr, "{}\n", tier.error().message);
      return 1;
    }
    const auto start = Clock::now();
    for (int64_t b = (*tier)->files_at_open(); b < n_blocks; ++b) {
      std::memcpy(data.data(), &b, sizeof b);  // every block distinct
      auto written = (*tier)->write(static_cast<uint64_t>(b) * 0x9e3779b97f4a7c15ull + 1, data);
      if (!written.ok()) {
        fmt::print(stderr, "{}\n", written.error().message);
        return 1;
      }
    }
    write_seconds = since(start);
  }
  const bool dropped = drop_caches();
  const auto open_start = Clock::now();
  auto tier = mx::SsdTier::open(dir, seed, block_bytes, capacity);
  const double open_seconds = since(open_start);
  if (!tier.ok()) return 1;
  const int64_t to_read = std::min<int64_t>(
      n_blocks, static_cast<int64_t>(read_gb * 1e9 / static_cast<double>(block_bytes)));
  drop_caches();
  const auto read_start = Clock::now();
  for (int64_t b = 0; b < to_read; ++b) {
    if (!(*tier)->read(static_cast<uint64_t>(b) * 0x9e3779b97f4a7c15ull + 1, data).ok()) {
      fmt::print(stderr, "block {} failed to read back\n", b);
      return 1;
    }
  }
  const double read_seconds = since(read_start);
  const double file_bytes = static_cast<double>(block_bytes + 40);
  fmt::print(
      "{{\"blocks\":{},\"block_bytes\":{},\"total_bytes\":{:.0f},\"write_bytes_per_s\":{:.0f},"
      "\"index_rebuild_seconds\":{:.4f},\"files_indexed\":{},\"caches_dropped\":{},"
      "\"read_blocks\":{},\"read_bytes_per_s\":{:.0f}}}\n",
      n_blocks, block_bytes, n_blocks * file_bytes,
      write_seconds > 0 ? n_blocks * file_bytes / write_seconds : 0.0, open_seconds,
      (*tier)->files_at_open(), dropped, to_read, to_read * file_bytes / read_seconds);
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}
