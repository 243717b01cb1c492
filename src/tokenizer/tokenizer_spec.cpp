// Pre-tokenizer regexes of well-known models, for GGUF files (which name the set in
// tokenizer.ggml.pre instead of storing it). The patterns are the ones these models publish in
// their tokenizer.json; tests check that both spellings tokenize alike.
#include "tokenizer/tokenizer_spec.h"

namespace mx {

const char* const kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// Qwen2 / Qwen2.5 / Qwen3: single digits.
const char* const kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Llama 3: digits in groups of up to three.
const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek-V3: digit groups, then CJK/kana runs, then the rest. Spelled exactly as in its
// tokenizer.json (literal CJK characters, CR and LF inside classes), so the two compare equal.
const char* const kDeepSeekV3Regexes[] = {
    R"(\p{N}{1,3})",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    ("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
     " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
};

// MiniMax-M2 (GPT-4o style: case-aware letter runs, so "HelloWorld" splits, digit groups of up
// to three, punctuation runs keep a trailing '/'), as its tokenizer.json has it (llama.cpp quotes
// it in llama-vocab.cpp for tokenizer.ggml.pre "minimax-m2").
const char* const kMinimaxM2Regex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
    R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

PreTokenizerStep split_step(const char* pattern) {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kSplit;
  step.pattern = pattern;
  step.behavior = SplitBehavior::kIsolated;
  return step;
}

PreTokenizerStep byte_level_step(bool use_regex) {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kByteLevel;
  step.add_prefix_space = false;
  step.use_regex = use_regex;
  return step;
}

}  // namespace

std::vector<PreTokenizerStep> pre_tokenizer_for_gguf_name(const std::string& name) {
  if (name == "qwen2") return {split_step(kQwen2Regex), byte_level_step(false)};
  if (name == "llama-bpe" || name == "llama3") {
    return {split_step(kLlama3Regex), byte_level_step(false)};
  }
  if (name == "deepseek-v3") {
    return {split_step(kDeepSeekV3Regexes[0]), split_step(kDeepSeekV3Regexes[1]),
            split_step(kDeepSeekV3Regexes[2]), byte_level_step(false)};
  }
  if (name == "minimax-m2") return {split_step(kMinimaxM2Regex), byte_level_step(false)};
  // GGUF files without a recognised name get the plain GPT-2 byte-level split.
  if (name == "gpt2" || name == "default") return {byte_level_step(true)};
  return {};
}

}  // namespace mx
