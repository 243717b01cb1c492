#include "io/safetensors_writer.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace mx {

std::string safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F64: return "F64";
    case DType::F8_E4M3: return "F8_E4M3";
    case DType::I8: return "I8";
    case DType::I16: return "I16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    default: return "";
  }
}

Status write_safetensors(const std::string& path, const std::vector<SafetensorsEntry>& entries,
                         const SafetensorsProducer& produce,
                         const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<uint64_t> sizes;
  uint64_t offset = 0;
  for (const SafetensorsEntry& entry : entries) {
    std::string dtype = safetensors_dtype_name(entry.dtype);
    if (dtype.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "{}: tensor '{}': dtype {} has no safetensors "
                        "spelling", path, entry.name, dtype_name(entry.dtype));
    }
    uint64_t numel = 1;
    for (int64_t d : entry.shape) numel *= static_cast<uint64_t>(d);
    uint64_t nbytes = numel * dtype_traits(entry.dtype)->block_bytes;
    header[entry.name] = {{"dtype", dtype}, {"shape", entry.shape},
                          {"data_offsets", {offset, offset + nbytes}}};
    sizes.push_back(nbytes);
    offset += nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return make_error(ErrorCode::kIoError, "{}: cannot create: {}", path, std::strerror(errno));
  }
  uint64_t header_len = text.size();
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(header_len >> (8 * i));
  out.write(reinterpret_cast<const char*>(len_bytes), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < entries.size(); ++i) {
    bytes.clear();
    MX_RETURN_IF_ERROR(produce(i, bytes));
    if (bytes.size() != sizes[i]) {
      return make_error(ErrorCode::kInternal, "{}: tensor '{}': produced {} bytes, expected {}",
                        path, entries[i].name, bytes.size(), sizes[i]);
    }
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  out.flush();
  if (!out) return make_error(ErrorCode::kIoError, "{}: write failed (disk full?)", path);
  return ok_status();
}

}  // namespace mx
