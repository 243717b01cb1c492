// Writing random-weight test models (test_model.h) as GGUF files or Hugging Face folders, with a
// real tokenizer (tokenizer.json folder) and its chat template. `mxserve make-test-model` calls
// this; tests and benchmarks make every model they need with it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "core/status.h"
#include "io/gguf_writer.h"
#include "model/model_config.h"
#include "model/test_model.h"

namespace mx {

// How tensors are stored. kF32/kF16/kBf16 and single quant types apply to every matrix;
// kQ4KM is llama.cpp's Q4_K_M mix (Q4_K, with Q6_K for the output, for attn_v and ffn_down in
// the layers llama.cpp gives more bits). 1-D tensors (norms, biases) are always F32.
// kFp8 (HF folders only): DeepSeek-V3 style E4M3 projection matrices with 128 x 128 block
// scales (weight_scale_inv); other tensors F32.
enum class TestModelType { kF32, kF16, kBf16, kQ8_0, kQ4_0, kQ4K, kQ5K, kQ6K, kQ4KM, kFp8 };

Result<TestModelType> parse_test_model_type(const std::string& name);  // "q4_k_m", "f16", ...

struct TestModelRequest {
  TestModelSpec spec;  // arch, size, seed (vocab_size is taken from the tokenizer)
  std::string tokenizer_dir;
  std::string out;       // .gguf file or folder
  bool hf_format = false;
  TestModelType type = TestModelType::kF32;
  // Tests: write this shape instead of spec's tiny/bench one (vocab_size still comes from the
  // tokenizer).
  std::optional<ModelConfig> config;
};

Status write_test_model(const TestModelRequest& request);

// Also used by `mxserve quantize` for Hugging Face sources:
// general.architecture / name / quantization_version and the <arch>.* keys that
// model_config_from_gguf reads back for a dense model (llama3 rope scaling travels as the
// rope_freqs.weight tensor, not as keys).
void set_arch_metadata(const ModelConfig& c, GgufWriter& w, const std::string& name);
// tokenizer_config.json's "chat_template" in the folder, or "" when there is none.
std::string chat_template_of(const std::string& tokenizer_dir);

}  // namespace mx
