#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <numeric>

#include "kvstore/block_file.h"
#include "kvstore/host_tier.h"
#include "kvstore/ssd_tier.h"
#include "kvstore/tiered_store.h"

namespace mx {
namespace {

namespace fs = std::filesystem;
constexpr size_t kBlock = 1000;  // odd size on purpose
constexpr uint64_t kSeed = 0xabcdef0123456789ull;

std::vector<uint8_t> block_of(uint64_t hash) {
  std::vector<uint8_t> data(kBlock);
  for (size_t i = 0; i < kBlock; ++i) data[i] = static_cast<uint8_t>(hash * 31 + i * 7);
  return data;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("mx_kvstore_" + std::to_string(::getpid()) + "_" +
                                         std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

TEST(BlockFile, NamesRoundTripAndRejectOthers) {
  uint64_t hash = 0;
  EXPECT_TRUE(parse_block_file_name(block_file_name(0x00ff00ff12345678ull), hash));
  EXPECT_EQ(hash, 0x00ff00ff12345678ull);
  for (const char* bad : {"x.kvb", "00ff00ff1234567.kvb", "00ff00ff12345678.tmp",
                          "00FF00FF12345678.kvb", "00ff00ff12345678.kvb.tmp"}) {
    EXPECT_FALSE(parse_block_file_name(bad, hash)) << bad;
  }
}

TEST(BlockFile, HeaderChecksLayoutHashSizeAndPayload) {
  auto data = block_of(5);
  uint8_t bytes[kBlockFileHeaderBytes];
  encode_block_header(make_block_header(kSeed, 5, data), bytes);
  BlockFileHeader header;
  ASSERT_TRUE(check_block_header(bytes, kSeed, 5, kBlock, header).ok());
  EXPECT_TRUE(check_block_payload(header, data).ok());
  EXPECT_FALSE(check_block_header(bytes, kSeed + 1, 5, kBlock, header).ok());  // other layout
  EXPECT_FALSE(check_block_header(bytes, kSeed, 6, kBlock, header).ok());      // other block
  EXPECT_FALSE(check_block_header(bytes, kSeed, 5, kBlock + 1, header).ok());
  ASSERT_TRUE(check_block_header(bytes, kSeed, 5, kBlock, header).ok());
  data[999] ^= 1;
  EXPECT_FALSE(check_block_payload(header, data).ok());
  bytes[0] = 'X';
  EXPECT_FALSE(check_block_header(bytes, kSeed, 5, kBlock, header).ok());
}

TEST(HostTier, LeastRecentlyUsedIsEvictedAndFillingSlotsArePinned) {
  HostTier host(3 * kBlock + 10, kBlock);
  ASSERT_EQ(host.capacity_blocks(), 3);
  for (uint64_t h = 1; h <= 3; ++h) ASSERT_TRUE(host.put(h, block_of(h)));
  std::vector<uint8_t> out(kBlock);
  bool from_disk = true;
  ASSERT_TRUE(host.read(1, out, &from_disk));  // 1 is now the most recent: 2 goes first
  EXPECT_EQ(out, block_of(1));
  EXPECT_FALSE(from_disk);
  ASSERT_TRUE(host.put(4, block_of(4)));
  EXPECT_FALSE(host.holds(2));
  EXPECT_TRUE(host.ready(1) && host.ready(3) && host.ready(4));
  uint8_t* slot = host.begin_fill(5);  // evicts 3
  ASSERT_NE(slot, nullptr);
  EXPECT_FALSE(host.holds(3));
  EXPECT_TRUE(host.filling(5));
  EXPECT_FALSE(host.read(5, out, nullptr));
  ASSERT_NE(host.begin_fill(6), nullptr);  // evicts 1
  ASSERT_NE(host.begin_fill(7), nullptr);  // evicts 4
  EXPECT_EQ(host.begin_fill(8), nullptr);  // all three slots filling: nothing evictable
  EXPECT_FALSE(host.put(8, block_of(8)));
  auto data5 = block_of(5);
  std::copy(data5.begin(), data5.end(), slot);
  host.end_fill(5, true);
  host.end_fill(6, false);  // a failed read frees its slot
  EXPECT_FALSE(host.holds(6));
  ASSERT_TRUE(host.read(5, out, &from_disk));
  EXPECT_EQ(out, data5);
  EXPECT_TRUE(from_disk);
  ASSERT_TRUE(host.read(5, out, &from_disk));
  EXPECT_FALSE(from_disk);  // read once: resident now
  EXPECT_EQ(host.evictions(), 4);
}

TEST(HostTier, PrefetchNeverEvictsStagedBlocksButOffersMay) {
  HostTier host(2 * kBlock, kBlock);
  ASSERT_NE(host.begin_fill(1), nullptr);
  ASSERT_NE(host.begin_fill(2), nullptr);
  host.end_fill(1, true);
  host.end_fill(2, true);
  // A long prefix coming back must not evict its own beginning...
  EXPECT_EQ(host.begin_fill(3), nullptr);
  EXPECT_TRUE(host.ready(1) && host.ready(2));
  // ...but blocks leaving the compute tier take the oldest staged slot when nothing else is left.
  ASSERT_TRUE(host.put(4, block_of(4)));
  EXPECT_FALSE(host.holds(1));
  EXPECT_TRUE(host.ready(2) && host.ready(4));
}

TEST(HostTier, ZeroCapacityHoldsNothing) {
  HostTier host(kBlock - 1, kBlock);
  EXPECT_EQ(host.capacity_blocks(), 0);
  EXPECT_FALSE(host.put(1, block_of(1)));
  EXPECT_EQ(host.begin_fill(1), nullptr);
}

TEST(SsdTier, WritesReadsAndRebuildsItsIndex) {
  TempDir dir;
  {
    auto ssd = SsdTier::open(dir.str(), kSeed, kBlock, 100 * kBlock);
    ASSERT_TRUE(ssd.ok()) << ssd.error().message;
    for (uint64_t h = 1; h <= 5; ++h) ASSERT_TRUE((*ssd)->write(h, block_of(h)).ok());
    EXPECT_EQ((*ssd)->stats().blocks, 5);
  }
  // Leftovers of an interrupted write and stray files do not count.
  const std::string folder = dir.str() + "/abcdef0123456789";
  std::ofstream(folder + "/0000000000000009.kvb.tmp") << "partial";
  std::ofstream(folder + "/notes.txt") << "hello";
  auto ssd = SsdTier::open(dir.str(), kSeed, kBlock, 100 * kBlock);
  ASSERT_TRUE(ssd.ok());
  EXPECT_EQ((*ssd)->files_at_open(), 5);
  EXPECT_FALSE(fs::exists(folder + "/0000000000000009.kvb.tmp"));
  std::vector<uint8_t> out(kBlock);
  for (uint64_t h = 1; h <= 5; ++h) {
    ASSERT_TRUE((*ssd)->read(h, out).ok());
    EXPECT_EQ(out, block_of(h));
  }
  // Another layout sees none of them.
  auto other = SsdTier::open(dir.str(), kSeed + 1, kBlock, 100 * kBlock);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->files_at_open(), 0);
}

TEST(SsdTier, CorruptedTruncatedDeletedAndForeignFilesAreDroppedAndCounted) {
  TempDir dir;
  auto ssd = SsdTier::open(dir.str(), kSeed, kBlock, 100 * kBlock);
  ASSERT_TRUE(ssd.ok());
  for (uint64_t h = 1; h <= 4; ++h) ASSERT_TRUE((*ssd)->write(h, block_of(h)).ok());
  const std::string folder = (*ssd)->folder();
  auto path = [&](uint64_t h) { return folder + "/" + block_file_name(h); };
  {  // flip one payload byte
    std::fstream f(path(1), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(kBlockFileHeaderBytes + 500);
    f.put('\x5a');
  }
  fs::resize_file(path(2), kBlockFileHeaderBytes + 10);
  fs::remove(path(3));
  fs::copy_file(path(4), path(5));  // a valid file under the wrong name
  std::vector<uint8_t> out(kBlock);
  EXPECT_FALSE((*ssd)->read(1, out).ok());
  EXPECT_FALSE((*ssd)->read(2, out).ok());
  EXPECT_FALSE((*ssd)->read(3, out).ok());
  EXPECT_FALSE((*ssd)->holds(1) || (*ssd)->holds(2) || (*ssd)->holds(3));
  EXPECT_FALSE(fs::exists(path(1)) || fs::exists(path(2)));
  EXPECT_EQ((*ssd)->stats().bad_blocks, 3);
  // The foreign copy is found at the next open (right size) and rejected when read.
  auto reopened = SsdTier::open(dir.str(), kSeed, kBlock, 100 * kBlock);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->holds(5));
  EXPECT_FALSE((*reopened)->read(5, out).ok());
  EXPECT_TRUE((*reopened)->read(4, out).ok());
  EXPECT_EQ(out, block_of(4));
}

TEST(SsdTier, CapacityEvictsLeastRecentlyUsedFiles) {
  TempDir dir;
  const int64_t file = static_cast<int64_t>(kBlock + kBlockFileHeaderBytes);
  auto ssd = SsdTier::open(dir.str(), kSeed, kBlock, 3 * file);
  ASSERT_TRUE(ssd.ok());
  std::vector<uint8_t> out(kBlock);
  for (uint64_t h = 1; h <= 3; ++h) ASSERT_TRUE((*ssd)->write(h, block_of(h)).ok());
  ASSERT_TRUE((*ssd)->read(1, out).ok());  // 2 is now the oldest
  ASSERT_TRUE((*ssd)->write(4, block_of(4)).ok());
  EXPECT_FALSE((*ssd)->holds(2));
  EXPECT_FALSE(fs::exists((*ssd)->folder() + "/" + block_file_name(2)));
  EXPECT_TRUE((*ssd)->holds(1) && (*ssd)->holds(3) && (*ssd)->holds(4));
  EXPECT_EQ((*ssd)->stats().evictions, 1);
  EXPECT_EQ((*ssd)->stats().used_bytes, 3 * file);
}

TEST(SsdTier, UnusableFolderIsAClearError) {
  TempDir dir;
  std::ofstream(dir.str() + "/a_file") << "x";  // a folder cannot be made under a file
  auto ssd = SsdTier::open(dir.str() + "/a_file/kv", kSeed, kBlock, 100 * kBlock);
  ASSERT_FALSE(ssd.ok());
  EXPECT_NE(ssd.error().message.find("--kv-ssd-size 0"), std::string::npos);
}

TEST(TieredKvStore, HostTierServesEvictedBlocks) {
  TieredKvStoreConfig config;
  config.host_bytes = 4 * kBlock;
  auto store = TieredKvStore::open(config, kSeed, kBlock);
  ASSERT_TRUE(store.ok());
  std::vector<BlockHash> chain = {11, 12, 13};
  for (BlockHash h : chain) (*store)->offer(h, block_of(h), /*persist=*/false);
  (*store)->offer(99, block_of(99), /*persist=*/true);  // no persistent tier: ignored
  auto found = (*store)->lookup(std::vector<BlockHash>{11, 12, 13, 99});
  EXPECT_EQ(found.ready, 3);
  EXPECT_EQ(found.found, 3);
  std::vector<uint8_t> out(kBlock);
  ASSERT_TRUE((*store)->read(12, out));
  EXPECT_EQ(out, block_of(12));
  EXPECT_FALSE((*store)->read(99, out));
  (*store)->count_misses(2);
  auto stats = (*store)->stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].hits, 1);
  EXPECT_EQ(stats[0].misses, 2);
  EXPECT_EQ(stats[0].stores, 3);
}

TEST(TieredKvStore, SsdTierKeepsBlocksAcrossRestartsAndPrefetchesThem) {
  TempDir dir;
  TieredKvStoreConfig config;
  config.host_bytes = 0;  // staging slots only
  config.ssd_root = dir.str();
  config.ssd_bytes = 1 << 20;
  std::vector<BlockHash> chain = {21, 22, 23, 24};
  {
    auto store = TieredKvStore::open(config, kSeed, kBlock);
    ASSERT_TRUE(store.ok()) << store.error().message;
    for (BlockHash h : chain) (*store)->offer(h, block_of(h), /*persist=*/true);
    (*store)->drain();
  }
  auto store = TieredKvStore::open(config, kSeed, kBlock);  // a restarted server
  ASSERT_TRUE(store.ok());
  auto found = (*store)->lookup(chain);
  EXPECT_EQ(found.found, 4);
  EXPECT_EQ(found.ready, 0);
  (*store)->prefetch(chain);
  (*store)->drain();
  found = (*store)->lookup(chain);
  EXPECT_EQ(found.ready, 4);
  std::vector<uint8_t> out(kBlock);
  for (BlockHash h : chain) {
    ASSERT_TRUE((*store)->read(h, out));
    EXPECT_EQ(out, block_of(h));
  }
  auto stats = (*store)->stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[1].tier, "ssd");
  EXPECT_EQ(stats[1].hits, 4);
  EXPECT_GT(stats[1].bytes_read, 4 * static_cast<int64_t>(kBlock));
}

TEST(TieredKvStore, ACorruptedDiskBlockIsNeverServed) {
  TempDir dir;
  TieredKvStoreConfig config;
  config.ssd_root = dir.str();
  config.ssd_bytes = 1 << 20;
  std::vector<BlockHash> chain = {31, 32, 33};
  std::string folder;
  {
    auto store = TieredKvStore::open(config, kSeed, kBlock);
    ASSERT_TRUE(store.ok());
    for (BlockHash h : chain) (*store)->offer(h, block_of(h), true);
    (*store)->drain();
    folder = (*store)->ssd()->folder();
  }
  {
    std::fstream f(folder + "/" + block_file_name(32), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(kBlockFileHeaderBytes + 3);
    f.put('\x01');
  }
  auto store = TieredKvStore::open(config, kSeed, kBlock);
  ASSERT_TRUE(store.ok());
  (*store)->prefetch(chain);
  (*store)->drain();
  auto found = (*store)->lookup(chain);
  EXPECT_EQ(found.ready, 1);  // 31; 32 was dropped, so the chain stops there
  EXPECT_EQ(found.found, 1);
  std::vector<uint8_t> out(kBlock);
  EXPECT_FALSE((*store)->read(32, out));
  EXPECT_EQ((*store)->stats()[1].bad_blocks, 1);
}

TEST(TieredKvStore, WriteErrorsAreCountedAndNothingElseChanges) {
  TempDir dir;
  TieredKvStoreConfig config;
  config.ssd_root = dir.str();
  config.ssd_bytes = 1 << 20;
  auto store = TieredKvStore::open(config, kSeed, kBlock);
  ASSERT_TRUE(store.ok());
  fs::remove_all((*store)->ssd()->folder());  // the disk goes away under the server
  (*store)->offer(41, block_of(41), true);
  (*store)->drain();
  auto ssd = (*store)->stats()[1];
  EXPECT_EQ(ssd.io_errors, 1);
  EXPECT_EQ(ssd.stores, 0);
  EXPECT_EQ((*store)->lookup(std::vector<BlockHash>{41}).found, 0);
}

TEST(TieredKvStore, AFullWriteQueueDropsInsteadOfWaiting) {
  TempDir dir;
  TieredKvStoreConfig config;
  config.ssd_root = dir.str();
  config.ssd_bytes = 1 << 20;
  config.max_pending_bytes = 1;  // one block at a time
  auto store = TieredKvStore::open(config, kSeed, kBlock);
  ASSERT_TRUE(store.ok());
  for (BlockHash h = 100; h < 400; ++h) (*store)->offer(h, block_of(h), true);
  (*store)->drain();
  auto ssd = (*store)->stats()[1];
  EXPECT_EQ(ssd.stores + ssd.dropped_writes, 300);
  EXPECT_GT(ssd.stores, 0);
}

}  // namespace
}  // namespace mx
