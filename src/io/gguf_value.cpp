// GgufValue accessors and the small helpers shared by the GGUF reader and writer.
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "io/gguf.h"

namespace mx {

static_assert(std::endian::native == std::endian::little,
              "GGUF values are read in place: mxserve needs a little-endian host");

std::string_view gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
      return "uint8";
    case GgufType::kInt8:
      return "int8";
    case GgufType::kUint16:
      return "uint16";
    case GgufType::kInt16:
      return "int16";
    case GgufType::kUint32:
      return "uint32";
    case GgufType::kInt32:
      return "int32";
    case GgufType::kFloat32:
      return "float32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kUint64:
      return "uint64";
    case GgufType::kInt64:
      return "int64";
    case GgufType::kFloat64:
      return "float64";
  }
  return "unknown";
}

size_t gguf_fixed_size(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kString:
    case GgufType::kArray:
      return 0;
  }
  return 0;
}

bool gguf_is_integer(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kUint16:
    case GgufType::kInt16:
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kUint64:
    case GgufType::kInt64:
      return true;
    default:
      return false;
  }
}

namespace {

bool is_signed_integer(GgufType type) {
  return type == GgufType::kInt8 || type == GgufType::kInt16 || type == GgufType::kInt32 ||
         type == GgufType::kInt64;
}

// Sign-extends the low `bytes` bytes of bits.
int64_t sign_extend(uint64_t bits, size_t bytes) {
  if (bytes == 8) return static_cast<int64_t>(bits);
  uint64_t sign_bit = uint64_t{1} << (8 * bytes - 1);
  return static_cast<int64_t>((bits ^ sign_bit) - sign_bit);
}

}  // namespace

std::optional<int64_t> GgufValue::to_int64() const {
  if (!gguf_is_integer(type_)) return std::nullopt;
  if (is_signed_integer(type_)) return sign_extend(bits_, gguf_fixed_size(type_));
  if (bits_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(bits_);
}

std::optional<uint64_t> GgufValue::to_uint64() const {
  if (!gguf_is_integer(type_)) return std::nullopt;
  if (is_signed_integer(type_)) {
    int64_t value = sign_extend(bits_, gguf_fixed_size(type_));
    if (value < 0) return std::nullopt;
    return static_cast<uint64_t>(value);
  }
  return bits_;
}

std::optional<double> GgufValue::to_double() const {
  if (type_ == GgufType::kFloat32) {
    float value;
    uint32_t bits = static_cast<uint32_t>(bits_);
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }
  if (type_ == GgufType::kFloat64) {
    double value;
    std::memcpy(&value, &bits_, sizeof value);
    return value;
  }
  if (auto value = to_int64()) return static_cast<double>(*value);
  if (auto value = to_uint64()) return static_cast<double>(*value);
  return std::nullopt;
}

std::optional<bool> GgufValue::to_bool() const {
  if (type_ != GgufType::kBool) return std::nullopt;
  return bits_ != 0;
}

std::optional<std::string_view> GgufValue::to_string() const {
  if (type_ != GgufType::kString) return std::nullopt;
  return string_;
}

GgufValue GgufValue::element(uint64_t i) const {
  if (element_type_ == GgufType::kArray) return arrays_[i];
  GgufValue value;
  value.type_ = element_type_;
  if (element_type_ == GgufType::kString) {
    value.string_ = strings_[i];
  } else {
    size_t size = gguf_fixed_size(element_type_);
    std::memcpy(&value.bits_, elements_ + i * size, size);  // little endian: low bytes
  }
  return value;
}

std::span<const uint8_t> GgufValue::raw_elements() const {
  size_t size = gguf_fixed_size(element_type_);
  if (type_ != GgufType::kArray || size == 0 || elements_ == nullptr) return {};
  return {elements_, static_cast<size_t>(count_) * size};
}

std::string GgufValue::to_display_string(size_t max_elements) const {
  switch (type_) {
    case GgufType::kString:
      return "\"" + printable_name(string_) + "\"";
    case GgufType::kBool:
      return bits_ ? "true" : "false";
    case GgufType::kFloat32:
    case GgufType::kFloat64:
      return fmt::format("{}", *to_double());
    case GgufType::kArray: {
      std::string text = fmt::format("{}[{}] [", gguf_type_name(element_type_), count_);
      for (uint64_t i = 0; i < count_ && i < max_elements; ++i) {
        text += (i ? ", " : "") + element(i).to_display_string(max_elements);
      }
      return text + (count_ > max_elements ? ", ...]" : "]");
    }
    default:
      if (auto value = to_int64()) return fmt::format("{}", *value);
      return fmt::format("{}", bits_);  // uint64 beyond int64
  }
}

std::string printable_name(std::string_view name, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (out.size() >= max_bytes) return out + "...";
    auto c = static_cast<unsigned char>(name[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += fmt::format("\\x{:02x}", c);  // UTF-8 too: names in GGUF files are ASCII
    }
  }
  return out;
}

}  // namespace mx
