// Loading a TokenizerSpec from a Hugging Face tokenizer.json (+ tokenizer_config.json).
//
// Supported components (anything else is a kUnsupported error naming the component):
//   normalizer:     NFC NFD NFKC NFKD Lowercase Prepend Replace Sequence (null = none)
//   pre_tokenizer:  Split (Regex or String; any behavior; invert) ByteLevel Metaspace Digits
//                   Sequence
//   model:          BPE (merges as "a b" strings or [a, b] pairs; byte_fallback, fuse_unk,
//                   ignore_merges; no dropout, no subword prefix/suffix)
//   post_processor: TemplateProcessing ByteLevel RobertaProcessing BertProcessing Sequence
//   decoder:        ByteLevel Replace(String) ByteFallback Fuse Strip Metaspace Sequence
//
// BOS/EOS for encode(add_special): the post_processor's template decides, except for the
// tokenizer classes whose transformers implementation rebuilds that template from
// tokenizer_config.json's add_bos_token / add_eos_token (LlamaTokenizer(Fast), GemmaTokenizer,
// CodeLlamaTokenizer): there those flags decide, as `AutoTokenizer` does for DeepSeek-V3.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "tokenizer/tokenizer_spec.h"

namespace mx {

// `tokenizer_json` and `config_json` are file contents (config may be empty: no config file);
// `source` names them in errors.
Result<TokenizerSpec> parse_tokenizer_json(std::string_view tokenizer_json,
                                           std::string_view config_json,
                                           const std::string& source);

// Reads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json.
Result<TokenizerSpec> load_tokenizer_json_dir(const std::string& dir);

}  // namespace mx
