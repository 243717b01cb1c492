// HF folder: config files and the overall load. Weight files and tensors: hf_weights.cpp.
#include "io/hf_model.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <system_error>

#include "core/mapped_file.h"

namespace mx {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);  // follows symlinks (the HF cache links to blobs)
}

// Optional JSON file: null when absent, an error when present but broken.
Result<json> read_optional_json(const fs::path& path) {
  if (!is_file(path)) return json();
  return read_json_file(path.string());
}

// "quantization_config": {"weight_block_size": [128, 128]} → block rows/cols.
Status parse_fp8_block(const std::string& config_path, HfModel& model) {
  auto quant = model.config.find("quantization_config");
  if (quant == model.config.end() || !quant->is_object()) return ok_status();
  auto block = quant->find("weight_block_size");
  if (block == quant->end()) return ok_status();
  if (!block->is_array() || block->size() != 2 || !(*block)[0].is_number_unsigned() ||
      !(*block)[1].is_number_unsigned() || (*block)[0].get<uint64_t>() == 0 ||
      (*block)[1].get<uint64_t>() == 0 || (*block)[0].get<uint64_t>() > 65536 ||
      (*block)[1].get<uint64_t>() > 65536) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: 'quantization_config.weight_block_size' must be [rows, cols] with "
                      "integers in [1, 65536], got {}",
                      config_path, block->dump());
  }
  model.fp8_block_rows = (*block)[0].get<int64_t>();
  model.fp8_block_cols = (*block)[1].get<int64_t>();
  return ok_status();
}

// model_type / architectures → family; either may be missing but not both.
Status parse_architecture(const std::string& config_path, HfModel& model) {
  const json& config = model.config;
  if (auto it = config.find("model_type"); it != config.end()) {
    if (!it->is_string()) {
      return make_error(ErrorCode::kCorruptData, "{}: 'model_type' must be a string, got {}",
                        config_path, it->dump());
    }
    model.model_type = it->get<std::string>();
  }
  if (auto it = config.find("architectures"); it != config.end()) {
    if (!it->is_array() || it->empty() || !(*it)[0].is_string()) {
      return make_error(ErrorCode::kCorruptData,
                        "{}: 'architectures' must be a non-empty array of strings, got {}",
                        config_path, it->dump());
    }
    model.architecture = (*it)[0].get<std::string>();
  }
  std::optional<HfFamily> family = hf_family_from_model_type(model.model_type);
  if (!family) family = hf_family_from_architecture(model.architecture);
  if (!family) {
    return make_error(ErrorCode::kUnsupported,
                      "{}: model_type '{}' (architecture '{}') is not supported; supported "
                      "model_type values: {}",
                      config_path, model.model_type, model.architecture,
                      hf_supported_model_types());
  }
  model.family = *family;
  return ok_status();
}

Status read_config_files(const fs::path& dir, HfModel& model) {
  fs::path config_path = dir / "config.json";
  if (!is_file(config_path)) {
    return make_error(ErrorCode::kNotFound,
                      "{}: no config.json; is this a Hugging Face model folder? (a GGUF model is "
                      "a single .gguf file)",
                      dir.string());
  }
  MX_ASSIGN_OR_RETURN(model.config, read_json_file(config_path.string()));
  if (!model.config.is_object()) {
    return make_error(ErrorCode::kCorruptData, "{}: must be a JSON object, got a {}",
                      config_path.string(), model.config.type_name());
  }
  MX_RETURN_IF_ERROR(parse_architecture(config_path.string(), model));
  MX_RETURN_IF_ERROR(parse_fp8_block(config_path.string(), model));
  MX_ASSIGN_OR_RETURN(model.generation_config, read_optional_json(dir / "generation_config.json"));
  MX_ASSIGN_OR_RETURN(model.tokenizer_config, read_optional_json(dir / "tokenizer_config.json"));
  if (is_file(dir / "tokenizer.json")) {
    model.tokenizer_json_path = (dir / "tokenizer.json").string();
  }
  return ok_status();
}

}  // namespace

Result<json> read_json_file(const std::string& path) {
  MX_ASSIGN_OR_RETURN(std::string text, read_text_file(path));
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    auto bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    return make_error(ErrorCode::kCorruptData, "{}: invalid JSON at byte {}: {}", path,
                      e.byte > 0 ? e.byte - 1 : 0, what);  // e.byte counts from 1
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kCorruptData, "{}: invalid JSON: {}", path, e.what());
  }
}

bool is_hf_model_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && is_file(fs::path(path) / "config.json");
}

Result<HfModel> load_hf_model(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return make_error(ErrorCode::kNotFound,
                      "{}: not a directory; expected a Hugging Face model "
                      "folder with config.json and *.safetensors",
                      dir);
  }
  HfModel model;
  model.dir = dir;
  model.weights.source = dir;
  model.weights.qk_rows_hf_order = true;  // never permuted here: see WeightMap
  MX_RETURN_IF_ERROR(read_config_files(fs::path(dir), model));
  MX_ASSIGN_OR_RETURN(HfWeightFiles files, find_hf_weight_files(dir));
  MX_RETURN_IF_ERROR(load_hf_weights(files, model));

  auto tie = model.config.find("tie_word_embeddings");
  if (tie != model.config.end() && tie->is_boolean()) {
    model.tie_word_embeddings = tie->get<bool>();
  } else {
    model.tie_word_embeddings = model.weights.find("output.weight") == nullptr;
  }
  if (!model.unmapped_tensors.empty()) {
    spdlog::debug("{}: {} tensor(s) have no canonical name and keep their HF names, e.g. '{}'", dir,
                  model.unmapped_tensors.size(), model.unmapped_tensors.front());
    for (const std::string& name : model.unmapped_tensors) spdlog::debug("  unmapped: {}", name);
  }
  spdlog::debug("{}: loaded {} tensors from {} file(s), family {}", dir, model.weights.size(),
                model.weight_files.size(), hf_family_name(model.family));
  return model;
}

}  // namespace mx
