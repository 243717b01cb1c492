// Writing a TokenizerSpec as GGUF tokenizer metadata (tokenizer.ggml.*), the way llama.cpp's
// converter lays it out, so that a test model written by mxserve carries its real tokenizer and
// llama.cpp (the peer) reads the same vocabulary.
#pragma once

#include <string>

#include "core/status.h"
#include "io/gguf_writer.h"
#include "tokenizer/tokenizer_spec.h"

namespace mx {

// The GGUF pre-tokenizer name ("qwen2", "llama-bpe", "deepseek-v3", "gpt2") whose regexes equal
// the spec's pre-tokenizer; an error when none does.
Result<std::string> gguf_pre_tokenizer_name(const TokenizerSpec& spec);

// Sets tokenizer.ggml.{model, pre, tokens, token_type, scores?, merges?, *_token_id,
// add_bos_token, add_eos_token} and, when non-empty, tokenizer.chat_template.
Status add_tokenizer_to_gguf(const TokenizerSpec& spec, const std::string& chat_template,
                             GgufWriter& writer);

}  // namespace mx
