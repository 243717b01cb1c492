// Hugging Face model folders: config, tokenizer files and safetensors weights → HfModel.
//
// A folder holds config.json (required), generation_config.json and tokenizer_config.json
// (optional), tokenizer.json (optional, only its path is recorded), and weights either in one
// model.safetensors or in shards listed by model.safetensors.index.json ("weight_map":
// tensor name → shard file name). load_hf_model() maps every weight file and produces the same
// WeightMap the GGUF loader does: canonical GGUF names (see io/hf_names.h), outermost-first
// shapes, data pointing into the mappings (zero copy).
//
// Differences from a GGUF file that model code must know about:
//  - Routed experts are one tensor per expert, "blk.N.ffn_gate_exps.E.weight" [n_ff, n_embd],
//    not GGUF's stacked "blk.N.ffn_gate_exps.weight" [n_expert, n_ff, n_embd]: stacking would
//    copy the mmapped data.
//  - Q/K rows keep the HF order (WeightMap::qk_rows_hf_order = true): llama-family models need
//    rotate-half (NeoX) RoPE, where llama.cpp's converter permutes rows for interleaved RoPE.
//  - FP8 (E4M3) block-scaled weights stay FP8; each has "<canonical stem>.scale_inv" (F32,
//    [ceil(rows / block_rows), ceil(cols / block_cols)]), validated here against the weight.
//  - Tied embeddings (tie_word_embeddings) leave "output.weight" absent.
//  - A tensor with no canonical name is kept under its HF name (HfModel::unmapped_tensors).
// Checks: every shard the index names exists and lies in the folder (a plain file name, so
// "../x" or "/etc/x" cannot escape; symlinks such as the HF cache's are followed), every tensor
// the index lists is in its shard, and every safetensors file passes SafetensorsFile's checks.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/hf_names.h"
#include "io/weight_map.h"

namespace mx {

struct HfModel {
  std::string dir;           // the model folder
  nlohmann::json config;     // config.json as parsed (an object)
  std::string model_type;    // config "model_type", "" when absent
  std::string architecture;  // config "architectures"[0], "" when absent
  HfFamily family = HfFamily::kLlama;
  nlohmann::json generation_config;  // generation_config.json; null when the file is absent
  nlohmann::json tokenizer_config;   // tokenizer_config.json; null when the file is absent
  std::string tokenizer_json_path;   // path of tokenizer.json; "" when absent
  // config "tie_word_embeddings"; when the key is absent, true iff there is no lm_head.
  bool tie_word_embeddings = false;
  // FP8 block size from config "quantization_config.weight_block_size" [rows, cols]; 128 x 128
  // when absent. Elements per scale_inv entry along out_features (rows) and in_features (cols).
  int64_t fp8_block_rows = 128;
  int64_t fp8_block_cols = 128;
  std::vector<std::string> weight_files;      // safetensors files, as loaded
  std::vector<std::string> unmapped_tensors;  // HF names kept as they are
  WeightMap weights;
};

// True when `path` is a directory with a config.json (how callers tell a folder from a GGUF).
bool is_hf_model_dir(const std::string& path);

// Loads the folder. Errors name the file and tensor or key and say what to do.
Result<HfModel> load_hf_model(const std::string& dir);

// Parses a small JSON file (config, index); errors name the file and the byte position.
Result<nlohmann::json> read_json_file(const std::string& path);

// The safetensors files of a folder and, for sharded folders, which file holds which tensor.
struct HfWeightFiles {
  std::vector<std::string> files;                  // full paths, in load order
  std::map<std::string, std::string> tensor_file;  // tensor → full path; empty when unsharded
  std::string index_path;                          // "" when unsharded
};

// Finds model.safetensors.index.json (preferred) or model.safetensors in `dir` and checks the
// index: shard names are plain file names inside `dir` and the shards exist.
Result<HfWeightFiles> find_hf_weight_files(const std::string& dir);

// Adds the tensors of all files to model.weights under canonical names, checking that every
// tensor the index lists is present in its shard; then validates the FP8 block scales.
Status load_hf_weights(const HfWeightFiles& files, HfModel& model);

}  // namespace mx
