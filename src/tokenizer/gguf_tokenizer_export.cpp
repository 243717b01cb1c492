#include "tokenizer/gguf_tokenizer_export.h"

#include <algorithm>

namespace mx {
namespace {

bool same_steps(const std::vector<PreTokenizerStep>& a, const std::vector<PreTokenizerStep>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const PreTokenizerStep& x = a[i];
    const PreTokenizerStep& y = b[i];
    if (x.kind != y.kind || x.pattern != y.pattern || x.pattern_is_regex != y.pattern_is_regex ||
        x.behavior != y.behavior || x.invert != y.invert ||
        x.add_prefix_space != y.add_prefix_space || x.use_regex != y.use_regex) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::string> gguf_pre_tokenizer_name(const TokenizerSpec& spec) {
  for (const char* name : {"qwen2", "llama-bpe", "deepseek-v3", "minimax-m2", "gpt2"}) {
    if (same_steps(spec.pre_tokenizer, pre_tokenizer_for_gguf_name(name))) return std::string(name);
  }
  return make_error(ErrorCode::kUnsupported,
                    "{}: the tokenizer's pre-tokenizer matches none that GGUF can name (qwen2, "
                    "llama-bpe, deepseek-v3, minimax-m2, gpt2)",
                    spec.source);
}

Status add_tokenizer_to_gguf(const TokenizerSpec& spec, const std::string& chat_template,
                             GgufWriter& writer) {
  const bool merges_model = spec.model == ModelType::kBpeMerges;
  writer.set_string("tokenizer.ggml.model", merges_model ? "gpt2" : "llama");
  if (merges_model) {
    MX_ASSIGN_OR_RETURN(std::string pre, gguf_pre_tokenizer_name(spec));
    writer.set_string("tokenizer.ggml.pre", pre);
  } else {
    writer.set_string("tokenizer.ggml.pre", "default");
  }
  std::vector<std::string> pieces;
  std::vector<int32_t> types;
  std::vector<float> scores;
  pieces.reserve(spec.tokens.size());
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    const TokenEntry& token = spec.tokens[id];
    const bool gap = token.type == TokenType::kUndefined && token.piece.empty();
    // A gap in the vocabulary becomes an unused "[PAD<id>]" entry, as llama.cpp's converter does.
    pieces.push_back(gap ? "[PAD" + std::to_string(id) + "]" : token.piece);
    types.push_back(static_cast<int32_t>(gap ? TokenType::kUnused : token.type));
    scores.push_back(token.score);
  }
  writer.set("tokenizer.ggml.tokens", GgufWriteValue::string_array(std::move(pieces)));
  writer.set("tokenizer.ggml.token_type", GgufWriteValue::array(types));
  if (merges_model) {
    std::vector<std::string> merges;
    merges.reserve(spec.merges.size());
    for (const auto& [left, right] : spec.merges) merges.push_back(left + " " + right);
    writer.set("tokenizer.ggml.merges", GgufWriteValue::string_array(std::move(merges)));
  } else {
    writer.set("tokenizer.ggml.scores", GgufWriteValue::array(scores));
  }
  auto set_id = [&](const char* key, const std::optional<int32_t>& id) {
    if (id) writer.set_u32(key, static_cast<uint32_t>(*id));
  };
  set_id("tokenizer.ggml.bos_token_id", spec.bos_id);
  set_id("tokenizer.ggml.eos_token_id", spec.eos_id);
  set_id("tokenizer.ggml.unknown_token_id", spec.unk_id);
  set_id("tokenizer.ggml.padding_token_id", spec.pad_id);
  auto contains = [](const std::vector<int32_t>& ids, const std::optional<int32_t>& id) {
    return id && std::find(ids.begin(), ids.end(), *id) != ids.end();
  };
  writer.set_bool("tokenizer.ggml.add_bos_token", contains(spec.prefix_ids, spec.bos_id));
  writer.set_bool("tokenizer.ggml.add_eos_token", contains(spec.suffix_ids, spec.eos_id));
  if (!chat_template.empty()) writer.set_string("tokenizer.chat_template", chat_template);
  return ok_status();
}

}  // namespace mx
