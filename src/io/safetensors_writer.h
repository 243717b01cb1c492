// Writes a .safetensors file: 8-byte little-endian header length, a JSON header (padded with
// spaces to a multiple of 8 bytes, as the reference implementation does), then the tensors'
// bytes back to back in the order given. Tensor bytes come from a producer callback, one tensor
// at a time, so a multi-GB model never has to be in memory at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"

namespace mx {

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;    // F32, F16, BF16, F8_E4M3, I8..I64, F64
  std::vector<int64_t> shape;  // outermost first
};

// Produces the bytes of entry i (exactly numel * element size of them).
using SafetensorsProducer = std::function<Status(size_t index, std::vector<uint8_t>& bytes)>;

Status write_safetensors(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                         const SafetensorsProducer& produce,
                         const std::map<std::string, std::string>& metadata = {});

// The safetensors spelling of a dtype ("F32", "BF16", "F8_E4M3", ...); "" if it has none.
std::string safetensors_dtype_name(DType dtype);

}  // namespace mx
