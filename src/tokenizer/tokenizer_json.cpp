// tokenizer.json + tokenizer_config.json -> TokenizerSpec.
#include "tokenizer/tokenizer_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/mapped_file.h"
#include "tokenizer/tokenizer_json_internal.h"

namespace mx {
namespace {

using tokenizer_json::get_bool;
using tokenizer_json::get_string;
using tokenizer_json::Json;

// No tokenizer here has more ids than this; a larger id in a file is corruption, not a model.
constexpr int64_t kMaxTokenId = 1 << 24;
// How far ids may run past the number of entries (unused ids between vocab and added tokens).
constexpr int64_t kMaxIdGap = 1 << 16;

bool is_byte_piece(const std::string& piece) {
  return piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>' &&
         std::isxdigit(static_cast<unsigned char>(piece[3])) &&
         std::isxdigit(static_cast<unsigned char>(piece[4]));
}

Status set_token(TokenizerSpec& spec, int64_t id, const std::string& piece, TokenType type,
                 bool in_model, const std::string& where) {
  if (id < 0 || id >= kMaxTokenId) {
    return make_error(ErrorCode::kCorruptData, "{}: token id {} out of range", where, id);
  }
  if (static_cast<size_t>(id) >= spec.tokens.size()) spec.tokens.resize(id + 1);
  TokenEntry& entry = spec.tokens[id];
  entry.piece = piece;
  entry.type = type;
  entry.in_model = entry.in_model || in_model;
  return ok_status();
}

Status parse_merges(const Json& merges, TokenizerSpec& spec) {
  if (!merges.is_array()) return make_error(ErrorCode::kCorruptData, "model.merges: not an array");
  spec.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const Json& merge = merges[i];
    if (merge.is_string()) {
      // Older files: "left right". Pieces never contain a space in these vocabularies.
      const std::string& text = merge.get_ref<const std::string&>();
      size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        return make_error(ErrorCode::kCorruptData, "model.merges[{}]: '{}' is not 'a b'", i, text);
      }
      spec.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      spec.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      return make_error(ErrorCode::kCorruptData, "model.merges[{}]: expected \"a b\" or [a, b]", i);
    }
  }
  return ok_status();
}

Status parse_model(const Json& model, TokenizerSpec& spec) {
  const std::string where = "model";
  if (!model.is_object()) return make_error(ErrorCode::kCorruptData, "model: expected an object");
  std::string type = model.value("type", std::string("BPE"));
  if (type != "BPE") {
    return make_error(ErrorCode::kUnsupported,
                      "model: type '{}' is not supported (supported: BPE)", type);
  }
  if (model.contains("dropout") && !model["dropout"].is_null() &&
      !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0)) {
    return make_error(ErrorCode::kUnsupported, "model: BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() &&
        !(model[key].is_string() && model[key].get<std::string>().empty())) {
      return make_error(ErrorCode::kUnsupported, "model: BPE {} is not supported", key);
    }
  }
  MX_ASSIGN_OR_RETURN(spec.byte_fallback, get_bool(model, "byte_fallback", false, where));
  MX_ASSIGN_OR_RETURN(spec.fuse_unk, get_bool(model, "fuse_unk", false, where));
  MX_ASSIGN_OR_RETURN(spec.ignore_merges, get_bool(model, "ignore_merges", false, where));
  const Json& vocab = model.value("vocab", Json());
  if (!vocab.is_object()) return make_error(ErrorCode::kCorruptData, "model.vocab: not an object");
  // Ids index a table: a few gaps are fine, an id far beyond the entry count is corruption
  // (and would make us allocate for ids that do not exist).
  int64_t max_id = -1;
  for (const auto& id : vocab) {
    if (id.is_number_integer()) max_id = std::max<int64_t>(max_id, id.get<int64_t>());
  }
  if (max_id >= static_cast<int64_t>(vocab.size()) * 2 + kMaxIdGap) {
    return make_error(ErrorCode::kCorruptData, "model.vocab: id {} for {} entries", max_id,
                      vocab.size());
  }
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) {
      return make_error(ErrorCode::kCorruptData, "model.vocab['{}']: id is not an integer", it.key());
    }
    TokenType token_type =
        spec.byte_fallback && is_byte_piece(it.key()) ? TokenType::kByte : TokenType::kNormal;
    MX_RETURN_IF_ERROR(
        set_token(spec, it.value().get<int64_t>(), it.key(), token_type, true, "model.vocab"));
  }
  MX_RETURN_IF_ERROR(parse_merges(model.value("merges", Json::array()), spec));
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    auto unk = vocab.find(model["unk_token"].get<std::string>());
    if (unk == vocab.end()) {
      return make_error(ErrorCode::kCorruptData, "model.unk_token '{}' is not in the vocabulary",
                        model["unk_token"].get<std::string>());
    }
    spec.unk_id = static_cast<int32_t>(unk->get<int64_t>());
    spec.tokens[*spec.unk_id].type = TokenType::kUnknown;
  }
  return ok_status();
}

Status parse_added_tokens(const Json& added, TokenizerSpec& spec) {
  if (added.is_null()) return ok_status();
  if (!added.is_array()) return make_error(ErrorCode::kCorruptData, "added_tokens: not an array");
  for (size_t i = 0; i < added.size(); ++i) {
    std::string where = fmt::format("added_tokens[{}]", i);
    const Json& entry = added[i];
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_integer()) {
      return make_error(ErrorCode::kCorruptData, "{}: needs an integer 'id'", where);
    }
    AddedToken token;
    MX_ASSIGN_OR_RETURN(token.content, get_string(entry, "content", where));
    if (token.content.empty()) return make_error(ErrorCode::kCorruptData, "{}: empty content", where);
    int64_t id = entry["id"].get<int64_t>();
    if (id >= static_cast<int64_t>(spec.tokens.size() + added.size()) + kMaxIdGap) {
      return make_error(ErrorCode::kCorruptData, "{}: id {} is far beyond the vocabulary", where, id);
    }
    MX_ASSIGN_OR_RETURN(token.special, get_bool(entry, "special", false, where));
    MX_ASSIGN_OR_RETURN(token.lstrip, get_bool(entry, "lstrip", false, where));
    MX_ASSIGN_OR_RETURN(token.rstrip, get_bool(entry, "rstrip", false, where));
    MX_ASSIGN_OR_RETURN(token.single_word, get_bool(entry, "single_word", false, where));
    MX_ASSIGN_OR_RETURN(token.normalized, get_bool(entry, "normalized", !token.special, where));
    TokenType type = token.special ? TokenType::kControl : TokenType::kUserDefined;
    MX_RETURN_IF_ERROR(set_token(spec, id, token.content, type, false, where));
    token.id = static_cast<int32_t>(id);
    spec.added_tokens.push_back(std::move(token));
  }
  return ok_status();
}

// tokenizer_config.json names special tokens as strings or {"content": ...} AddedToken dicts.
std::optional<std::string> config_token(const Json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  return std::nullopt;
}

std::optional<int32_t> find_token_id(const TokenizerSpec& spec, const std::string& content) {
  for (const AddedToken& token : spec.added_tokens) {
    if (token.content == content) return token.id;
  }
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    if (spec.tokens[id].in_model && spec.tokens[id].piece == content) return static_cast<int32_t>(id);
  }
  return std::nullopt;
}

Status apply_config(const Json& config, TokenizerSpec& spec) {
  if (!config.is_object()) return ok_status();
  auto resolve = [&](const char* key, std::optional<int32_t>& id) {
    if (auto content = config_token(config, key)) id = find_token_id(spec, *content);
  };
  resolve("bos_token", spec.bos_id);
  resolve("eos_token", spec.eos_id);
  resolve("pad_token", spec.pad_id);
  std::string tokenizer_class = config.value("tokenizer_class", std::string());
  bool rebuilds_template = tokenizer_class.rfind("Llama", 0) == 0 ||
                           tokenizer_class.rfind("CodeLlama", 0) == 0 ||
                           tokenizer_class.rfind("Gemma", 0) == 0;
  if (!rebuilds_template || !(config.contains("add_bos_token") || config.contains("add_eos_token"))) {
    return ok_status();
  }
  MX_ASSIGN_OR_RETURN(bool add_bos, get_bool(config, "add_bos_token", false, "tokenizer_config"));
  MX_ASSIGN_OR_RETURN(bool add_eos, get_bool(config, "add_eos_token", false, "tokenizer_config"));
  spec.prefix_ids.clear();
  spec.suffix_ids.clear();
  if (add_bos && spec.bos_id) spec.prefix_ids.push_back(*spec.bos_id);
  if (add_eos && spec.eos_id) spec.suffix_ids.push_back(*spec.eos_id);
  return ok_status();
}

Result<TokenizerSpec> parse_documents(const Json& root, const Json& config) {
  if (!root.is_object()) return make_error(ErrorCode::kCorruptData, "not a JSON object");
  TokenizerSpec spec;
  spec.model = ModelType::kBpeMerges;
  MX_RETURN_IF_ERROR(parse_model(root.value("model", Json()), spec));
  MX_RETURN_IF_ERROR(parse_added_tokens(root.value("added_tokens", Json()), spec));
  MX_RETURN_IF_ERROR(tokenizer_json::parse_normalizer(root.value("normalizer", Json()),
                                                      "normalizer", spec.normalizer));
  MX_RETURN_IF_ERROR(tokenizer_json::parse_pre_tokenizer(root.value("pre_tokenizer", Json()),
                                                         "pre_tokenizer", spec.pre_tokenizer));
  MX_RETURN_IF_ERROR(
      tokenizer_json::parse_decoder(root.value("decoder", Json()), "decoder", spec.decoder));
  MX_RETURN_IF_ERROR(tokenizer_json::parse_post_processor(root.value("post_processor", Json()),
                                                          "post_processor", spec));
  MX_RETURN_IF_ERROR(apply_config(config, spec));
  return spec;
}

}  // namespace

Result<TokenizerSpec> parse_tokenizer_json(std::string_view tokenizer_json,
                                           std::string_view config_json,
                                           const std::string& source) {
  Json root, config;
  try {
    root = Json::parse(tokenizer_json);
    if (!config_json.empty()) config = Json::parse(config_json);
  } catch (const Json::exception& e) {
    return make_error(ErrorCode::kCorruptData, "{}: invalid JSON: {}", source, e.what());
  }
  try {
    auto spec = parse_documents(root, config);
    if (!spec.ok()) return spec.error().with_context(source);
    spec->source = source;
    return spec;
  } catch (const Json::exception& e) {
    // Accessors check types, so this is a shape nothing above anticipated.
    return make_error(ErrorCode::kCorruptData, "{}: unexpected JSON structure: {}", source, e.what());
  }
}

Result<TokenizerSpec> load_tokenizer_json_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path tokenizer_path = fs::path(dir) / "tokenizer.json";
  MX_ASSIGN_OR_RETURN(std::string tokenizer_text, read_text_file(tokenizer_path.string()));
  std::string config_text;
  fs::path config_path = fs::path(dir) / "tokenizer_config.json";
  std::error_code ec;
  if (fs::exists(config_path, ec)) {
    MX_ASSIGN_OR_RETURN(config_text, read_text_file(config_path.string()));
  }
  return parse_tokenizer_json(tokenizer_text, config_text, tokenizer_path.string());
}

}  // namespace mx
