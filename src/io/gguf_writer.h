// GgufWriter: builds a GGUF v3 file from metadata and tensors (test models, converters, tests).
//
// Metadata keeps insertion order (setting a key again replaces its value in place). Tensors are
// given outermost-first like WeightMap shapes and written with ne[] reversed; their bytes are
// copied in and laid out in insertion order, each padded to the alignment. A non-default
// alignment is also recorded as general.alignment (as the format requires), written first
// unless the caller set that key itself (it must then agree).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "io/gguf.h"

namespace mx {

// An owned metadata value to write: a scalar, a string, or an array of one element type.
class GgufWriteValue {
 public:
  static GgufWriteValue u8(uint8_t v) { return fixed(GgufType::kUint8, v); }
  static GgufWriteValue i8(int8_t v) { return fixed(GgufType::kInt8, v); }
  static GgufWriteValue u16(uint16_t v) { return fixed(GgufType::kUint16, v); }
  static GgufWriteValue i16(int16_t v) { return fixed(GgufType::kInt16, v); }
  static GgufWriteValue u32(uint32_t v) { return fixed(GgufType::kUint32, v); }
  static GgufWriteValue i32(int32_t v) { return fixed(GgufType::kInt32, v); }
  static GgufWriteValue u64(uint64_t v) { return fixed(GgufType::kUint64, v); }
  static GgufWriteValue i64(int64_t v) { return fixed(GgufType::kInt64, v); }
  static GgufWriteValue f32(float v) { return fixed(GgufType::kFloat32, v); }
  static GgufWriteValue f64(double v) { return fixed(GgufType::kFloat64, v); }
  static GgufWriteValue boolean(bool v) { return fixed(GgufType::kBool, uint8_t{v}); }
  static GgufWriteValue string(std::string_view v);

  // Arrays of fixed-size numbers: T is one of uint8_t..int64_t, float, double.
  template <typename T>
  static GgufWriteValue array(const std::vector<T>& values);
  static GgufWriteValue bool_array(const std::vector<bool>& values);
  static GgufWriteValue string_array(std::vector<std::string> values);
  // An array whose elements are arrays (each a GgufWriteValue of type kArray).
  static GgufWriteValue array_of_arrays(std::vector<GgufWriteValue> arrays);
  // A deep copy of a value read from a file (rewriting, round-trip tests).
  static GgufWriteValue copy_of(const GgufValue& value);

  GgufType type() const { return type_; }

 private:
  friend class GgufWriter;
  template <typename T>
  static GgufWriteValue fixed(GgufType type, T v);
  void append_to(std::vector<uint8_t>& out) const;  // the value without its type tag

  GgufType type_ = GgufType::kUint8;
  std::vector<uint8_t> bytes_;  // fixed-size scalar, string bytes, or packed array elements
  GgufType element_type_ = GgufType::kUint8;
  uint64_t count_ = 0;                  // arrays
  std::vector<std::string> strings_;    // arrays of strings
  std::vector<GgufWriteValue> arrays_;  // arrays of arrays
};

class GgufWriter {
 public:
  // alignment: a power of two; the data section and every tensor start on a multiple of it.
  explicit GgufWriter(uint32_t alignment = kGgufDefaultAlignment);

  void set(std::string_view key, GgufWriteValue value);
  void set_u32(std::string_view key, uint32_t v) { set(key, GgufWriteValue::u32(v)); }
  void set_f32(std::string_view key, float v) { set(key, GgufWriteValue::f32(v)); }
  void set_bool(std::string_view key, bool v) { set(key, GgufWriteValue::boolean(v)); }
  void set_string(std::string_view key, std::string_view v) { set(key, GgufWriteValue::string(v)); }

  // shape is outermost-first (shape.back() is the row length); bytes must hold exactly
  // row_bytes(type, shape.back()) * (product of the other dims). Fails on a duplicate name,
  // a type GGUF cannot store (F8_E4M3), 0 or more than 4 dims, or a size mismatch.
  Status add_tensor(std::string_view name, DType type, std::vector<int64_t> shape,
                    std::span<const uint8_t> bytes);
  // Streaming, for files larger than memory: declare each tensor (checks as add_tensor, without
  // the bytes), then write_file_streaming() writes the header and asks `fill` for each declared
  // tensor's bytes in order, writing them before asking for the next. `fill` must produce
  // exactly the declared size; its error aborts the write (no file is left behind).
  Status declare_tensor(std::string_view name, DType type, std::vector<int64_t> shape);
  using TensorFill = std::function<Status(size_t index, std::vector<uint8_t>& bytes)>;
  Status write_file_streaming(const std::string& path, const TensorFill& fill) const;
  // Convenience for float tensors: quantization is the caller's business, so F32 only.
  Status add_f32_tensor(std::string_view name, std::vector<int64_t> shape,
                        std::span<const float> values);

  uint32_t alignment() const { return alignment_; }
  Result<std::vector<uint8_t>> to_bytes() const;
  Status write_file(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> shape;  // outermost-first
    uint64_t nbytes = 0;
    std::vector<uint8_t> bytes;  // empty for declared (streamed) tensors
  };
  Result<std::vector<uint8_t>> header_bytes() const;  // everything before the data section
  static bool well_formed(const GgufWriteValue& value);

  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufWriteValue>> metadata_;
  std::vector<PendingTensor> tensors_;
};

template <typename T>
GgufWriteValue GgufWriteValue::fixed(GgufType type, T v) {
  GgufWriteValue value;
  value.type_ = type;
  value.bytes_.resize(sizeof(T));
  std::memcpy(value.bytes_.data(), &v,
              sizeof(T));  // little-endian host (checked in gguf_value.cpp)
  return value;
}

}  // namespace mx
