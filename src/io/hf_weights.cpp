// HF folder weights: which safetensors files, their tensors under canonical names, and the
// FP8 block-scale checks. The folder-level flow is in hf_model.cpp.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <filesystem>
#include <set>
#include <system_error>

#include "io/hf_model.h"
#include "io/safetensors.h"

namespace mx {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// Shard names in an index must be plain file names: no directories, so no "../" escape.
bool is_plain_file_name(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  return name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

Result<HfWeightFiles> read_index(const fs::path& dir, const fs::path& index_path) {
  HfWeightFiles result;
  result.index_path = index_path.string();
  MX_ASSIGN_OR_RETURN(json index, read_json_file(result.index_path));
  auto weight_map = index.is_object() ? index.find("weight_map") : index.end();
  if (!index.is_object() || weight_map == index.end() || !weight_map->is_object()) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: must be an object with a 'weight_map' object (tensor name → shard "
                      "file)",
                      result.index_path);
  }
  std::set<std::string> seen_files;
  for (const auto& [tensor, shard] : weight_map->items()) {
    if (!shard.is_string()) {
      return make_error(ErrorCode::kCorruptData,
                        "{}: weight_map['{}'] must be a shard file name, got {}", result.index_path,
                        tensor, shard.dump());
    }
    const std::string& shard_name = shard.get_ref<const std::string&>();
    if (!is_plain_file_name(shard_name)) {
      return make_error(ErrorCode::kCorruptData,
                        "{}: tensor '{}': shard '{}' is not a plain file name; shards must be "
                        "files inside {} (refusing to read outside the model folder)",
                        result.index_path, tensor, shard_name, dir.string());
    }
    std::string path = (dir / shard_name).string();
    if (seen_files.insert(path).second) {
      if (!is_file(path)) {
        return make_error(ErrorCode::kNotFound,
                          "{}: tensor '{}': shard '{}' does not exist in {}; the download is "
                          "incomplete, fetch the missing shard",
                          result.index_path, tensor, shard_name, dir.string());
      }
      result.files.push_back(path);
    }
    result.tensor_file.emplace(tensor, std::move(path));
  }
  if (result.files.empty()) {
    return make_error(ErrorCode::kCorruptData, "{}: 'weight_map' lists no tensors",
                      result.index_path);
  }
  return result;
}

Status add_tensor(const SafetensorsTensor& tensor, const std::string& file, HfModel& model) {
  if (!tensor.dtype) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: tensor '{}': dtype {} has no mxserve equivalent; supported: F64 F32 "
                      "F16 BF16 F8_E4M3 I64 I32 I16 I8",
                      file, tensor.name, tensor.dtype_name);
  }
  std::optional<std::string> canonical = hf_to_canonical_name(tensor.name);
  if (!canonical) model.unmapped_tensors.push_back(tensor.name);
  TensorInfo info;
  info.name = canonical.value_or(tensor.name);
  info.dtype = *tensor.dtype;
  info.shape = tensor.shape;
  info.data = tensor.data;
  info.nbytes = tensor.nbytes;
  info.source = file;
  Status added = model.weights.add(std::move(info));
  if (!added.ok()) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: tensor '{}' maps to '{}', which another tensor already uses", file,
                      tensor.name, canonical.value_or(tensor.name));
  }
  return ok_status();
}

// The format does not promise alignment; the reference writer aligns every tensor to its
// element size. Kernels that take float* / uint16_t* need that, so say when a file lacks it.
void warn_if_unaligned(const SafetensorsFile& file) {
  size_t unaligned = 0;
  const SafetensorsTensor* example = nullptr;
  for (const SafetensorsTensor& tensor : file.tensors()) {
    if (tensor.nbytes > 0 && reinterpret_cast<uintptr_t>(tensor.data) % tensor.elem_bytes != 0) {
      ++unaligned;
      if (example == nullptr) example = &tensor;
    }
  }
  if (unaligned > 0) {
    spdlog::warn(
        "{}: {} tensor(s), e.g. '{}', are not aligned to their element size; rewrite "
        "the file with the safetensors library for aligned (faster, portable) reads",
        file.path(), unaligned, example->name);
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// An FP8 weight [rows, cols] needs F32 scale_inv [ceil(rows/block_rows), ceil(cols/block_cols)].
Status check_fp8_pair(const TensorInfo& weight, const TensorInfo& scale, const HfModel& model) {
  if (weight.dtype != DType::F8_E4M3 || weight.shape.size() != 2) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: tensor '{}' has block scales '{}' but is {} with rank {}, not a 2-D "
                      "F8_E4M3 matrix",
                      weight.source, weight.name, scale.name, dtype_name(weight.dtype),
                      weight.shape.size());
  }
  std::vector<int64_t> expected = {ceil_div(weight.shape[0], model.fp8_block_rows),
                                   ceil_div(weight.shape[1], model.fp8_block_cols)};
  if (scale.dtype != DType::F32 || scale.shape != expected) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: tensor '{}' is {} [{}] but FP8 weight '{}' [{}, {}] with {}x{} blocks "
                      "needs f32 [{}, {}]",
                      scale.source, scale.name, dtype_name(scale.dtype),
                      fmt::join(scale.shape, ", "), weight.name, weight.shape[0], weight.shape[1],
                      model.fp8_block_rows, model.fp8_block_cols, expected[0], expected[1]);
  }
  return ok_status();
}

// Every FP8 ".weight" has its ".scale_inv" (canonical names) or "_scale_inv" (unmapped HF
// names) and every scale its FP8 weight.
Status check_fp8_scales(const HfModel& model) {
  const WeightMap& weights = model.weights;
  for (const auto& [name, info] : weights.tensors()) {
    constexpr std::string_view kScale = ".scale_inv";
    constexpr std::string_view kHfScale = ".weight_scale_inv";
    std::string stem;
    if (name.ends_with(kHfScale)) {
      stem = name.substr(0, name.size() - kHfScale.size());
    } else if (name.ends_with(kScale)) {
      stem = name.substr(0, name.size() - kScale.size());
    } else if (info.dtype == DType::F8_E4M3) {
      std::string scale = name.ends_with(".weight")
                              ? name.substr(0, name.size() - 7) + std::string(kScale)
                              : name + std::string(kScale);
      if (!weights.find(scale) && !weights.find(name + "_scale_inv")) {
        return make_error(ErrorCode::kUnsupported,
                          "{}: FP8 tensor '{}' has no block scales '{}'; only block-scaled FP8 "
                          "(DeepSeek-V3 style weight_scale_inv) is supported",
                          info.source, name, scale);
      }
      continue;
    } else {
      continue;
    }
    const TensorInfo* weight = weights.find(stem + ".weight");
    if (weight == nullptr) {
      return make_error(ErrorCode::kCorruptData, "{}: block scales '{}' have no weight '{}.weight'",
                        info.source, name, stem);
    }
    MX_RETURN_IF_ERROR(check_fp8_pair(*weight, info, model));
  }
  return ok_status();
}

}  // namespace

Result<HfWeightFiles> find_hf_weight_files(const std::string& dir) {
  fs::path folder(dir);
  fs::path index = folder / "model.safetensors.index.json";
  if (is_file(index)) return read_index(folder, index);
  if (is_file(folder / "model.safetensors")) {
    HfWeightFiles result;
    result.files.push_back((folder / "model.safetensors").string());
    return result;
  }
  if (is_file(folder / "pytorch_model.bin") || is_file(folder / "pytorch_model.bin.index.json")) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: weights are in PyTorch pickle format (pytorch_model.bin); only "
                      "safetensors is supported: convert them to model.safetensors",
                      dir);
  }
  return make_error(ErrorCode::kNotFound,
                    "{}: no model.safetensors or model.safetensors.index.json; the folder has "
                    "no weights in a supported form",
                    dir);
}

Status load_hf_weights(const HfWeightFiles& files, HfModel& model) {
  const bool sharded = !files.index_path.empty();
  std::map<std::string, std::vector<std::string>> expected_by_file;  // file → index tensors
  for (const auto& [tensor, file] : files.tensor_file) expected_by_file[file].push_back(tensor);

  for (const std::string& file : files.files) {
    MX_ASSIGN_OR_RETURN(SafetensorsFile shard, SafetensorsFile::open(file));
    model.weights.keep_alive(shard.file());
    model.weight_files.push_back(file);
    warn_if_unaligned(shard);
    for (const SafetensorsTensor& tensor : shard.tensors()) {
      auto listed = files.tensor_file.find(tensor.name);
      if (sharded && (listed == files.tensor_file.end() || listed->second != file)) {
        spdlog::warn("{}: tensor '{}' is not listed for this shard in {}; ignored", file,
                     tensor.name, files.index_path);
        continue;
      }
      MX_RETURN_IF_ERROR(add_tensor(tensor, file, model));
    }
    for (const std::string& tensor : expected_by_file[file]) {
      if (shard.find(tensor) == nullptr) {
        return make_error(ErrorCode::kNotFound,
                          "{}: tensor '{}' is listed in {} but missing from this shard; the "
                          "shard is stale or the index is wrong",
                          file, tensor, files.index_path);
      }
    }
  }
  return check_fp8_scales(model);
}

}  // namespace mx
