// Tokenizer: text <-> token ids, exactly as the model's own (Hugging Face) tokenizer does.
//
// Built from a TokenizerSpec (tokenizer.json or GGUF metadata). encode() runs
//   added-token split -> normalizer -> (normalized added tokens) -> pre-tokenizer -> BPE
// and, with add_special, the post-processor's BOS/EOS. decode() runs the decoder chain.
// Invalid UTF-8 input is first replaced by U+FFFD per maximal invalid subpart (what Python,
// Rust and JavaScript do when reading bytes as text).
//
// A Tokenizer is immutable after creation; encode/decode are thread-safe (the BPE word cache
// and regex scratch are per thread).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalize.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer_spec.h"

namespace mx {

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> create(TokenizerSpec spec);
  // A folder with tokenizer.json, or a .gguf file.
  static Result<std::unique_ptr<Tokenizer>> load(const std::string& path);

  std::vector<int32_t> encode(std::string_view text, bool add_special = false) const;
  // Appends to `out`; reuse `out` to avoid allocations in loops.
  void encode_into(std::string_view text, bool add_special, std::vector<int32_t>& out) const;
  // Ids outside the vocabulary are skipped.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // The bytes one token stands for in decoded text (raw bytes of a byte-level piece, "<s>" for
  // a special token, " hello" for "▁hello"); may be part of a UTF-8 character. Empty for ids
  // outside the vocabulary.
  const std::string& token_to_piece(int32_t id) const;
  // The token as the vocabulary spells it ("Ġhello", "<0x0A>").
  const std::string& token_text(int32_t id) const;
  // The id of an added/special token's content or a vocabulary spelling; nullopt if none.
  std::optional<int32_t> token_id(std::string_view text) const;

  int32_t vocab_size() const { return static_cast<int32_t>(spec_.tokens.size()); }
  bool is_special(int32_t id) const;
  TokenType token_type(int32_t id) const;
  std::optional<int32_t> bos_id() const { return spec_.bos_id; }
  std::optional<int32_t> eos_id() const { return spec_.eos_id; }
  std::optional<int32_t> unk_id() const { return spec_.unk_id; }
  std::optional<int32_t> pad_id() const { return spec_.pad_id; }
  const std::vector<int32_t>& special_prefix() const { return spec_.prefix_ids; }
  const std::vector<int32_t>& special_suffix() const { return spec_.suffix_ids; }
  const TokenizerSpec& spec() const { return spec_; }

  // For the incremental detokenizer: how the ends of decoded text are trimmed. Up to `count`
  // `character`s are removed from the start (leading) or the end (trailing) of the output
  // (Strip decoders).
  struct EdgeStrip {
    std::string character;
    int count = 0;
  };
  const EdgeStrip& leading_strip() const { return leading_strip_; }
  const EdgeStrip& trailing_strip() const { return trailing_strip_; }
  // True when decode() is exactly "concatenate token_to_piece, strip the lead, fix UTF-8",
  // so a stream of pieces reproduces it. False for decoder chains that need all tokens.
  bool pieces_concatenate() const { return pieces_concatenate_; }

 private:
  Tokenizer() = default;
  Status init_pieces();
  void encode_section(std::string_view text, bool first_section, std::vector<int32_t>& out) const;
  std::vector<std::string> apply_decoders(std::vector<std::string> tokens) const;

  TokenizerSpec spec_;
  std::vector<std::string> internal_pieces_;  // BPE spelling: raw bytes when byte-level
  std::vector<std::string> output_pieces_;    // token_to_piece
  std::vector<bool> special_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  std::unique_ptr<BpeModel> bpe_;
  AddedTokenMatcher raw_added_;         // matched before normalization
  AddedTokenMatcher normalized_added_;  // matched in normalized text
  PieceMap added_by_content_;
  EdgeStrip leading_strip_;
  EdgeStrip trailing_strip_;
  bool pieces_concatenate_ = true;
  bool byte_level_ = false;
};

}  // namespace mx
