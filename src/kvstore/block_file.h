// The SSD tier's file format: one file per KV block, named by its chained content hash, in a
// folder per layout (so a model or layout change never reads another's blocks):
//   <dir>/<layout seed, 16 hex>/<hash, 16 hex>.kvb
// The file is a 40-byte header — magic "MXKVBLK1", layout seed, block hash, payload bytes,
// XXH3-64 of the payload — then the payload (the block's bytes as KvCacheStorage holds them).
// A file whose size, header or checksum does not match is foreign, truncated or corrupted:
// the reader reports it and the tier deletes it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace mx {

struct BlockFileHeader {
  uint64_t layout_seed = 0;
  uint64_t hash = 0;
  uint64_t payload_bytes = 0;
  uint64_t checksum = 0;
};

inline constexpr size_t kBlockFileHeaderBytes = 40;

std::string block_file_name(uint64_t hash);                // "0123456789abcdef.kvb"
bool parse_block_file_name(const std::string& name, uint64_t& hash);

// The header for `payload` (computes the checksum) and its 40 bytes.
BlockFileHeader make_block_header(uint64_t layout_seed, uint64_t hash,
                                  std::span<const uint8_t> payload);
void encode_block_header(const BlockFileHeader& header, uint8_t* out);

// Checks a file's header bytes against what the reader expects; then the payload's checksum.
Status check_block_header(const uint8_t* bytes, uint64_t layout_seed, uint64_t hash,
                          uint64_t payload_bytes, BlockFileHeader& out);
Status check_block_payload(const BlockFileHeader& header, std::span<const uint8_t> payload);

}  // namespace mx
