#include "io/safetensors.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace mx {
namespace {

using nlohmann::json;

struct DTypeEntry {
  std::string_view name;
  uint32_t elem_bytes;
  std::optional<DType> dtype;
};

// Every dtype mxserve accepts in a safetensors file. U8 and BOOL parse (their sizes are
// validated) but have no DType: the HF loader rejects them if a model needs one.
constexpr std::array<DTypeEntry, 11> kDTypes = {{
    {"F64", 8, DType::F64},
    {"F32", 4, DType::F32},
    {"F16", 2, DType::F16},
    {"BF16", 2, DType::BF16},
    {"F8_E4M3", 1, DType::F8_E4M3},
    {"I64", 8, DType::I64},
    {"I32", 4, DType::I32},
    {"I16", 2, DType::I16},
    {"I8", 1, DType::I8},
    {"U8", 1, std::nullopt},
    {"BOOL", 1, std::nullopt},
}};

const DTypeEntry* find_dtype(std::string_view name) {
  for (const DTypeEntry& entry : kDTypes) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

// A name for messages: quoted, and cut short so a hostile 1 MB name cannot flood a log.
std::string shown(std::string_view name) {
  constexpr size_t kMaxShown = 120;
  if (name.size() <= kMaxShown) return fmt::format("'{}'", name);
  return fmt::format("'{}...' ({} bytes)", name.substr(0, kMaxShown), name.size());
}

// Parse-callback state that rejects duplicate keys in any object: nlohmann::json keeps the
// last of two equal keys silently, which would hide a duplicated tensor name.
struct DuplicateKeyCheck {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;  // first duplicated key seen
  int duplicate_depth = -1;
};

// Safetensors headers nest 3 levels deep ({tensor: {shape: [...]}}). Rejecting deeper input
// before parsing bounds the memory a hostile header can make the DOM parser allocate (100 MB of
// '[' would otherwise become 100 M nested arrays).
constexpr int kMaxHeaderDepth = 8;

Status check_nesting(std::string_view text, const std::string& name) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character (a quote or backslash cannot end the string)
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxHeaderDepth) {
        return make_error(ErrorCode::kCorruptData,
                          "{}: header JSON nests deeper than {} levels at byte {} of the header; "
                          "the file is corrupt or not a safetensors file",
                          name, kMaxHeaderDepth, i);
      }
    } else if (c == '}' || c == ']') {
      --depth;  // unbalanced input is left to the parser to report
    }
  }
  return ok_status();
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix, cut short: it
// quotes the last token read, which a hostile header can make megabytes long.
std::string parse_error_text(const std::string& what) {
  constexpr size_t kMaxShown = 240;
  auto bracket = what.find("] ");
  std::string text = bracket == std::string::npos ? what : what.substr(bracket + 2);
  if (text.size() > kMaxShown) text = text.substr(0, kMaxShown) + "...";
  return text;
}

Result<json> parse_header_json(std::string_view text, const std::string& name) {
  MX_RETURN_IF_ERROR(check_nesting(text, name));
  DuplicateKeyCheck check;
  json::parser_callback_t callback = [&check](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      check.open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!check.open_objects.empty()) check.open_objects.pop_back();
    } else if (event == json::parse_event_t::key && !check.open_objects.empty() &&
               parsed.is_string() && check.duplicate_depth < 0) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!check.open_objects.back().insert(key).second) {
        check.duplicate = key;
        check.duplicate_depth = depth;
      }
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text.begin(), text.end(), callback);
  } catch (const json::parse_error& e) {
    size_t offending = e.byte > 0 ? e.byte - 1 : 0;  // e.byte counts from 1
    return make_error(ErrorCode::kCorruptData,
                      "{}: header JSON is invalid at byte {} of the header (file offset {}): {}; "
                      "the file is corrupt or not a safetensors file",
                      name, offending, offending + 8, parse_error_text(e.what()));
  } catch (const json::exception& e) {  // not expected from parse; never let one escape
    return make_error(ErrorCode::kCorruptData, "{}: header JSON is invalid: {}", name,
                      parse_error_text(e.what()));
  }
  if (check.duplicate_depth == 1) {
    return make_error(ErrorCode::kCorruptData, "{}: tensor {} appears twice in the header", name,
                      shown(check.duplicate));
  }
  if (check.duplicate_depth >= 0) {
    return make_error(ErrorCode::kCorruptData, "{}: key {} appears twice in one header object",
                      name, shown(check.duplicate));
  }
  if (!header.is_object()) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: header must be a JSON object of tensors, got a {}", name,
                      header.type_name());
  }
  return header;
}

Result<std::map<std::string, std::string>> parse_metadata(const json& value,
                                                          const std::string& name) {
  if (!value.is_object()) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: '__metadata__' must be an object of strings, got a {}", name,
                      value.type_name());
  }
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return make_error(ErrorCode::kCorruptData,
                        "{}: '__metadata__' key {} must be a string, got a {}", name, shown(key),
                        item.type_name());
    }
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

// Shape → dims and the element count, rejecting negative, fractional and absurd dimensions.
Status parse_shape(const json& value, const std::string& where, SafetensorsTensor& tensor,
                   uint64_t& numel) {
  if (!value.is_array()) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: 'shape' must be an array of non-negative integers, got a {}", where,
                      value.type_name());
  }
  if (value.size() > kMaxSafetensorsRank) {
    return make_error(ErrorCode::kUnsupported, "{}: rank {} is above the supported {}", where,
                      value.size(), kMaxSafetensorsRank);
  }
  numel = 1;
  for (size_t i = 0; i < value.size(); ++i) {
    const json& dim = value[i];
    if (!dim.is_number_unsigned()) {
      return make_error(ErrorCode::kCorruptData,
                        "{}: shape[{}] must be a non-negative integer, got {}", where, i,
                        dim.dump());
    }
    uint64_t extent = dim.get<uint64_t>();
    if (extent > static_cast<uint64_t>(kMaxSafetensorsDim)) {
      return make_error(ErrorCode::kCorruptData, "{}: shape[{}] = {} is absurdly large (> 2^48)",
                        where, i, extent);
    }
    if (__builtin_mul_overflow(numel, extent, &numel)) {
      return make_error(ErrorCode::kCorruptData, "{}: shape {} has more than 2^64 elements", where,
                        value.dump());
    }
    tensor.shape.push_back(static_cast<int64_t>(extent));
  }
  if (numel > static_cast<uint64_t>(INT64_MAX)) {
    return make_error(ErrorCode::kCorruptData, "{}: shape {} has more than 2^63 elements", where,
                      value.dump());
  }
  return ok_status();
}

// data_offsets [begin, end) relative to the data section, of `data_bytes` bytes.
Status parse_offsets(const json& value, const std::string& where, uint64_t data_bytes,
                     uint64_t& begin, uint64_t& end) {
  if (!value.is_array() || value.size() != 2 || !value[0].is_number_unsigned() ||
      !value[1].is_number_unsigned()) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: 'data_offsets' must be [begin, end] with non-negative integers, got {}",
                      where, value.dump());
  }
  begin = value[0].get<uint64_t>();
  end = value[1].get<uint64_t>();
  if (begin > end) {
    return make_error(ErrorCode::kCorruptData, "{}: data_offsets begin {} is after end {}", where,
                      begin, end);
  }
  if (end > data_bytes) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: data_offsets [{}, {}) extend beyond the data section ({} bytes); the "
                      "file is truncated or corrupt",
                      where, begin, end, data_bytes);
  }
  return ok_status();
}

Result<SafetensorsTensor> parse_tensor(const std::string& tensor_name, const json& entry,
                                       const std::string& file_name, const uint8_t* data_section,
                                       uint64_t data_start, uint64_t data_bytes) {
  std::string where = fmt::format("{}: tensor {}", file_name, shown(tensor_name));
  if (tensor_name.empty()) {
    return make_error(ErrorCode::kCorruptData, "{}: a tensor has an empty name", file_name);
  }
  if (!entry.is_object()) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: entry must be an object with dtype, shape, data_offsets; got a {}",
                      where, entry.type_name());
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(key)) {
      return make_error(ErrorCode::kCorruptData, "{}: missing '{}'", where, key);
    }
  }
  const json& dtype = entry["dtype"];
  if (!dtype.is_string()) {
    return make_error(ErrorCode::kCorruptData, "{}: 'dtype' must be a string, got {}", where,
                      dtype.dump());
  }
  SafetensorsTensor tensor;
  tensor.name = tensor_name;
  tensor.dtype_name = dtype.get<std::string>();
  const DTypeEntry* type = find_dtype(tensor.dtype_name);
  if (type == nullptr) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: dtype {} is not supported (supported: F64 F32 F16 BF16 F8_E4M3 I64 "
                      "I32 I16 I8 U8 BOOL); convert the checkpoint to one of these",
                      where, shown(tensor.dtype_name));
  }
  tensor.dtype = type->dtype;
  tensor.elem_bytes = type->elem_bytes;
  uint64_t numel = 0;
  MX_RETURN_IF_ERROR(parse_shape(entry["shape"], where, tensor, numel));
  uint64_t begin = 0, end = 0;
  MX_RETURN_IF_ERROR(parse_offsets(entry["data_offsets"], where, data_bytes, begin, end));
  uint64_t expected = 0;
  if (__builtin_mul_overflow(numel, uint64_t{type->elem_bytes}, &expected)) {
    return make_error(ErrorCode::kCorruptData, "{}: byte size of shape {} overflows", where,
                      entry["shape"].dump());
  }
  if (end - begin != expected) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: data_offsets [{}, {}) hold {} bytes but {} x {} ({} elements of {} "
                      "bytes) needs {}",
                      where, begin, end, end - begin, tensor.dtype_name, entry["shape"].dump(),
                      numel, type->elem_bytes, expected);
  }
  tensor.offset = data_start + begin;
  tensor.nbytes = expected;
  tensor.data = expected == 0 ? nullptr : data_section + begin;
  return tensor;
}

// Non-empty tensors must not share bytes: a writer bug or a crafted file could otherwise make
// two weights alias.
Status check_overlaps(const std::vector<SafetensorsTensor>& tensors, const std::string& name) {
  std::vector<const SafetensorsTensor*> by_offset;
  for (const SafetensorsTensor& tensor : tensors) {
    if (tensor.nbytes > 0) by_offset.push_back(&tensor);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const SafetensorsTensor& prev = *by_offset[i - 1];
    const SafetensorsTensor& cur = *by_offset[i];
    if (cur.offset < prev.offset + prev.nbytes) {
      return make_error(ErrorCode::kCorruptData,
                        "{}: tensor {} (file bytes [{}, {})) overlaps tensor {} (file bytes [{}, "
                        "{})); the file is corrupt",
                        name, shown(cur.name), cur.offset, cur.offset + cur.nbytes,
                        shown(prev.name), prev.offset, prev.offset + prev.nbytes);
    }
  }
  return ok_status();
}

}  // namespace

std::optional<uint32_t> safetensors_elem_bytes(std::string_view dtype_name) {
  const DTypeEntry* entry = find_dtype(dtype_name);
  if (entry == nullptr) return std::nullopt;
  return entry->elem_bytes;
}

std::optional<DType> safetensors_dtype(std::string_view dtype_name) {
  const DTypeEntry* entry = find_dtype(dtype_name);
  if (entry == nullptr) return std::nullopt;
  return entry->dtype;
}

Result<SafetensorsFile> SafetensorsFile::parse_buffer(const uint8_t* data, size_t size,
                                                      std::string name) {
  if (size < 8 || data == nullptr) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: file is {} bytes, too short for the 8-byte header length; the file "
                      "is truncated or not a safetensors file",
                      name, size);
  }
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | data[i];  // little-endian
  if (header_bytes > kMaxSafetensorsHeaderBytes) {
    return make_error(ErrorCode::kOutOfRange,
                      "{}: header length {} is above the {} byte limit; the file is corrupt or "
                      "not a safetensors file",
                      name, header_bytes, kMaxSafetensorsHeaderBytes);
  }
  if (header_bytes > size - 8) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: header length {} goes beyond the end of the file ({} bytes); the file "
                      "is truncated or not a safetensors file",
                      name, header_bytes, size);
  }
  std::string_view text(reinterpret_cast<const char*>(data) + 8, header_bytes);
  MX_ASSIGN_OR_RETURN(json header, parse_header_json(text, name));

  SafetensorsFile result;
  result.path_ = std::move(name);
  result.header_bytes_ = header_bytes;
  uint64_t data_start = 8 + header_bytes;
  const uint8_t* data_section = data + data_start;
  uint64_t data_bytes = size - data_start;
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") {
      MX_ASSIGN_OR_RETURN(result.metadata_, parse_metadata(entry, result.path_));
      continue;
    }
    MX_ASSIGN_OR_RETURN(
        SafetensorsTensor tensor,
        parse_tensor(key, entry, result.path_, data_section, data_start, data_bytes));
    result.tensors_.push_back(std::move(tensor));
  }
  // nlohmann::json objects iterate in key order, so tensors_ is sorted by name already.
  MX_RETURN_IF_ERROR(check_overlaps(result.tensors_, result.path_));
  return result;
}

Result<SafetensorsFile> SafetensorsFile::parse(std::shared_ptr<const MappedFile> file) {
  if (file == nullptr) return make_error(ErrorCode::kInternal, "SafetensorsFile::parse: no file");
  MX_ASSIGN_OR_RETURN(SafetensorsFile result,
                      parse_buffer(file->data(), file->size(), file->path()));
  result.file_ = std::move(file);
  return result;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  MX_ASSIGN_OR_RETURN(std::shared_ptr<const MappedFile> file, MappedFile::open(path));
  return parse(std::move(file));
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  auto it =
      std::lower_bound(tensors_.begin(), tensors_.end(), name,
                       [](const SafetensorsTensor& t, std::string_view n) { return t.name < n; });
  if (it == tensors_.end() || it->name != name) return nullptr;
  return &*it;
}

}  // namespace mx
