// Loading a TokenizerSpec from GGUF metadata (tokenizer.ggml.*).
//
//   tokenizer.ggml.model  "gpt2": byte-level BPE with merges; tokenizer.ggml.pre picks the
//                         pre-tokenizer regexes ("qwen2", "llama-bpe", "deepseek-v3", "gpt2",
//                         "default"); "llama": SentencePiece BPE ranked by scores, byte fallback
//   tokenizer.ggml.tokens / token_type / scores / merges
//   tokenizer.ggml.{bos,eos,unknown,padding}_token_id, add_bos_token, add_eos_token
// Control and user-defined tokens become added tokens (special and not), matched in text.
#pragma once

#include <string>

#include "core/status.h"
#include "tokenizer/tokenizer_spec.h"

namespace mx {

class GgufFile;

Result<TokenizerSpec> load_gguf_tokenizer(const std::string& path);
// The same from an already parsed file (tests, fuzzing, model loading that has the file open).
Result<TokenizerSpec> tokenizer_spec_from_gguf(const GgufFile& file);

}  // namespace mx
