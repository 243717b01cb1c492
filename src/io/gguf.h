// GGUF (v3, and v2 which has the same layout) reader: metadata and tensor directory of a
// llama.cpp model file, read in place from a memory mapping (no copies of tensor data, strings
// or arrays).
//
// File layout (little endian): "GGUF", version u32, tensor count u64, metadata count u64;
// metadata entries (key string, value type u32, value); tensor infos (name string, n_dims u32,
// ne[n_dims] u64, type u32, offset u64); padding to general.alignment (default 32); the data
// section, where each tensor starts at data_start + offset. A string is a u64 length + bytes.
//
// parse() validates the whole file before anything touches its memory: every count and length
// against the bytes that remain (so no count in a file can make us allocate much more than the
// file's size), value and tensor types, dimensions and their products, alignment, that every
// tensor's data lies inside the file and overlaps no other, and that keys and tensor names are
// unique. Any violation is an Error naming the file, the key or tensor, and the problem.
// A GgufFile (and every string_view, span or pointer it hands out) stays valid as long as the
// mapping does: the GgufFile keeps it alive; with parse_bytes the caller owns the bytes.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "core/status.h"
#include "io/weight_map.h"

namespace mx {

// Metadata value types, numbered as in the file.
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

std::string_view gguf_type_name(GgufType type);  // "uint32", "string", "array", ...
// Bytes of one value of a fixed-size type; 0 for string, array and unknown ids.
size_t gguf_fixed_size(GgufType type);
bool gguf_is_integer(GgufType type);

// One metadata value: a scalar, a string, or an array of one element type (arrays may nest).
// Strings and array contents point into the file; nothing is decoded until asked for.
class GgufValue {
 public:
  GgufType type() const { return type_; }
  bool is_array() const { return type_ == GgufType::kArray; }

  // Scalars. Each returns nullopt when the value is not of that kind or does not fit:
  // to_int64/to_uint64 accept every integer type (not bool), to_double accepts floats and
  // integers, to_bool only bool, to_string only strings.
  std::optional<int64_t> to_int64() const;
  std::optional<uint64_t> to_uint64() const;
  std::optional<double> to_double() const;
  std::optional<bool> to_bool() const;
  std::optional<std::string_view> to_string() const;

  // Arrays: the element type and count (0 for non-arrays).
  GgufType element_type() const { return element_type_; }
  uint64_t size() const { return count_; }
  // Element i of any array as a value (a scalar, a string, or a copy of a nested array).
  // Precondition: i < size().
  GgufValue element(uint64_t i) const;
  // Arrays of strings: every element, as views into the file (built once while parsing).
  std::span<const std::string_view> strings() const { return strings_; }
  // Arrays of arrays: the nested arrays.
  std::span<const GgufValue> arrays() const { return arrays_; }
  // Arrays of fixed-size elements: the raw little-endian bytes, size() * fixed size.
  std::span<const uint8_t> raw_elements() const;

  // Short human-readable rendering, arrays cut after max_elements (for logs, `inspect`).
  std::string to_display_string(size_t max_elements = 8) const;

 private:
  friend class GgufParser;
  friend class GgufWriteValue;  // copies values read from a file

  GgufType type_ = GgufType::kUint8;
  uint64_t bits_ = 0;                         // scalars: the value's bytes, zero-extended
  std::string_view string_;                   // kString
  GgufType element_type_ = GgufType::kUint8;  // kArray
  uint64_t count_ = 0;                        // kArray: number of elements
  const uint8_t* elements_ = nullptr;         // kArray of fixed-size elements
  std::vector<std::string_view> strings_;     // kArray of kString
  std::vector<GgufValue> arrays_;             // kArray of kArray
};

// One entry of the tensor directory.
struct GgufTensor {
  std::string_view name;
  DType dtype = DType::F32;
  uint32_t n_dims = 0;
  std::array<int64_t, 4> ne = {1, 1, 1, 1};  // GGUF order: ne[0] is the contiguous row length
  uint64_t offset = 0;  // from the start of the data section (a multiple of the alignment)
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // offset resolved into the file's bytes

  int64_t numel() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  // Outermost-first (WeightMap / PyTorch order): ne[n_dims-1], ..., ne[0].
  std::vector<int64_t> shape() const;
};

class GgufFile {
 public:
  static Result<GgufFile> open(const std::string& path);
  static Result<GgufFile> parse(std::shared_ptr<const MappedFile> file);
  // Parses bytes the caller keeps alive for as long as this GgufFile and whatever it handed
  // out are used (fuzzing, tests). `source` names them in error messages.
  static Result<GgufFile> parse_bytes(std::span<const uint8_t> bytes, std::string source);

  const std::string& source() const { return source_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section
  size_t file_size() const { return size_; }

  // Metadata in file order, and lookup by key (nullptr if absent).
  const std::vector<std::pair<std::string_view, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;

  // Typed getters. A missing key is kNotFound; a value of another type is kCorruptData and a
  // value that does not fit is kOutOfRange, both naming the key and the type found. Integer
  // getters accept any integer width whose value fits; float getters accept floats and ints.
  Result<uint32_t> get_u32(std::string_view key) const;
  Result<uint64_t> get_u64(std::string_view key) const;
  Result<int32_t> get_i32(std::string_view key) const;
  Result<int64_t> get_i64(std::string_view key) const;
  Result<float> get_f32(std::string_view key) const;
  Result<double> get_f64(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string_view> get_string(std::string_view key) const;
  // As above, but a missing key gives `fallback` (a present key of a wrong type still fails).
  Result<uint32_t> get_u32_or(std::string_view key, uint32_t fallback) const;
  Result<float> get_f32_or(std::string_view key, float fallback) const;
  Result<bool> get_bool_or(std::string_view key, bool fallback) const;

  // Arrays. get_array checks the element type (nullopt: any). The string array is a view of
  // the file (cheap for 150k-token vocabularies); numeric arrays are decoded into vectors,
  // converting any integer (or float, for get_f32_array) element type whose values fit.
  Result<const GgufValue*> get_array(std::string_view key,
                                     std::optional<GgufType> element_type = std::nullopt) const;
  Result<std::span<const std::string_view>> get_string_array(std::string_view key) const;
  Result<std::vector<float>> get_f32_array(std::string_view key) const;
  Result<std::vector<int32_t>> get_i32_array(std::string_view key) const;
  Result<std::vector<int64_t>> get_i64_array(std::string_view key) const;

  // Tensors in file order, and lookup by name (nullptr if absent).
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;

  // The loader-neutral map (shapes outermost-first). Keeps the mapping alive; for
  // parse_bytes the caller's bytes must outlive the map.
  Result<WeightMap> to_weight_map() const;

 private:
  friend class GgufParser;

  std::string source_;
  std::shared_ptr<const MappedFile> file_;  // null for parse_bytes
  const uint8_t* bytes_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string_view, GgufValue>> metadata_;
  std::unordered_map<std::string_view, size_t> key_index_;
  std::vector<GgufTensor> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// The GGUF default data alignment, used when general.alignment is absent.
inline constexpr uint32_t kGgufDefaultAlignment = 32;

// A file/tensor/key name made safe for an error message: non-printable bytes escaped as \xNN,
// cut to max_bytes with "...".
std::string printable_name(std::string_view name, size_t max_bytes = 80);

}  // namespace mx
