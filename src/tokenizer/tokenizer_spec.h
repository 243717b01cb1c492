// TokenizerSpec: a loader-neutral description of a tokenizer.
//
// Both loaders fill it: tokenizer.json (+ tokenizer_config.json) from a Hugging Face folder, and
// GGUF metadata (tokenizer.ggml.*). Tokenizer::create() turns a spec into the runtime structures
// (merge tables, compiled regexes, added-token matcher). Keeping the spec plain data means the
// two file formats meet in one place and can be compared field by field in tests.
//
// Invariants (checked by Tokenizer::create): every id in [0, tokens.size()) has an entry; merges
// name pieces of the model vocabulary; added tokens, bos/eos/unk/pad ids lie inside tokens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mx {

// Token kinds, numbered as GGUF's tokenizer.ggml.token_type (llama.cpp's enum).
enum class TokenType : uint8_t {
  kUndefined = 0,    // an id nothing defines (a gap in the vocabulary)
  kNormal = 1,       // an ordinary vocabulary piece
  kUnknown = 2,      // the unk token
  kControl = 3,      // special tokens (<s>, <|im_start|>): matched in text, skipped by skip_special
  kUserDefined = 4,  // added tokens that are not special (<think> in Qwen3)
  kUnused = 5,
  kByte = 6,         // <0xAB> byte-fallback pieces of SentencePiece-style vocabularies
};

struct TokenEntry {
  std::string piece;  // as stored in the vocabulary (byte-level alphabet, ▁ for spaces, ...)
  TokenType type = TokenType::kUndefined;
  float score = 0.0f;  // SentencePiece score (GGUF "llama" models); 0 elsewhere
  bool in_model = false;  // part of the BPE model's vocabulary (not only an added token)
};

// A token matched literally in the input before the model sees it (HF "added_tokens").
struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;      // skipped by decode(skip_special=true)
  bool lstrip = false;       // swallow whitespace on its left
  bool rstrip = false;       // swallow whitespace on its right
  bool single_word = false;  // only match when not inside a word
  bool normalized = false;   // matched in the normalized text instead of the raw text
};

enum class ModelType {
  kBpeMerges,  // merges list gives the merge priority (tokenizer.json BPE, GGUF "gpt2")
  kBpeScores,  // merge priority from the merged piece's score (GGUF "llama", SentencePiece BPE)
};

struct NormalizerStep {
  enum class Kind { kNfc, kNfd, kNfkc, kNfkd, kLowercase, kPrepend, kReplace };
  Kind kind = Kind::kNfc;
  std::string pattern;        // kReplace: what to replace
  bool pattern_is_regex = false;
  std::string content;        // kReplace: replacement; kPrepend: the prefix
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
enum class PrependScheme { kAlways, kFirst, kNever };

struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel, kMetaspace, kDigits };
  Kind kind = Kind::kSplit;
  // kSplit
  std::string pattern;
  bool pattern_is_regex = true;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  // kByteLevel
  bool add_prefix_space = false;
  bool use_regex = false;
  // kMetaspace
  std::string replacement = "\xE2\x96\x81";  // U+2581 ▁
  PrependScheme prepend_scheme = PrependScheme::kAlways;
  bool split = true;
  // kDigits
  bool individual_digits = false;
};

struct DecoderStep {
  enum class Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip, kMetaspace };
  Kind kind = Kind::kByteLevel;
  std::string pattern;  // kReplace (a plain string)
  std::string content;  // kReplace: replacement; kStrip: the character stripped
  int strip_start = 0;  // kStrip: how many leading `content` characters to remove
  int strip_stop = 0;   // kStrip: how many trailing ones
  std::string replacement = "\xE2\x96\x81";  // kMetaspace
  PrependScheme prepend_scheme = PrependScheme::kAlways;  // kMetaspace
};

// The GGUF pre-tokenizer names (tokenizer.ggml.pre) that select regex sets; tokenizer.json
// carries its regexes itself.
struct TokenizerSpec {
  std::string source;  // file or folder it came from, for error messages
  ModelType model = ModelType::kBpeMerges;
  std::vector<TokenEntry> tokens;  // indexed by id
  std::vector<std::pair<std::string, std::string>> merges;  // in priority order (kBpeMerges)
  bool byte_fallback = false;  // unknown characters become <0xAB> byte tokens
  bool fuse_unk = false;       // consecutive unknowns become one unk
  bool ignore_merges = false;  // a pre-token that is a whole vocabulary piece is taken as is
  std::optional<int32_t> unk_id;

  std::vector<AddedToken> added_tokens;
  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> pre_tokenizer;
  std::vector<DecoderStep> decoder;

  // What encode(add_special=true) puts around the text.
  std::vector<int32_t> prefix_ids;
  std::vector<int32_t> suffix_ids;
  std::optional<int32_t> bos_id, eos_id, pad_id;
};

// The pre-tokenizer regexes of well-known models, by GGUF tokenizer.ggml.pre name ("qwen2",
// "llama-bpe", "deepseek-v3", "gpt2", "default"). Empty when the name is unknown.
std::vector<PreTokenizerStep> pre_tokenizer_for_gguf_name(const std::string& name);

// The GPT-2 pre-tokenizer regex that ByteLevel(use_regex=true) applies.
extern const char* const kGpt2Regex;

}  // namespace mx
