#include "kvstore/block_file.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <cstring>

namespace mx {
namespace {

constexpr char kMagic[8] = {'M', 'X', 'K', 'V', 'B', 'L', 'K', '1'};

uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // little-endian hosts only (x86-64), as the KV bytes themselves
  return v;
}

}  // namespace

std::string block_file_name(uint64_t hash) { return fmt::format("{:016x}.kvb", hash); }

bool parse_block_file_name(const std::string& name, uint64_t& hash) {
  if (name.size() != 20 || name.compare(16, 4, ".kvb") != 0) return false;
  uint64_t value = 0;
  for (size_t i = 0; i < 16; ++i) {
    const char c = name[i];
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return false;
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  hash = value;
  return true;
}

BlockFileHeader make_block_header(uint64_t layout_seed, uint64_t hash,
                                  std::span<const uint8_t> payload) {
  return BlockFileHeader{layout_seed, hash, payload.size(),
                         XXH3_64bits(payload.data(), payload.size())};
}

void encode_block_header(const BlockFileHeader& header, uint8_t* out) {
  std::memcpy(out, kMagic, 8);
  std::memcpy(out + 8, &header.layout_seed, 8);
  std::memcpy(out + 16, &header.hash, 8);
  std::memcpy(out + 24, &header.payload_bytes, 8);
  std::memcpy(out + 32, &header.checksum, 8);
}

Status check_block_header(const uint8_t* bytes, uint64_t layout_seed, uint64_t hash,
                          uint64_t payload_bytes, BlockFileHeader& out) {
  if (std::memcmp(bytes, kMagic, 8) != 0) {
    return make_error(ErrorCode::kCorruptData, "not a KV block file (bad magic)");
  }
  out = BlockFileHeader{load_u64(bytes + 8), load_u64(bytes + 16), load_u64(bytes + 24),
                        load_u64(bytes + 32)};
  if (out.layout_seed != layout_seed || out.hash != hash) {
    return make_error(ErrorCode::kCorruptData,
                      "KV block file of another layout or block ({:016x}/{:016x}, expected "
                      "{:016x}/{:016x})",
                      out.layout_seed, out.hash, layout_seed, hash);
  }
  if (out.payload_bytes != payload_bytes) {
    return make_error(ErrorCode::kCorruptData, "KV block file holds {} bytes, expected {}",
                      out.payload_bytes, payload_bytes);
  }
  return ok_status();
}

Status check_block_payload(const BlockFileHeader& header, std::span<const uint8_t> payload) {
  if (payload.size() != header.payload_bytes ||
      XXH3_64bits(payload.data(), payload.size()) != header.checksum) {
    return make_error(ErrorCode::kCorruptData, "KV block {:016x} failed its checksum",
                      header.hash);
  }
  return ok_status();
}

}  // namespace mx
