// decode(): ids -> token strings -> the decoder chain (Hugging Face semantics), and the
// per-token pieces that token_to_piece() and the incremental detokenizer use.
#include <algorithm>

#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace mx {
namespace {

using Kind = DecoderStep::Kind;

std::optional<uint8_t> byte_token_value(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int high = hex(token[3]), low = hex(token[4]);
  if (high < 0 || low < 0) return std::nullopt;
  return static_cast<uint8_t>(high * 16 + low);
}

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view with) {
  if (pattern.empty()) return std::string(text);
  std::string out;
  size_t pos = 0;
  for (size_t found; (found = text.find(pattern, pos)) != std::string_view::npos;
       pos = found + pattern.size()) {
    out.append(text.substr(pos, found - pos));
    out.append(with);
  }
  out.append(text.substr(pos));
  return out;
}

// A byte-level token's bytes; tokens with characters outside the alphabet (added tokens such
// as "<｜begin▁of▁sentence｜>") stand for their own UTF-8.
std::string byte_level_bytes(const std::string& token) {
  auto bytes = byte_level_decode(token);
  return bytes ? std::move(*bytes) : token;
}

void decode_byte_fallback(std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  std::string pending;  // bytes of consecutive <0xAB> tokens
  size_t pending_count = 0;
  auto flush = [&] {
    if (pending_count == 0) return;
    // Valid UTF-8 is kept; otherwise each byte token becomes one U+FFFD (HF ByteFallback).
    if (utf8_valid_prefix(pending) == pending.size()) {
      out.push_back(pending);
    } else {
      for (size_t i = 0; i < pending_count; ++i) out.push_back("\xEF\xBF\xBD");
    }
    pending.clear();
    pending_count = 0;
  };
  for (std::string& token : tokens) {
    if (auto byte = byte_token_value(token)) {
      pending += static_cast<char>(*byte);
      ++pending_count;
      continue;
    }
    flush();
    out.push_back(std::move(token));
  }
  flush();
  tokens = std::move(out);
}

void strip_token(std::string& token, const std::string& content, int start, int stop) {
  if (content.empty()) return;
  size_t begin = 0, end = token.size();
  for (int i = 0; i < start && token.compare(begin, content.size(), content) == 0; ++i) {
    begin += content.size();
  }
  for (int i = 0; i < stop && end >= begin + content.size() &&
                  token.compare(end - content.size(), content.size(), content) == 0;
       ++i) {
    end -= content.size();
  }
  token = token.substr(begin, end - begin);
}

}  // namespace

std::vector<std::string> Tokenizer::apply_decoders(std::vector<std::string> tokens) const {
  for (const DecoderStep& step : spec_.decoder) {
    switch (step.kind) {
      case Kind::kByteLevel: {
        // All tokens' bytes become one string, then invalid UTF-8 is replaced.
        std::string bytes;
        for (const std::string& token : tokens) bytes += byte_level_bytes(token);
        tokens.assign(1, utf8_lossy(bytes));
        break;
      }
      case Kind::kReplace:
        for (std::string& token : tokens) token = replace_all(token, step.pattern, step.content);
        break;
      case Kind::kByteFallback:
        decode_byte_fallback(tokens);
        break;
      case Kind::kFuse: {
        std::string joined;
        for (const std::string& token : tokens) joined += token;
        tokens.assign(1, std::move(joined));
        break;
      }
      case Kind::kStrip:
        for (std::string& token : tokens) {
          strip_token(token, step.content, step.strip_start, step.strip_stop);
        }
        break;
      case Kind::kMetaspace:
        // HF drops every replacement character of the first token when a prefix was added.
        for (size_t i = 0; i < tokens.size(); ++i) {
          bool drop = i == 0 && step.prepend_scheme != PrependScheme::kNever;
          tokens[i] = replace_all(tokens[i], step.replacement, drop ? "" : " ");
        }
        break;
    }
  }
  return tokens;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  if (pieces_concatenate_) {
    // The chain is per-token steps plus a leading strip: concatenate the precomputed pieces.
    // Valid UTF-8 means every run of byte-fallback tokens was valid on its own (a vocabulary
    // piece cannot start or end inside a character), which is the case where this equals the
    // full chain; anything else takes the exact path below.
    std::string bytes;
    for (int32_t id : ids) {
      if (id < 0 || id >= vocab_size() || (skip_special && special_[id])) continue;
      bytes += output_pieces_[id];
    }
    if (leading_strip_.count == 0) return utf8_lossy(bytes);
    if (utf8_valid_prefix(bytes) == bytes.size()) {
      size_t begin = 0;
      const std::string& strip = leading_strip_.character;
      for (int i = 0; i < leading_strip_.count && !strip.empty() &&
                      bytes.compare(begin, strip.size(), strip) == 0;
           ++i) {
        begin += strip.size();
      }
      return bytes.substr(begin);
    }
  }
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) continue;
    if (skip_special && special_[id]) continue;
    tokens.push_back(spec_.tokens[id].piece);
  }
  if (spec_.decoder.empty()) {
    // No decoder: Hugging Face joins the tokens with spaces.
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) joined += (i ? " " : "") + tokens[i];
    return utf8_lossy(joined);
  }
  std::string text;
  for (const std::string& token : apply_decoders(std::move(tokens))) text += token;
  return utf8_lossy(text);
}

Status Tokenizer::init_pieces() {
  const size_t n = spec_.tokens.size();
  internal_pieces_.resize(n);
  output_pieces_.resize(n);
  special_.assign(n, false);
  for (const AddedToken& token : spec_.added_tokens) special_[token.id] = token.special;
  for (size_t id = 0; id < n; ++id) {
    const TokenEntry& token = spec_.tokens[id];
    if (token.type == TokenType::kControl) special_[id] = true;
    if (byte_level_ && token.in_model) {
      // Pieces outside the byte alphabet can never come out of BPE; an empty spelling keeps
      // them out of the lookup (their UTF-8 could equal another piece's raw bytes).
      auto bytes = byte_level_decode(token.piece);
      internal_pieces_[id] = bytes ? std::move(*bytes) : std::string();
    } else {
      internal_pieces_[id] = token.piece;
    }
    // The piece a token adds to text: per-token decoder steps only (no Fuse/Strip).
    std::string piece = token.piece;
    for (const DecoderStep& step : spec_.decoder) {
      if (step.kind == Kind::kByteLevel) piece = byte_level_bytes(piece);
      if (step.kind == Kind::kReplace) piece = replace_all(piece, step.pattern, step.content);
      if (step.kind == Kind::kMetaspace) piece = replace_all(piece, step.replacement, " ");
      if (step.kind == Kind::kByteFallback) {
        if (auto byte = byte_token_value(piece)) piece = std::string(1, static_cast<char>(*byte));
      }
    }
    output_pieces_[id] = std::move(piece);
  }
  // Which decoder chains a stream of pieces reproduces exactly (see pieces_concatenate()):
  // per-token steps (Replace, ByteFallback) until the tokens are joined (ByteLevel or Fuse),
  // then at most a Strip of leading characters.
  bool joined = false;
  for (const DecoderStep& step : spec_.decoder) {
    switch (step.kind) {
      case Kind::kByteLevel:
      case Kind::kFuse:
        joined = true;
        break;
      case Kind::kReplace:
      case Kind::kByteFallback:
        if (joined) pieces_concatenate_ = false;  // would act across token boundaries
        break;
      case Kind::kStrip:
        if (!joined || step.strip_stop > 0 || leading_strip_.count > 0) pieces_concatenate_ = false;
        leading_strip_ = {step.content, step.strip_start};
        if (step.strip_stop > 0 && trailing_strip_.count == 0) {
          trailing_strip_ = {step.content, step.strip_stop};
        }
        break;
      case Kind::kMetaspace:
        pieces_concatenate_ = false;
        break;
    }
  }
  if (spec_.decoder.empty()) pieces_concatenate_ = false;
  return ok_status();
}

}  // namespace mx
