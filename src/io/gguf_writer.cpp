// GgufWriter: serializes metadata and tensor infos, then the padded tensor data.
#include "io/gguf_writer.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

namespace mx {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF"
constexpr uint32_t kVersion = 3;

template <typename T>
void append_fixed(std::vector<uint8_t>& out, T v) {
  size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void append_string(std::vector<uint8_t>& out, std::string_view text) {
  append_fixed<uint64_t>(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
}

template <typename T>
constexpr GgufType gguf_type_of() {
  if constexpr (std::is_same_v<T, uint8_t>) return GgufType::kUint8;
  if constexpr (std::is_same_v<T, int8_t>) return GgufType::kInt8;
  if constexpr (std::is_same_v<T, uint16_t>) return GgufType::kUint16;
  if constexpr (std::is_same_v<T, int16_t>) return GgufType::kInt16;
  if constexpr (std::is_same_v<T, uint32_t>) return GgufType::kUint32;
  if constexpr (std::is_same_v<T, int32_t>) return GgufType::kInt32;
  if constexpr (std::is_same_v<T, uint64_t>) return GgufType::kUint64;
  if constexpr (std::is_same_v<T, int64_t>) return GgufType::kInt64;
  if constexpr (std::is_same_v<T, float>) return GgufType::kFloat32;
  if constexpr (std::is_same_v<T, double>) return GgufType::kFloat64;
}

uint64_t padded(uint64_t size, uint64_t alignment) {
  return (size + alignment - 1) / alignment * alignment;
}

}  // namespace

// --- GgufWriteValue ---------------------------------------------------------------------

GgufWriteValue GgufWriteValue::string(std::string_view v) {
  GgufWriteValue value;
  value.type_ = GgufType::kString;
  value.bytes_.assign(v.begin(), v.end());
  return value;
}

template <typename T>
GgufWriteValue GgufWriteValue::array(const std::vector<T>& values) {
  GgufWriteValue value;
  value.type_ = GgufType::kArray;
  value.element_type_ = gguf_type_of<T>();
  value.count_ = values.size();
  value.bytes_.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(value.bytes_.data(), values.data(), value.bytes_.size());
  return value;
}

template GgufWriteValue GgufWriteValue::array(const std::vector<uint8_t>&);
template GgufWriteValue GgufWriteValue::array(const std::vector<int8_t>&);
template GgufWriteValue GgufWriteValue::array(const std::vector<uint16_t>&);
template GgufWriteValue GgufWriteValue::array(const std::vector<int16_t>&);
template GgufWriteValue GgufWriteValue::array(const std::vector<uint32_t>&);
template GgufWriteValue GgufWriteValue::array(const std::vector<int32_t>&);
template GgufWriteValue GgufWriteValue::array(const std::vector<uint64_t>&);
template GgufWriteValue GgufWriteValue::array(const std::vector<int64_t>&);
template GgufWriteValue GgufWriteValue::array(const std::vector<float>&);
template GgufWriteValue GgufWriteValue::array(const std::vector<double>&);

GgufWriteValue GgufWriteValue::bool_array(const std::vector<bool>& values) {
  GgufWriteValue value;
  value.type_ = GgufType::kArray;
  value.element_type_ = GgufType::kBool;
  value.count_ = values.size();
  for (bool v : values) value.bytes_.push_back(v ? 1 : 0);
  return value;
}

GgufWriteValue GgufWriteValue::string_array(std::vector<std::string> values) {
  GgufWriteValue value;
  value.type_ = GgufType::kArray;
  value.element_type_ = GgufType::kString;
  value.count_ = values.size();
  value.strings_ = std::move(values);
  return value;
}

GgufWriteValue GgufWriteValue::array_of_arrays(std::vector<GgufWriteValue> arrays) {
  GgufWriteValue value;
  value.type_ = GgufType::kArray;
  value.element_type_ = GgufType::kArray;
  value.count_ = arrays.size();
  value.arrays_ = std::move(arrays);
  return value;
}

GgufWriteValue GgufWriteValue::copy_of(const GgufValue& source) {
  GgufWriteValue value;
  value.type_ = source.type();
  if (source.type() == GgufType::kString) return string(*source.to_string());
  if (!source.is_array()) {
    value.bytes_.resize(gguf_fixed_size(source.type()));
    uint64_t bits = source.bits_;  // the value zero-extended: its low bytes are the encoding
    std::memcpy(value.bytes_.data(), &bits, value.bytes_.size());
    return value;
  }
  value.element_type_ = source.element_type();
  value.count_ = source.size();
  if (source.element_type() == GgufType::kString) {
    for (std::string_view s : source.strings()) value.strings_.emplace_back(s);
  } else if (source.element_type() == GgufType::kArray) {
    for (const GgufValue& nested : source.arrays()) value.arrays_.push_back(copy_of(nested));
  } else {
    auto raw = source.raw_elements();
    value.bytes_.assign(raw.begin(), raw.end());
  }
  return value;
}

void GgufWriteValue::append_to(std::vector<uint8_t>& out) const {
  if (type_ == GgufType::kString) {
    append_string(out, {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()});
    return;
  }
  if (type_ != GgufType::kArray) {
    out.insert(out.end(), bytes_.begin(), bytes_.end());
    return;
  }
  append_fixed<uint32_t>(out, static_cast<uint32_t>(element_type_));
  append_fixed<uint64_t>(out, count_);
  if (element_type_ == GgufType::kString) {
    for (const std::string& s : strings_) append_string(out, s);
  } else if (element_type_ == GgufType::kArray) {
    for (const GgufWriteValue& nested : arrays_) nested.append_to(out);
  } else {
    out.insert(out.end(), bytes_.begin(), bytes_.end());
  }
}

// --- GgufWriter -------------------------------------------------------------------------

// Arrays of arrays must hold arrays only, at every depth (array_of_arrays cannot refuse).
bool GgufWriter::well_formed(const GgufWriteValue& value) {
  if (value.type_ != GgufType::kArray || value.element_type_ != GgufType::kArray) return true;
  for (const GgufWriteValue& element : value.arrays_) {
    if (element.type_ != GgufType::kArray || !well_formed(element)) return false;
  }
  return true;
}

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {}

void GgufWriter::set(std::string_view key, GgufWriteValue value) {
  for (auto& [existing_key, existing_value] : metadata_) {
    if (existing_key == key) {
      existing_value = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::string(key), std::move(value));
}

Status GgufWriter::declare_tensor(std::string_view name, DType type, std::vector<int64_t> shape) {
  auto traits = dtype_traits(type);
  if (!traits || type == DType::F8_E4M3) {
    return make_error(ErrorCode::kInvalidArgument, "tensor '{}': type {} cannot be stored in GGUF",
                      name, dtype_name(type));
  }
  if (name.empty() || shape.empty() || shape.size() > 4) {
    return make_error(ErrorCode::kInvalidArgument,
                      "tensor '{}': needs a name and 1 to 4 dimensions, got {}", name,
                      shape.size());
  }
  uint64_t rows = 1;
  for (int64_t extent : shape) {
    if (extent <= 0) {
      return make_error(ErrorCode::kInvalidArgument, "tensor '{}': dimension {} is not positive",
                        name, extent);
    }
  }
  for (size_t d = 0; d + 1 < shape.size(); ++d) rows *= static_cast<uint64_t>(shape[d]);
  auto row = row_bytes(type, static_cast<uint64_t>(shape.back()));
  if (!row) {
    return make_error(ErrorCode::kInvalidArgument,
                      "tensor '{}': row length {} must be a multiple of the {} block size {}",
                      name, shape.back(), dtype_name(type), traits->block_elems);
  }
  for (const PendingTensor& tensor : tensors_) {
    if (tensor.name == name) {
      return make_error(ErrorCode::kInvalidArgument, "tensor '{}' is added twice", name);
    }
  }
  tensors_.push_back({std::string(name), type, std::move(shape), *row * rows, {}});
  return ok_status();
}

Status GgufWriter::add_tensor(std::string_view name, DType type, std::vector<int64_t> shape,
                              std::span<const uint8_t> bytes) {
  MX_RETURN_IF_ERROR(declare_tensor(name, type, std::move(shape)));
  PendingTensor& tensor = tensors_.back();
  if (tensor.nbytes != bytes.size()) {
    uint64_t want = tensor.nbytes;
    tensors_.pop_back();
    return make_error(ErrorCode::kInvalidArgument,
                      "tensor '{}': {} bytes do not hold a {} tensor of this shape ({} bytes)",
                      name, bytes.size(), dtype_name(type), want);
  }
  tensor.bytes.assign(bytes.begin(), bytes.end());
  return ok_status();
}

Status GgufWriter::add_f32_tensor(std::string_view name, std::vector<int64_t> shape,
                                  std::span<const float> values) {
  return add_tensor(name, DType::F32, std::move(shape),
                    {reinterpret_cast<const uint8_t*>(values.data()), values.size_bytes()});
}

Result<std::vector<uint8_t>> GgufWriter::header_bytes() const {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
    return make_error(ErrorCode::kInvalidArgument, "GGUF alignment {} is not a power of two",
                      alignment_);
  }
  std::vector<uint8_t> out;
  append_fixed<uint32_t>(out, kMagic);
  append_fixed<uint32_t>(out, kVersion);
  append_fixed<uint64_t>(out, tensors_.size());
  // A non-default alignment must be recorded; if the caller did not set the key, it goes first.
  bool record_alignment = alignment_ != kGgufDefaultAlignment &&
                          std::none_of(metadata_.begin(), metadata_.end(), [](const auto& kv) {
                            return kv.first == "general.alignment";
                          });
  append_fixed<uint64_t>(out, metadata_.size() + (record_alignment ? 1 : 0));
  if (record_alignment) {
    append_string(out, "general.alignment");
    append_fixed<uint32_t>(out, static_cast<uint32_t>(GgufType::kUint32));
    append_fixed<uint32_t>(out, alignment_);
  }
  for (const auto& [key, value] : metadata_) {
    if (!well_formed(value)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "metadata key '{}': an array of arrays holds a non-array", key);
    }
    if (key == "general.alignment" && value.bytes_ != GgufWriteValue::u32(alignment_).bytes_) {
      return make_error(ErrorCode::kInvalidArgument,
                        "metadata key 'general.alignment' disagrees with the writer's alignment "
                        "{}; pass the alignment to the GgufWriter constructor instead",
                        alignment_);
    }
    append_string(out, key);
    append_fixed<uint32_t>(out, static_cast<uint32_t>(value.type_));
    value.append_to(out);
  }
  uint64_t offset = 0;  // within the data section
  for (const PendingTensor& tensor : tensors_) {
    append_string(out, tensor.name);
    append_fixed<uint32_t>(out, static_cast<uint32_t>(tensor.shape.size()));
    for (size_t d = tensor.shape.size(); d > 0; --d) {  // GGUF ne[] is innermost-first
      append_fixed<uint64_t>(out, static_cast<uint64_t>(tensor.shape[d - 1]));
    }
    append_fixed<uint32_t>(out, static_cast<uint32_t>(tensor.type));
    append_fixed<uint64_t>(out, offset);
    offset += padded(tensor.nbytes, alignment_);
  }
  out.resize(padded(out.size(), alignment_), 0);
  return out;
}

Result<std::vector<uint8_t>> GgufWriter::to_bytes() const {
  MX_ASSIGN_OR_RETURN(std::vector<uint8_t> out, header_bytes());
  for (const PendingTensor& tensor : tensors_) {
    out.insert(out.end(), tensor.bytes.begin(), tensor.bytes.end());
    out.resize(padded(out.size(), alignment_), 0);
  }
  return out;
}

Status GgufWriter::write_file(const std::string& path) const {
  return write_file_streaming(path, [this](size_t index, std::vector<uint8_t>& bytes) {
    bytes = tensors_[index].bytes;
    return ok_status();
  });
}

Status GgufWriter::write_file_streaming(const std::string& path, const TensorFill& fill) const {
  MX_ASSIGN_OR_RETURN(std::vector<uint8_t> header, header_bytes());
  // Write next to the target and rename, so a crash never leaves a half-written model behind.
  std::string temp_path = path + ".partial";
  {
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(ErrorCode::kIoError, "{}: cannot open for writing", temp_path);
    out.write(reinterpret_cast<const char*>(header.data()),
              static_cast<std::streamsize>(header.size()));
    const std::vector<char> zeros(alignment_, 0);
    std::vector<uint8_t> bytes;
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const PendingTensor& tensor = tensors_[i];
      bytes.clear();
      Status filled = fill(i, bytes);
      if (filled.ok() && bytes.size() != tensor.nbytes) {
        filled = make_error(ErrorCode::kInternal, "tensor '{}': got {} bytes, declared {}",
                            tensor.name, bytes.size(), tensor.nbytes);
      }
      if (!filled.ok()) {
        out.close();
        std::remove(temp_path.c_str());
        return filled;
      }
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
      uint64_t padding = padded(bytes.size(), alignment_) - bytes.size();
      out.write(zeros.data(), static_cast<std::streamsize>(padding));
      if (!out) break;
    }
    out.flush();
    if (!out) {
      out.close();
      std::remove(temp_path.c_str());
      return make_error(ErrorCode::kIoError, "{}: write failed (disk full?)", temp_path);
    }
  }
  if (std::rename(temp_path.c_str(), path.c_str()) != 0) {
    return make_error(ErrorCode::kIoError, "{}: cannot rename to {}", temp_path, path);
  }
  return ok_status();
}

}  // namespace mx
