// GgufFile lookups: typed metadata getters, arrays, tensors and the WeightMap.
#include <cstring>
#include <limits>

#include "io/gguf.h"

namespace mx {
namespace {

Error missing_key(const GgufFile& file, std::string_view key) {
  return make_error(ErrorCode::kNotFound, "{}: metadata key '{}' is missing", file.source(),
                    printable_name(key));
}

Error wrong_type(const GgufFile& file, std::string_view key, std::string_view wanted,
                 const GgufValue& value) {
  return make_error(ErrorCode::kCorruptData, "{}: metadata key '{}': expected {}, found {} {}",
                    file.source(), printable_name(key), wanted, gguf_type_name(value.type()),
                    value.to_display_string(4));
}

Error out_of_range(const GgufFile& file, std::string_view key, std::string_view wanted,
                   const GgufValue& value) {
  return make_error(ErrorCode::kOutOfRange, "{}: metadata key '{}': {} {} does not fit in {}",
                    file.source(), printable_name(key), gguf_type_name(value.type()),
                    value.to_display_string(4), wanted);
}

// An integer value of any width as T, if it fits.
template <typename T>
std::optional<T> integer_as(const GgufValue& value) {
  if constexpr (std::numeric_limits<T>::is_signed) {
    auto wide = value.to_int64();
    if (!wide || *wide < std::numeric_limits<T>::min() || *wide > std::numeric_limits<T>::max()) {
      return std::nullopt;
    }
    return static_cast<T>(*wide);
  } else {
    auto wide = value.to_uint64();
    if (!wide || *wide > std::numeric_limits<T>::max()) return std::nullopt;
    return static_cast<T>(*wide);
  }
}

template <typename T>
Result<T> get_integer(const GgufFile& file, std::string_view key, std::string_view wanted) {
  const GgufValue* value = file.find(key);
  if (value == nullptr) return missing_key(file, key);
  if (!gguf_is_integer(value->type())) return wrong_type(file, key, wanted, *value);
  auto result = integer_as<T>(*value);
  if (!result) return out_of_range(file, key, wanted, *value);
  return *result;
}

Result<double> get_floating(const GgufFile& file, std::string_view key, std::string_view wanted) {
  const GgufValue* value = file.find(key);
  if (value == nullptr) return missing_key(file, key);
  auto result = value->to_double();
  if (!result) return wrong_type(file, key, wanted, *value);
  return *result;
}

// Decodes every element of a numeric array with `convert` (optional<T>(const GgufValue&)).
template <typename T, typename Convert>
Result<std::vector<T>> decode_array(const GgufFile& file, std::string_view key,
                                    std::string_view wanted, Convert convert) {
  MX_ASSIGN_OR_RETURN(const GgufValue* array, file.get_array(key));
  std::vector<T> out;
  out.reserve(array->size());
  for (uint64_t i = 0; i < array->size(); ++i) {
    GgufValue element = array->element(i);
    auto converted = convert(element);
    if (!converted) {
      return make_error(ErrorCode::kCorruptData,
                        "{}: metadata key '{}': element {} is {} {}, expected {}", file.source(),
                        printable_name(key), i, gguf_type_name(element.type()),
                        element.to_display_string(4), wanted);
    }
    out.push_back(*converted);
  }
  return out;
}

}  // namespace

std::vector<int64_t> GgufTensor::shape() const {
  std::vector<int64_t> outermost_first;
  for (uint32_t d = n_dims; d > 0; --d) outermost_first.push_back(ne[d - 1]);
  return outermost_first;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<uint32_t> GgufFile::get_u32(std::string_view key) const {
  return get_integer<uint32_t>(*this, key, "uint32");
}
Result<uint64_t> GgufFile::get_u64(std::string_view key) const {
  return get_integer<uint64_t>(*this, key, "uint64");
}
Result<int32_t> GgufFile::get_i32(std::string_view key) const {
  return get_integer<int32_t>(*this, key, "int32");
}
Result<int64_t> GgufFile::get_i64(std::string_view key) const {
  return get_integer<int64_t>(*this, key, "int64");
}

Result<float> GgufFile::get_f32(std::string_view key) const {
  MX_ASSIGN_OR_RETURN(double value, get_floating(*this, key, "float32"));
  return static_cast<float>(value);
}
Result<double> GgufFile::get_f64(std::string_view key) const {
  return get_floating(*this, key, "float64");
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* value = find(key);
  if (value == nullptr) return missing_key(*this, key);
  auto result = value->to_bool();
  if (!result) return wrong_type(*this, key, "bool", *value);
  return *result;
}

Result<std::string_view> GgufFile::get_string(std::string_view key) const {
  const GgufValue* value = find(key);
  if (value == nullptr) return missing_key(*this, key);
  auto result = value->to_string();
  if (!result) return wrong_type(*this, key, "string", *value);
  return *result;
}

Result<uint32_t> GgufFile::get_u32_or(std::string_view key, uint32_t fallback) const {
  return find(key) == nullptr ? Result<uint32_t>(fallback) : get_u32(key);
}
Result<float> GgufFile::get_f32_or(std::string_view key, float fallback) const {
  return find(key) == nullptr ? Result<float>(fallback) : get_f32(key);
}
Result<bool> GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  return find(key) == nullptr ? Result<bool>(fallback) : get_bool(key);
}

Result<const GgufValue*> GgufFile::get_array(std::string_view key,
                                             std::optional<GgufType> element_type) const {
  const GgufValue* value = find(key);
  if (value == nullptr) return missing_key(*this, key);
  if (!value->is_array()) return wrong_type(*this, key, "an array", *value);
  if (element_type && value->element_type() != *element_type) {
    return wrong_type(*this, key, fmt::format("an array of {}", gguf_type_name(*element_type)),
                      *value);
  }
  return value;
}

Result<std::span<const std::string_view>> GgufFile::get_string_array(std::string_view key) const {
  MX_ASSIGN_OR_RETURN(const GgufValue* array, get_array(key, GgufType::kString));
  return array->strings();
}

Result<std::vector<float>> GgufFile::get_f32_array(std::string_view key) const {
  MX_ASSIGN_OR_RETURN(const GgufValue* array, get_array(key));
  if (array->element_type() == GgufType::kFloat32) {  // the common case: one copy of the bytes
    std::vector<float> out(array->size());
    if (!out.empty()) {  // memcpy from/to null (empty vector) is undefined even for 0 bytes
      std::memcpy(out.data(), array->raw_elements().data(), out.size() * sizeof(float));
    }
    return out;
  }
  return decode_array<float>(*this, key, "a number", [](const GgufValue& element) {
    auto value = element.to_double();
    return value ? std::optional<float>(static_cast<float>(*value)) : std::nullopt;
  });
}

Result<std::vector<int32_t>> GgufFile::get_i32_array(std::string_view key) const {
  return decode_array<int32_t>(
      *this, key, "an integer that fits in int32",
      [](const GgufValue& element) { return integer_as<int32_t>(element); });
}

Result<std::vector<int64_t>> GgufFile::get_i64_array(std::string_view key) const {
  return decode_array<int64_t>(
      *this, key, "an integer that fits in int64",
      [](const GgufValue& element) { return integer_as<int64_t>(element); });
}

Result<WeightMap> GgufFile::to_weight_map() const {
  WeightMap map;
  map.source = source_;
  if (file_) map.keep_alive(file_);
  for (const GgufTensor& tensor : tensors_) {
    TensorInfo info;
    info.name = std::string(tensor.name);
    info.dtype = tensor.dtype;
    info.shape = tensor.shape();
    info.data = tensor.data;
    info.nbytes = tensor.nbytes;
    info.source = source_;
    MX_RETURN_IF_ERROR(map.add(std::move(info)));
  }
  return map;
}

}  // namespace mx
