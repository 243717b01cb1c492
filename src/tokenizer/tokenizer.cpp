// Tokenizer creation and encode(). Decoding lives in decoder.cpp.
#include "tokenizer/tokenizer.h"

#include <filesystem>

#include "tokenizer/byte_level.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/utf8.h"

namespace mx {
namespace {

Status validate_ids(const TokenizerSpec& spec) {
  const auto size = static_cast<int64_t>(spec.tokens.size());
  auto check = [&](std::optional<int32_t> id, const char* what) -> Status {
    if (id && (*id < 0 || *id >= size)) {
      return make_error(ErrorCode::kCorruptData, "{} id {} is outside the vocabulary (size {})",
                        what, *id, size);
    }
    return ok_status();
  };
  MX_RETURN_IF_ERROR(check(spec.bos_id, "bos"));
  MX_RETURN_IF_ERROR(check(spec.eos_id, "eos"));
  MX_RETURN_IF_ERROR(check(spec.unk_id, "unk"));
  MX_RETURN_IF_ERROR(check(spec.pad_id, "pad"));
  for (int32_t id : spec.prefix_ids) MX_RETURN_IF_ERROR(check(id, "post-processor"));
  for (int32_t id : spec.suffix_ids) MX_RETURN_IF_ERROR(check(id, "post-processor"));
  for (const AddedToken& token : spec.added_tokens) {
    MX_RETURN_IF_ERROR(check(token.id, "added token"));
  }
  if (spec.tokens.empty()) return make_error(ErrorCode::kCorruptData, "empty vocabulary");
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::create(TokenizerSpec spec) {
  auto fail = [&](Error error) {
    return spec.source.empty() ? error : error.with_context(spec.source);
  };
  if (auto status = validate_ids(spec); !status.ok()) return fail(status.error());
  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer());
  auto normalizer = Normalizer::create(spec.normalizer);
  if (!normalizer.ok()) return fail(normalizer.error());
  auto pre_tokenizer = PreTokenizer::create(spec.pre_tokenizer);
  if (!pre_tokenizer.ok()) return fail(pre_tokenizer.error());
  tokenizer->normalizer_ = std::move(normalizer).value();
  tokenizer->pre_tokenizer_ = std::move(pre_tokenizer).value();
  tokenizer->byte_level_ = tokenizer->pre_tokenizer_.byte_level();
  tokenizer->spec_ = std::move(spec);
  if (auto status = tokenizer->init_pieces(); !status.ok()) return fail(status.error());
  auto bpe = BpeModel::create(tokenizer->spec_, tokenizer->internal_pieces_, tokenizer->byte_level_);
  if (!bpe.ok()) return fail(bpe.error());
  tokenizer->bpe_ = std::move(bpe).value();

  std::vector<AddedToken> raw, normalized;
  for (const AddedToken& token : tokenizer->spec_.added_tokens) {
    // With no normalizer the normalized text is the raw text: one pass finds both kinds.
    bool match_normalized = token.normalized && !tokenizer->normalizer_.empty();
    (match_normalized ? normalized : raw).push_back(token);
    tokenizer->added_by_content_.emplace(token.content, token.id);
  }
  tokenizer->raw_added_ = AddedTokenMatcher(raw);
  tokenizer->normalized_added_ = AddedTokenMatcher(normalized);
  return tokenizer;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    MX_ASSIGN_OR_RETURN(TokenizerSpec spec, load_tokenizer_json_dir(path));
    return create(std::move(spec));
  }
  if (!fs::exists(path, ec)) {
    return make_error(ErrorCode::kNotFound,
                      "{}: no such file or folder (expected a folder with tokenizer.json or a "
                      ".gguf file)", path);
  }
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0) {
    MX_ASSIGN_OR_RETURN(TokenizerSpec spec, load_gguf_tokenizer(path));
    return create(std::move(spec));
  }
  if (fs::path(path).filename() == "tokenizer.json") {
    return load(fs::path(path).parent_path().string());
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "{}: not a tokenizer (expected a folder with tokenizer.json or a .gguf file)",
                    path);
}

void Tokenizer::encode_section(std::string_view text, bool first_section,
                               std::vector<int32_t>& out) const {
  thread_local PreTokens pre_tokens;
  pre_tokenizer_.split(text, first_section, pre_tokens);
  for (size_t i = 0; i < pre_tokens.spans.size(); ++i) {
    bpe_->encode_word(pre_tokens.piece(i), out);
  }
}

void Tokenizer::encode_into(std::string_view input, bool add_special,
                            std::vector<int32_t>& out) const {
  if (add_special) out.insert(out.end(), spec_.prefix_ids.begin(), spec_.prefix_ids.end());
  std::string sanitized = utf8_lossy(input);
  std::string_view text = sanitized;
  std::vector<AddedTokenMatcher::Segment> segments, inner;
  raw_added_.split(text, segments);
  for (size_t s = 0; s < segments.size(); ++s) {
    const auto& segment = segments[s];
    if (segment.id >= 0) {
      out.push_back(segment.id);
      continue;
    }
    std::string_view raw = text.substr(segment.begin, segment.end - segment.begin);
    bool first = segment.begin == 0;
    if (normalizer_.empty()) {
      encode_section(raw, first, out);
      continue;
    }
    std::string normalized = normalizer_.normalize(raw);
    normalized_added_.split(normalized, inner);
    for (const auto& piece : inner) {
      if (piece.id >= 0) {
        out.push_back(piece.id);
      } else {
        encode_section(std::string_view(normalized).substr(piece.begin, piece.end - piece.begin),
                       first && piece.begin == 0, out);
      }
    }
  }
  if (add_special) out.insert(out.end(), spec_.suffix_ids.begin(), spec_.suffix_ids.end());
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  encode_into(text, add_special, ids);
  return ids;
}

std::optional<int32_t> Tokenizer::token_id(std::string_view text) const {
  auto it = added_by_content_.find(text);
  if (it != added_by_content_.end()) return it->second;
  // Vocabulary spellings are stored in the BPE's internal form (raw bytes when byte-level).
  auto internal = byte_level_ ? byte_level_decode(text) : std::optional<std::string>(text);
  if (!internal) return std::nullopt;
  int32_t id = bpe_->piece_id(*internal);
  return id >= 0 ? std::optional<int32_t>(id) : std::nullopt;
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && special_[id];
}

TokenType Tokenizer::token_type(int32_t id) const {
  return id >= 0 && id < vocab_size() ? spec_.tokens[id].type : TokenType::kUndefined;
}

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string empty;
  return id >= 0 && id < vocab_size() ? spec_.tokens[id].piece : empty;
}

const std::string& Tokenizer::token_to_piece(int32_t id) const {
  static const std::string empty;
  return id >= 0 && id < vocab_size() ? output_pieces_[id] : empty;
}

}  // namespace mx
