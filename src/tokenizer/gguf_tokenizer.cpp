// GGUF tokenizer.ggml.* metadata -> TokenizerSpec. The pipeline pieces that GGUF does not
// store (normalizer, pre-tokenizer regexes, decoder) follow from tokenizer.ggml.model and
// tokenizer.ggml.pre, matching what the same models' tokenizer.json says.
#include "tokenizer/gguf_tokenizer.h"

#include "io/gguf.h"

namespace mx {
namespace {

constexpr const char* kSpace = "\xE2\x96\x81";  // ▁, SentencePiece's space

DecoderStep decoder_step(DecoderStep::Kind kind) {
  DecoderStep step;
  step.kind = kind;
  return step;
}

NormalizerStep normalizer_step(NormalizerStep::Kind kind, std::string pattern,
                               std::string content) {
  NormalizerStep step;
  step.kind = kind;
  step.pattern = std::move(pattern);
  step.content = std::move(content);
  return step;
}

Status read_tokens(const GgufFile& file, TokenizerSpec& spec) {
  MX_ASSIGN_OR_RETURN(auto tokens, file.get_string_array("tokenizer.ggml.tokens"));
  if (tokens.empty()) return make_error(ErrorCode::kCorruptData, "tokenizer.ggml.tokens is empty");
  spec.tokens.resize(tokens.size());
  for (size_t id = 0; id < tokens.size(); ++id) {
    spec.tokens[id].piece = std::string(tokens[id]);
    spec.tokens[id].type = TokenType::kNormal;
  }
  if (file.find("tokenizer.ggml.token_type")) {
    MX_ASSIGN_OR_RETURN(auto types, file.get_i32_array("tokenizer.ggml.token_type"));
    if (types.size() != tokens.size()) {
      return make_error(ErrorCode::kCorruptData, "tokenizer.ggml.token_type has {} entries for {} "
                        "tokens", types.size(), tokens.size());
    }
    for (size_t id = 0; id < types.size(); ++id) {
      if (types[id] < 0 || types[id] > static_cast<int32_t>(TokenType::kByte)) {
        return make_error(ErrorCode::kCorruptData, "tokenizer.ggml.token_type[{}] = {} is not a "
                          "token type", id, types[id]);
      }
      spec.tokens[id].type = static_cast<TokenType>(types[id]);
    }
  }
  if (file.find("tokenizer.ggml.scores")) {
    MX_ASSIGN_OR_RETURN(auto scores, file.get_f32_array("tokenizer.ggml.scores"));
    if (scores.size() != tokens.size()) {
      return make_error(ErrorCode::kCorruptData, "tokenizer.ggml.scores has {} entries for {} "
                        "tokens", scores.size(), tokens.size());
    }
    for (size_t id = 0; id < scores.size(); ++id) spec.tokens[id].score = scores[id];
  }
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    TokenEntry& token = spec.tokens[id];
    // Control, user-defined and unknown tokens are matched in text as added tokens; they are
    // not pieces BPE may produce.
    token.in_model = token.type == TokenType::kNormal || token.type == TokenType::kByte;
    bool added = token.type == TokenType::kControl || token.type == TokenType::kUserDefined ||
                 token.type == TokenType::kUnknown;
    if (added && !token.piece.empty()) {
      AddedToken entry;
      entry.content = token.piece;
      entry.id = static_cast<int32_t>(id);
      entry.special = token.type != TokenType::kUserDefined;
      spec.added_tokens.push_back(std::move(entry));
    }
  }
  return ok_status();
}

Status read_merges(const GgufFile& file, TokenizerSpec& spec) {
  MX_ASSIGN_OR_RETURN(auto merges, file.get_string_array("tokenizer.ggml.merges"));
  spec.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    std::string_view merge = merges[i];
    size_t space = merge.find(' ');
    if (space == std::string_view::npos || merge.find(' ', space + 1) != std::string_view::npos) {
      return make_error(ErrorCode::kCorruptData, "tokenizer.ggml.merges[{}] is not 'a b'", i);
    }
    spec.merges.emplace_back(std::string(merge.substr(0, space)),
                             std::string(merge.substr(space + 1)));
  }
  return ok_status();
}

Result<std::optional<int32_t>> read_id(const GgufFile& file, const char* key, size_t vocab_size) {
  if (!file.find(key)) return std::optional<int32_t>();
  MX_ASSIGN_OR_RETURN(int64_t id, file.get_i64(key));
  // llama.cpp writes -1 (as u32 0xFFFFFFFF in some files) for "none".
  if (id < 0 || id == 0xFFFFFFFF) return std::optional<int32_t>();
  if (id >= static_cast<int64_t>(vocab_size)) {
    return make_error(ErrorCode::kCorruptData, "{} = {} is outside the vocabulary ({} tokens)", key,
                      id, vocab_size);
  }
  return std::optional<int32_t>(static_cast<int32_t>(id));
}

void set_spm_pipeline(TokenizerSpec& spec, bool add_space_prefix) {
  // The Hugging Face "legacy" Llama pipeline: spaces become ▁, one ▁ before each text piece.
  if (add_space_prefix) {
    spec.normalizer.push_back(normalizer_step(NormalizerStep::Kind::kPrepend, "", kSpace));
  }
  spec.normalizer.push_back(normalizer_step(NormalizerStep::Kind::kReplace, " ", kSpace));
  DecoderStep replace = decoder_step(DecoderStep::Kind::kReplace);
  replace.pattern = kSpace;
  replace.content = " ";
  DecoderStep strip = decoder_step(DecoderStep::Kind::kStrip);
  strip.content = " ";
  strip.strip_start = add_space_prefix ? 1 : 0;
  spec.decoder = {replace, decoder_step(DecoderStep::Kind::kByteFallback),
                  decoder_step(DecoderStep::Kind::kFuse), strip};
  spec.byte_fallback = true;
  spec.fuse_unk = true;
}

Status set_pipeline(const GgufFile& file, const std::string& model, TokenizerSpec& spec) {
  if (model == "gpt2") {
    spec.model = ModelType::kBpeMerges;
    MX_RETURN_IF_ERROR(read_merges(file, spec));
    std::string pre = "default";
    if (file.find("tokenizer.ggml.pre")) {
      MX_ASSIGN_OR_RETURN(auto name, file.get_string("tokenizer.ggml.pre"));
      pre = std::string(name);
    }
    spec.pre_tokenizer = pre_tokenizer_for_gguf_name(pre);
    if (spec.pre_tokenizer.empty()) {
      return make_error(ErrorCode::kUnsupported,
                        "tokenizer.ggml.pre '{}' is not supported (supported: qwen2, llama-bpe, "
                        "deepseek-v3, minimax-m2, gpt2, default)",
                        pre);
    }
    // Llama 3 takes a pre-token that is a whole vocabulary piece as is (ignore_merges).
    spec.ignore_merges = pre == "llama-bpe" || pre == "llama3";
    // Qwen's tokenizer.json normalizes to NFC; GGUF does not say so, the name implies it.
    if (pre == "qwen2") spec.normalizer.push_back(normalizer_step(NormalizerStep::Kind::kNfc, "", ""));
    spec.decoder = {decoder_step(DecoderStep::Kind::kByteLevel)};
    return ok_status();
  }
  if (model == "llama") {
    spec.model = ModelType::kBpeScores;
    MX_ASSIGN_OR_RETURN(bool add_space_prefix,
                        file.get_bool_or("tokenizer.ggml.add_space_prefix", true));
    set_spm_pipeline(spec, add_space_prefix);
    return ok_status();
  }
  return make_error(ErrorCode::kUnsupported,
                    "tokenizer.ggml.model '{}' is not supported (supported: gpt2, llama)", model);
}

}  // namespace

Result<TokenizerSpec> tokenizer_spec_from_gguf(const GgufFile& file) {
  TokenizerSpec spec;
  spec.source = file.source();
  MX_ASSIGN_OR_RETURN(auto model_name, file.get_string("tokenizer.ggml.model"));
  std::string model(model_name);
  MX_RETURN_IF_ERROR(read_tokens(file, spec));
  MX_RETURN_IF_ERROR(set_pipeline(file, model, spec));
  size_t n = spec.tokens.size();
  MX_ASSIGN_OR_RETURN(spec.bos_id, read_id(file, "tokenizer.ggml.bos_token_id", n));
  MX_ASSIGN_OR_RETURN(spec.eos_id, read_id(file, "tokenizer.ggml.eos_token_id", n));
  MX_ASSIGN_OR_RETURN(spec.unk_id, read_id(file, "tokenizer.ggml.unknown_token_id", n));
  MX_ASSIGN_OR_RETURN(spec.pad_id, read_id(file, "tokenizer.ggml.padding_token_id", n));
  // llama.cpp's defaults: SentencePiece models add BOS, byte-level ones do not.
  MX_ASSIGN_OR_RETURN(bool add_bos, file.get_bool_or("tokenizer.ggml.add_bos_token", model == "llama"));
  MX_ASSIGN_OR_RETURN(bool add_eos, file.get_bool_or("tokenizer.ggml.add_eos_token", false));
  if (add_bos && spec.bos_id) spec.prefix_ids.push_back(*spec.bos_id);
  if (add_eos && spec.eos_id) spec.suffix_ids.push_back(*spec.eos_id);
  return spec;
}

Result<TokenizerSpec> load_gguf_tokenizer(const std::string& path) {
  MX_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(path));
  auto spec = tokenizer_spec_from_gguf(file);
  if (!spec.ok()) return spec.error().with_context(path);
  return spec;
}

}  // namespace mx
