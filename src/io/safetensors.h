// Safetensors: one file of named tensors, parsed and validated in place (zero copy).
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON, then the data section.
// The JSON maps tensor names to {"dtype": "BF16", "shape": [rows, cols], "data_offsets":
// [begin, end)} with offsets in bytes relative to the data section, plus an optional
// "__metadata__" object of string → string (e.g. {"format": "pt"}).
//
// Invariants of a parsed SafetensorsFile (everything is checked before it is returned; a file
// that breaks any of them is an error that names the file, the tensor and what is wrong):
//  - 8 + N <= file size, and N <= kMaxSafetensorsHeaderBytes;
//  - tensor names are unique, non-empty, and never "__metadata__";
//  - shape is outermost-first (PyTorch order), rank <= kMaxSafetensorsRank, every dimension
//    in [0, kMaxSafetensorsDim]; numel * element size fits in 64 bits;
//  - begin <= end, the range lies inside the data section, end - begin == numel * element size;
//  - the byte ranges of non-empty tensors do not overlap (gaps are allowed).
// Tensor data is not aligned beyond 1 byte by the format (writers usually align to the element
// size, but nothing guarantees it): readers of `data` must not assume more.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/status.h"

namespace mx {

inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;  // 100 MiB of JSON
inline constexpr size_t kMaxSafetensorsRank = 8;
inline constexpr int64_t kMaxSafetensorsDim = int64_t{1} << 48;

struct SafetensorsTensor {
  std::string name;
  std::string dtype_name;      // as written in the file: "BF16", "F8_E4M3", "BOOL", ...
  std::optional<DType> dtype;  // nullopt for U8 and BOOL: valid safetensors, no mxserve DType
  uint32_t elem_bytes = 0;     // bytes per element
  std::vector<int64_t> shape;  // outermost first
  uint64_t offset = 0;         // absolute byte offset of the data in the file
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // points into the mapping / buffer (nullptr when nbytes == 0)

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;  // cannot overflow: checked when parsed
    return n;
  }
};

// Element size in bytes of a safetensors dtype name ("F32" → 4); nullopt when unknown.
std::optional<uint32_t> safetensors_elem_bytes(std::string_view dtype_name);
// The mxserve DType of a safetensors dtype name; nullopt when unknown or not representable.
std::optional<DType> safetensors_dtype(std::string_view dtype_name);

class SafetensorsFile {
 public:
  // Maps `path` and parses it. The mapping lives as long as this object or any copy of file().
  static Result<SafetensorsFile> open(const std::string& path);
  // Parses an already mapped file.
  static Result<SafetensorsFile> parse(std::shared_ptr<const MappedFile> file);
  // Parses a caller-owned buffer (tests, fuzzing): `data` must outlive the result. `name` is
  // used in error messages in place of a path.
  static Result<SafetensorsFile> parse_buffer(const uint8_t* data, size_t size, std::string name);

  const std::string& path() const { return path_; }
  // Tensors sorted by name.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t header_bytes() const { return header_bytes_; }  // N, the JSON length
  uint64_t data_start() const { return 8 + header_bytes_; }
  // The mapping (nullptr for parse_buffer): WeightMap::keep_alive holds it for the tensors.
  const std::shared_ptr<const MappedFile>& file() const { return file_; }

 private:
  std::string path_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
  uint64_t header_bytes_ = 0;
  std::shared_ptr<const MappedFile> file_;
};

}  // namespace mx
