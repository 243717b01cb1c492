// A model's description as GGUF metadata, for the tools that write GGUF files (test models,
// `mxserve quantize` from a Hugging Face folder): the `<arch>.*` config keys llama.cpp's
// converter writes, and the chat template a Hugging Face folder carries.
#pragma once

#include <string>

#include "io/gguf_writer.h"
#include "model/model_config.h"

namespace mx {

// general.architecture / name / quantization_version and the <arch>.* keys that
// model_config_from_gguf reads back for a dense model (no MoE / MLA keys, no rope scaling
// keys: llama3 scaling travels as the rope_freqs.weight tensor).
void set_gguf_arch_metadata(const ModelConfig& c, GgufWriter& w, const std::string& name);

// tokenizer_config.json's "chat_template" in `dir`, or "" when there is none.
std::string read_hf_chat_template(const std::string& dir);

}  // namespace mx
