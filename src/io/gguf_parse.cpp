// GgufParser: validates and indexes a GGUF file's header, metadata and tensor directory.
//
// Every read goes through a bounds-checked cursor, and every count read from the file is
// checked against the bytes that remain (times the smallest possible encoding of one item)
// before anything is reserved, so a corrupt count fails fast instead of allocating. Errors name
// the file and the current subject (the key or tensor being read).
#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "io/gguf.h"

namespace mx {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxArrayDepth = 8;        // arrays of arrays of ... (real files use 2)
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
// Smallest encodings, used to bound counts: key (8 + 1) + type 4 + 1-byte value; name (8 + 1)
// + n_dims 4 + one dim 8 + type 4 + offset 8; a string's length; a nested array's header.
constexpr uint64_t kMinMetadataBytes = 14;
constexpr uint64_t kMinTensorInfoBytes = 33;
constexpr uint64_t kMinStringBytes = 8;
constexpr uint64_t kMinArrayBytes = 12;

constexpr const char* kRedownload =
    "the file is truncated or corrupt — download or convert it again";

// GGML type ids that exist in llama.cpp but that mxserve cannot read (for a clearer message).
std::string_view unsupported_ggml_type_name(uint32_t id) {
  switch (id) {
    case 4:
    case 5:
      return "q4_2/q4_3 (removed from ggml)";
    case 40:
      return "nvfp4";
    default:
      return {};
  }
}

}  // namespace

class GgufParser {
 public:
  GgufParser(const uint8_t* data, size_t size, const std::string& source)
      : data_(data), size_(size), source_(source) {}

  Status run(GgufFile& file) {
    uint64_t n_tensors = 0, n_metadata = 0;
    MX_RETURN_IF_ERROR(parse_header(file, &n_tensors, &n_metadata));
    MX_RETURN_IF_ERROR(parse_metadata(file, n_metadata));
    MX_RETURN_IF_ERROR(resolve_alignment(file));
    MX_RETURN_IF_ERROR(parse_tensor_infos(file, n_tensors));
    return place_tensors(file);
  }

 private:
  // --- cursor -------------------------------------------------------------------------

  uint64_t remaining() const { return size_ - pos_; }

  Error fail(ErrorCode code, std::string message) const {
    if (subject_.empty()) return Error{code, fmt::format("{}: {}", source_, message)};
    return Error{code, fmt::format("{}: {}: {}", source_, subject_, message)};
  }

  Error truncated(std::string_view what, uint64_t needed) const {
    return fail(ErrorCode::kCorruptData,
                fmt::format("the file ends while reading {} ({} bytes needed at offset {}, {} "
                            "left); {}",
                            what, needed, pos_, remaining(), kRedownload));
  }

  // Reads a little-endian fixed-size value.
  template <typename T>
  Status read(T* out, std::string_view what) {
    if (remaining() < sizeof(T)) return truncated(what, sizeof(T));
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return ok_status();
  }

  // A GGUF string (u64 length + bytes) as a view into the file.
  Status read_string(std::string_view* out, std::string_view what) {
    uint64_t length = 0;
    MX_RETURN_IF_ERROR(read(&length, what));
    if (length > remaining()) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("{} claims {} bytes but only {} remain in the file; {}", what, length,
                              remaining(), kRedownload));
    }
    *out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return ok_status();
  }

  // Fails unless `count` items of at least `min_item_bytes` each can fit in what remains.
  Status check_count(uint64_t count, uint64_t min_item_bytes, std::string_view what) const {
    if (count > remaining() / min_item_bytes) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("{} count {} cannot fit in the {} bytes left in the file (each "
                              "takes at least {} bytes); {}",
                              what, count, remaining(), min_item_bytes, kRedownload));
    }
    return ok_status();
  }

  // --- header -------------------------------------------------------------------------

  Status parse_header(GgufFile& file, uint64_t* n_tensors, uint64_t* n_metadata) {
    subject_ = "header";
    uint32_t magic = 0, version = 0;
    MX_RETURN_IF_ERROR(read(&magic, "the magic \"GGUF\""));
    if (magic != kMagic) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("not a GGUF file: it starts with {} instead of \"GGUF\"",
                              printable_name({reinterpret_cast<const char*>(data_), 4})));
    }
    MX_RETURN_IF_ERROR(read(&version, "the version"));
    MX_RETURN_IF_ERROR(check_version(version));
    file.version_ = version;
    MX_RETURN_IF_ERROR(read(n_tensors, "the tensor count"));
    MX_RETURN_IF_ERROR(read(n_metadata, "the metadata count"));
    MX_RETURN_IF_ERROR(check_count(*n_metadata, kMinMetadataBytes, "metadata"));
    MX_RETURN_IF_ERROR(check_count(*n_tensors, kMinTensorInfoBytes, "tensor"));
    if (*n_metadata * kMinMetadataBytes + *n_tensors * kMinTensorInfoBytes > remaining()) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("{} metadata entries and {} tensor infos cannot fit in the {} "
                              "bytes left; {}",
                              *n_metadata, *n_tensors, remaining(), kRedownload));
    }
    return ok_status();
  }

  Status check_version(uint32_t version) const {
    if (version == 2 || version == 3) return ok_status();
    if (version == 1) {
      return fail(ErrorCode::kUnsupported,
                  "GGUF version 1 is obsolete (32-bit counts); convert the model again with a "
                  "current llama.cpp");
    }
    uint32_t swapped = __builtin_bswap32(version);
    if (swapped >= 1 && swapped <= 3) {
      return fail(ErrorCode::kUnsupported,
                  fmt::format("this is a big-endian GGUF (version {}); mxserve reads "
                              "little-endian files — convert it again without --bigendian",
                              swapped));
    }
    return fail(ErrorCode::kUnsupported,
                fmt::format("unknown GGUF version {} (mxserve reads versions 2 and 3)", version));
  }

  // --- metadata -----------------------------------------------------------------------

  Status parse_metadata(GgufFile& file, uint64_t n_metadata) {
    file.metadata_.reserve(n_metadata);
    file.key_index_.reserve(n_metadata);
    for (uint64_t i = 0; i < n_metadata; ++i) {
      subject_ = fmt::format("metadata entry #{}", i);
      std::string_view key;
      MX_RETURN_IF_ERROR(read_string(&key, "its key"));
      if (key.empty()) return fail(ErrorCode::kCorruptData, "the key is empty");
      subject_ = fmt::format("metadata key '{}'", printable_name(key));
      if (file.key_index_.count(key) != 0) {
        return fail(ErrorCode::kCorruptData, "the key appears twice; the file is corrupt");
      }
      uint32_t type_id = 0;
      MX_RETURN_IF_ERROR(read(&type_id, "the value type"));
      MX_ASSIGN_OR_RETURN(GgufValue value, parse_value(type_id, 0));
      file.key_index_.emplace(key, file.metadata_.size());
      file.metadata_.emplace_back(key, std::move(value));
    }
    return ok_status();
  }

  Status check_value_type(uint32_t type_id) const {
    if (type_id > static_cast<uint32_t>(GgufType::kFloat64)) {
      return fail(
          ErrorCode::kCorruptData,
          fmt::format("unknown value type {} (GGUF defines 0..12); {}", type_id, kRedownload));
    }
    return ok_status();
  }

  Result<GgufValue> parse_value(uint32_t type_id, int depth) {
    MX_RETURN_IF_ERROR(check_value_type(type_id));
    GgufValue value;
    value.type_ = static_cast<GgufType>(type_id);
    if (value.type_ == GgufType::kArray) {
      MX_RETURN_IF_ERROR(parse_array(value, depth));
    } else if (value.type_ == GgufType::kString) {
      MX_RETURN_IF_ERROR(read_string(&value.string_, "the string value"));
    } else {
      size_t size = gguf_fixed_size(value.type_);
      if (remaining() < size) return truncated("the value", size);
      std::memcpy(&value.bits_, data_ + pos_, size);
      if (value.type_ == GgufType::kBool && value.bits_ > 1) {
        return fail(ErrorCode::kCorruptData,
                    fmt::format("bool value {} is neither 0 nor 1", value.bits_));
      }
      pos_ += size;
    }
    return value;
  }

  Status parse_array(GgufValue& value, int depth) {
    if (depth >= kMaxArrayDepth) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("arrays nested more than {} deep", kMaxArrayDepth));
    }
    uint32_t element_type_id = 0;
    MX_RETURN_IF_ERROR(read(&element_type_id, "the array element type"));
    MX_RETURN_IF_ERROR(check_value_type(element_type_id));
    value.element_type_ = static_cast<GgufType>(element_type_id);
    MX_RETURN_IF_ERROR(read(&value.count_, "the array length"));
    if (value.element_type_ == GgufType::kString) {
      MX_RETURN_IF_ERROR(check_count(value.count_, kMinStringBytes, "array (of strings)"));
      value.strings_.resize(value.count_);
      for (std::string_view& element : value.strings_) {
        MX_RETURN_IF_ERROR(read_string(&element, "an array string"));
      }
    } else if (value.element_type_ == GgufType::kArray) {
      MX_RETURN_IF_ERROR(check_count(value.count_, kMinArrayBytes, "array (of arrays)"));
      value.arrays_.reserve(value.count_);
      for (uint64_t i = 0; i < value.count_; ++i) {
        MX_ASSIGN_OR_RETURN(GgufValue element,
                            parse_value(static_cast<uint32_t>(GgufType::kArray), depth + 1));
        value.arrays_.push_back(std::move(element));
      }
    } else {
      size_t size = gguf_fixed_size(value.element_type_);
      MX_RETURN_IF_ERROR(check_count(value.count_, size, "array"));
      value.elements_ = data_ + pos_;
      if (value.element_type_ == GgufType::kBool) {
        for (uint64_t i = 0; i < value.count_; ++i) {
          if (value.elements_[i] > 1) {
            return fail(
                ErrorCode::kCorruptData,
                fmt::format("bool array element {} is {}, neither 0 nor 1", i, value.elements_[i]));
          }
        }
      }
      pos_ += value.count_ * size;
    }
    return ok_status();
  }

  Status resolve_alignment(GgufFile& file) {
    const GgufValue* value = file.find("general.alignment");
    if (value == nullptr) return ok_status();
    subject_ = "metadata key 'general.alignment'";
    auto alignment = value->to_uint64();
    if (!alignment) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("expected an unsigned integer, found {} {}",
                              gguf_type_name(value->type()), value->to_display_string()));
    }
    if (*alignment == 0 || (*alignment & (*alignment - 1)) != 0 ||
        *alignment > std::numeric_limits<uint32_t>::max()) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("alignment {} is not a power of two (at most 2^31); {}", *alignment,
                              kRedownload));
    }
    file.alignment_ = static_cast<uint32_t>(*alignment);
    return ok_status();
  }

  // --- tensors ------------------------------------------------------------------------

  Status parse_tensor_infos(GgufFile& file, uint64_t n_tensors) {
    file.tensors_.reserve(n_tensors);
    file.tensor_index_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
      subject_ = fmt::format("tensor #{}", i);
      GgufTensor tensor;
      MX_RETURN_IF_ERROR(read_string(&tensor.name, "its name"));
      if (tensor.name.empty()) return fail(ErrorCode::kCorruptData, "the name is empty");
      subject_ = fmt::format("tensor '{}'", printable_name(tensor.name));
      if (file.tensor_index_.count(tensor.name) != 0) {
        return fail(ErrorCode::kCorruptData, "the name appears twice; the file is corrupt");
      }
      MX_RETURN_IF_ERROR(parse_dims(tensor));
      MX_RETURN_IF_ERROR(parse_type_and_size(tensor));
      MX_RETURN_IF_ERROR(read(&tensor.offset, "the data offset"));
      file.tensor_index_.emplace(tensor.name, file.tensors_.size());
      file.tensors_.push_back(tensor);
    }
    return ok_status();
  }

  Status parse_dims(GgufTensor& tensor) {
    MX_RETURN_IF_ERROR(read(&tensor.n_dims, "the number of dimensions"));
    if (tensor.n_dims == 0 || tensor.n_dims > kMaxDims) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("{} dimensions (GGUF tensors have 1 to {}); {}", tensor.n_dims,
                              kMaxDims, kRedownload));
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < tensor.n_dims; ++d) {
      uint64_t extent = 0;
      MX_RETURN_IF_ERROR(read(&extent, "a dimension"));
      constexpr uint64_t kMaxElements = std::numeric_limits<int64_t>::max();
      if (extent == 0 || extent > kMaxElements / elements) {
        return fail(ErrorCode::kCorruptData,
                    fmt::format("dimension ne[{}] = {} is {}; {}", d, extent,
                                extent == 0 ? "zero" : "too large (the element count overflows)",
                                kRedownload));
      }
      elements *= extent;
      tensor.ne[d] = static_cast<int64_t>(extent);
    }
    return ok_status();
  }

  Status parse_type_and_size(GgufTensor& tensor) {
    uint32_t type_id = 0;
    MX_RETURN_IF_ERROR(read(&type_id, "the tensor type"));
    auto traits = dtype_traits_from_id(type_id);
    if (!traits) {
      std::string_view known = unsupported_ggml_type_name(type_id);
      if (!known.empty()) {
        return fail(ErrorCode::kUnsupported,
                    fmt::format("type {} (ggml id {}) is not supported by mxserve; use a file "
                                "quantized to f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, "
                                "q2_K..q6_K, iq4_nl, iq4_xs, mxfp4, iq1_s..iq3_s, tq1_0 or "
                                "tq2_0",
                                known, type_id));
      }
      return fail(ErrorCode::kCorruptData,
                  fmt::format("unknown tensor type id {}; {}", type_id, kRedownload));
    }
    tensor.dtype = static_cast<DType>(type_id);
    auto row = row_bytes(tensor.dtype, static_cast<uint64_t>(tensor.ne[0]));
    if (!row) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("row length ne[0] = {} is not a multiple of the {} block size {}",
                              tensor.ne[0], traits->name, traits->block_elems));
    }
    uint64_t rows = static_cast<uint64_t>(tensor.ne[1] * tensor.ne[2] * tensor.ne[3]);
    if (*row > std::numeric_limits<uint64_t>::max() / rows) {
      return fail(ErrorCode::kCorruptData, "the byte size overflows 64 bits");
    }
    tensor.nbytes = *row * rows;
    return ok_status();
  }

  // Resolves offsets into the data section and checks bounds, alignment and overlaps.
  Status place_tensors(GgufFile& file) {
    uint64_t alignment = file.alignment_;
    file.data_offset_ =
        (pos_ + alignment - 1) / alignment * alignment;  // pos_ <= size_: no overflow
    if (file.tensors_.empty()) return ok_status();
    subject_.clear();
    if (file.data_offset_ > size_) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("the tensor data section would start at offset {}, past the end "
                              "of the file ({} bytes); {}",
                              file.data_offset_, size_, kRedownload));
    }
    uint64_t data_size = size_ - file.data_offset_;
    for (GgufTensor& tensor : file.tensors_) {
      subject_ = fmt::format("tensor '{}'", printable_name(tensor.name));
      if (tensor.offset % alignment != 0) {
        return fail(ErrorCode::kCorruptData,
                    fmt::format("data offset {} is not a multiple of the alignment {}; {}",
                                tensor.offset, alignment, kRedownload));
      }
      if (tensor.offset > data_size || tensor.nbytes > data_size - tensor.offset) {
        return fail(ErrorCode::kCorruptData,
                    fmt::format("data [offset {}, {} bytes] runs past the end of the file ({} "
                                "bytes); the file is truncated — download or convert it again",
                                absolute_offset(file, tensor), tensor.nbytes, size_));
      }
      tensor.data = data_ + file.data_offset_ + tensor.offset;
    }
    return check_overlaps(file);
  }

  // data_offset + offset as text; a corrupt offset may not even fit in 64 bits.
  static std::string absolute_offset(const GgufFile& file, const GgufTensor& tensor) {
    if (tensor.offset > std::numeric_limits<uint64_t>::max() - file.data_offset_) {
      return fmt::format("{} + {}", file.data_offset_, tensor.offset);
    }
    return std::to_string(file.data_offset_ + tensor.offset);
  }

  Status check_overlaps(const GgufFile& file) {
    std::vector<const GgufTensor*> by_offset;
    by_offset.reserve(file.tensors_.size());
    for (const GgufTensor& tensor : file.tensors_) by_offset.push_back(&tensor);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      const GgufTensor& before = *by_offset[i - 1];
      const GgufTensor& after = *by_offset[i];
      if (before.offset + before.nbytes > after.offset) {  // both inside the file: no overflow
        subject_ = fmt::format("tensor '{}'", printable_name(after.name));
        return fail(
            ErrorCode::kCorruptData,
            fmt::format("data [offset {}, {} bytes] overlaps tensor '{}' [offset {}, {} "
                        "bytes]; {}",
                        file.data_offset_ + after.offset, after.nbytes, printable_name(before.name),
                        file.data_offset_ + before.offset, before.nbytes, kRedownload));
      }
    }
    return ok_status();
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& source_;
  std::string subject_;  // what is being read, for messages: "metadata key 'x'", "tensor 'y'"
};

Result<GgufFile> GgufFile::parse_bytes(std::span<const uint8_t> bytes, std::string source) {
  GgufFile file;
  file.source_ = std::move(source);
  file.bytes_ = bytes.data();
  file.size_ = bytes.size();
  GgufParser parser(file.bytes_, file.size_, file.source_);
  MX_RETURN_IF_ERROR(parser.run(file));
  return file;
}

Result<GgufFile> GgufFile::parse(std::shared_ptr<const MappedFile> mapped) {
  MX_ASSIGN_OR_RETURN(GgufFile file, parse_bytes({mapped->data(), mapped->size()}, mapped->path()));
  file.file_ = std::move(mapped);
  return file;
}

Result<GgufFile> GgufFile::open(const std::string& path) {
  MX_ASSIGN_OR_RETURN(auto mapped, MappedFile::open(path));
  return parse(std::move(mapped));
}

}  // namespace mx
