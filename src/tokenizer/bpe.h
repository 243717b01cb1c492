// The BPE model: turns one pre-token into token ids.
//
// Two ways to rank merges meet in one merge table, keyed by the pair of symbol ids:
//   - kBpeMerges: the merges list (rank = position; a later duplicate wins, as in HF);
//   - kBpeScores: SentencePiece BPE (GGUF "llama"): any two adjacent symbols whose
//     concatenation is a vocabulary piece may merge, higher score first; equal scores share a
//     rank so the leftmost pair goes first, as in SentencePiece.
// Merging always applies the lowest-ranked adjacent pair, leftmost on ties, until none is left.
//
// Byte-level vocabularies are stored as raw bytes (see byte_level.h), so a pre-token's bytes
// are the initial symbols. Other vocabularies start from UTF-8 characters; a character not in
// the vocabulary becomes <0xAB> byte tokens (byte_fallback) or unk (fused when fuse_unk).
//
// encode_word() is const and thread-safe. Results for short pre-tokens are cached per thread
// (bounded), which is what makes English text fast: most words repeat.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer_spec.h"

namespace mx {

// Hashing for string-keyed maps that accept string_view lookups without allocating.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using PieceMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // `pieces[id]` is the internal spelling of each token (raw bytes when byte_level).
  static Result<std::unique_ptr<BpeModel>> create(const TokenizerSpec& spec,
                                                  const std::vector<std::string>& pieces,
                                                  bool byte_level);

  // Appends the ids of one pre-token.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  // The model-vocabulary id of an internal piece, or -1.
  int32_t piece_id(std::string_view piece) const;

 private:
  struct MergeEntry {
    uint64_t key = kEmptyKey;  // left id << 32 | right id
    uint32_t rank = 0;
    int32_t merged_id = -1;
  };
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};
  static constexpr uint32_t kNoRank = ~uint32_t{0};

  BpeModel() = default;
  Status build_merges_from_list(const TokenizerSpec& spec);
  void build_merges_from_scores(const TokenizerSpec& spec, const std::vector<std::string>& pieces);
  void insert_merge(int32_t left, int32_t right, uint32_t rank, int32_t merged_id);
  const MergeEntry* find_merge(int32_t left, int32_t right) const;

  void initial_symbols(std::string_view word, std::vector<int32_t>& symbols) const;
  void merge_small(std::vector<int32_t>& symbols) const;
  void merge_large(std::vector<int32_t>& symbols) const;
  void encode_uncached(std::string_view word, std::vector<int32_t>& out) const;
  void encode_part(std::string_view word, std::vector<int32_t>& out) const;

  PieceMap piece_to_id_;
  std::vector<MergeEntry> merge_table_;  // open addressing, power-of-two size
  uint64_t merge_mask_ = 0;
  std::array<int32_t, 256> byte_ids_{};           // byte-level: the single-byte token
  std::array<int32_t, 256> byte_fallback_ids_{};  // <0xAB> tokens
  bool byte_level_ = false;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  bool split_before_space_ = false;  // see no_piece_joins_text_and_space in bpe.cpp
  int32_t unk_id_ = -1;
  uint64_t instance_id_ = 0;  // keys the per-thread cache
};

}  // namespace mx
