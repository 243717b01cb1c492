#include "tokenizer/bpe.h"

#include <algorithm>
#include <atomic>
#include <map>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace mx {
namespace {

// Pre-tokens longer than this are rare repeats; caching them only evicts useful entries.
constexpr size_t kMaxCachedWordBytes = 128;
constexpr size_t kMaxCacheEntries = 1 << 16;
// Up to this many symbols a linear scan for the best pair beats a heap.
constexpr size_t kSmallWordSymbols = 48;

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

uint64_t mix(uint64_t key) {
  key ^= key >> 31;
  key *= 0x9E3779B97F4A7C15ull;
  key ^= key >> 29;
  return key;
}

std::atomic<uint64_t> next_instance_id{1};

// "<0xAB>" -> 0xAB; -1 for anything else (GGUF files can mark any piece as a byte).
int byte_piece_value(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (char c : piece.substr(3, 2)) {
    int digit = c >= '0' && c <= '9' ? c - '0'
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                       : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // ▁

// True when no vocabulary piece has ▁ right after another character (SentencePiece
// vocabularies: ▁ only starts pieces, or runs of ▁). Then no BPE symbol can span such a
// boundary, so a long pre-token (Llama 2 has no pre-tokenizer: a whole paragraph is one) can be
// cut before each ▁ that follows other text and the parts merged separately, with the same
// result and a cacheable part per word.
bool no_piece_joins_text_and_space(const TokenizerSpec& spec,
                                   const std::vector<std::string>& pieces) {
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    if (!spec.tokens[id].in_model) continue;
    std::string_view piece = pieces[id];
    for (size_t pos = piece.find(kSpaceMark, 1); pos != std::string_view::npos;
         pos = piece.find(kSpaceMark, pos + 1)) {
      if (pos < kSpaceMark.size() || piece.substr(pos - kSpaceMark.size(), 3) != kSpaceMark) {
        return false;
      }
    }
  }
  return true;
}

// One cache per thread, owned by the model that used it last: a thread that alternates between
// tokenizers just refills it. Keyed by an instance id, never a pointer (a freed model's address
// can be reused by a new one with a different vocabulary).
struct WordCache {
  uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> words;
};

WordCache& thread_cache(uint64_t owner) {
  thread_local WordCache cache;
  if (cache.owner != owner) {
    cache.words.clear();
    cache.owner = owner;
  }
  return cache;
}

}  // namespace

Result<std::unique_ptr<BpeModel>> BpeModel::create(const TokenizerSpec& spec,
                                                   const std::vector<std::string>& pieces,
                                                   bool byte_level) {
  std::unique_ptr<BpeModel> model(new BpeModel());
  model->instance_id_ = next_instance_id.fetch_add(1);
  model->byte_level_ = byte_level;
  model->byte_fallback_ = spec.byte_fallback;
  model->fuse_unk_ = spec.fuse_unk;
  model->ignore_merges_ = spec.ignore_merges;
  model->unk_id_ = spec.unk_id.value_or(-1);
  model->byte_ids_.fill(-1);
  model->byte_fallback_ids_.fill(-1);
  model->piece_to_id_.reserve(spec.tokens.size());
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    const TokenEntry& token = spec.tokens[id];
    if (!token.in_model || pieces[id].empty()) continue;
    // The first id wins when two ids share a spelling (a vocabulary bug, but seen in the wild).
    model->piece_to_id_.emplace(pieces[id], static_cast<int32_t>(id));
    if (byte_level && pieces[id].size() == 1) {
      model->byte_ids_[static_cast<uint8_t>(pieces[id][0])] = static_cast<int32_t>(id);
    }
    int byte = token.type == TokenType::kByte ? byte_piece_value(token.piece) : -1;
    if (byte >= 0) model->byte_fallback_ids_[byte] = static_cast<int32_t>(id);
  }
  model->split_before_space_ = !byte_level && no_piece_joins_text_and_space(spec, pieces);
  if (spec.model == ModelType::kBpeMerges) {
    MX_RETURN_IF_ERROR(model->build_merges_from_list(spec));
  } else {
    model->build_merges_from_scores(spec, pieces);
  }
  return model;
}

void BpeModel::insert_merge(int32_t left, int32_t right, uint32_t rank, int32_t merged_id) {
  uint64_t key = pair_key(left, right);
  for (uint64_t slot = mix(key) & merge_mask_;; slot = (slot + 1) & merge_mask_) {
    MergeEntry& entry = merge_table_[slot];
    if (entry.key == kEmptyKey || entry.key == key) {
      entry = MergeEntry{key, rank, merged_id};
      return;
    }
  }
}

const BpeModel::MergeEntry* BpeModel::find_merge(int32_t left, int32_t right) const {
  uint64_t key = pair_key(left, right);
  for (uint64_t slot = mix(key) & merge_mask_;; slot = (slot + 1) & merge_mask_) {
    const MergeEntry& entry = merge_table_[slot];
    if (entry.key == key) return &entry;
    if (entry.key == kEmptyKey) return nullptr;
  }
}

static size_t table_size_for(size_t count) {
  size_t size = 16;
  while (size < count * 2) size *= 2;  // load factor <= 0.5 keeps probes short
  return size;
}

Status BpeModel::build_merges_from_list(const TokenizerSpec& spec) {
  merge_table_.assign(table_size_for(spec.merges.size()), MergeEntry{});
  merge_mask_ = merge_table_.size() - 1;
  // Merges are spelled in the vocabulary's alphabet; byte-level ones are converted to raw bytes
  // like the vocabulary itself.
  auto internal = [&](const std::string& text) -> std::optional<std::string> {
    if (!byte_level_) return text;
    return byte_level_decode(text);
  };
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [left_text, right_text] = spec.merges[rank];
    auto left_piece = internal(left_text);
    auto right_piece = internal(right_text);
    int32_t left = left_piece ? piece_id(*left_piece) : -1;
    int32_t right = right_piece ? piece_id(*right_piece) : -1;
    int32_t result = left >= 0 && right >= 0 ? piece_id(*left_piece + *right_piece) : -1;
    if (left < 0 || right < 0 || result < 0) {
      return make_error(ErrorCode::kCorruptData,
                        "merge {} ('{}' '{}') names a piece that is not in the vocabulary", rank,
                        left_text, right_text);
    }
    insert_merge(left, right, static_cast<uint32_t>(rank), result);  // later duplicates win
  }
  return ok_status();
}

void BpeModel::build_merges_from_scores(const TokenizerSpec& spec,
                                        const std::vector<std::string>& pieces) {
  // Equal scores share a rank: the leftmost pair then goes first, as in SentencePiece.
  std::map<float, uint32_t, std::greater<float>> score_rank;
  for (const TokenEntry& token : spec.tokens) {
    if (token.in_model && token.type == TokenType::kNormal) score_rank.emplace(token.score, 0);
  }
  uint32_t next_rank = 0;
  for (auto& [score, rank] : score_rank) rank = next_rank++;
  std::vector<std::pair<uint64_t, std::pair<uint32_t, int32_t>>> merges;
  for (size_t id = 0; id < spec.tokens.size(); ++id) {
    const TokenEntry& token = spec.tokens[id];
    if (!token.in_model || token.type != TokenType::kNormal) continue;
    std::string_view piece = pieces[id];
    // Every split at a character boundary into two vocabulary pieces is a way to build it.
    for (size_t cut = 1; cut < piece.size(); ++cut) {
      if ((static_cast<uint8_t>(piece[cut]) & 0xC0) == 0x80) continue;
      int32_t left = piece_id(piece.substr(0, cut));
      int32_t right = piece_id(piece.substr(cut));
      if (left < 0 || right < 0) continue;
      merges.push_back({pair_key(left, right), {score_rank[token.score], static_cast<int32_t>(id)}});
    }
  }
  merge_table_.assign(table_size_for(merges.size()), MergeEntry{});
  merge_mask_ = merge_table_.size() - 1;
  for (const auto& [key, value] : merges) {
    insert_merge(static_cast<int32_t>(key >> 32), static_cast<int32_t>(key & 0xFFFFFFFF),
                 value.first, value.second);
  }
}

int32_t BpeModel::piece_id(std::string_view piece) const {
  auto it = piece_to_id_.find(piece);
  return it == piece_to_id_.end() ? -1 : it->second;
}

void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& symbols) const {
  symbols.clear();
  if (byte_level_) {
    for (char c : word) {
      int32_t id = byte_ids_[static_cast<uint8_t>(c)];
      if (id < 0) id = unk_id_;
      if (id >= 0) symbols.push_back(id);  // no byte token and no unk: dropped, as HF does
    }
    return;
  }
  bool previous_unk = false;
  for (size_t pos = 0; pos < word.size();) {
    size_t length = std::max(1, utf8_sequence_length(static_cast<uint8_t>(word[pos])));
    length = std::min(length, word.size() - pos);
    std::string_view ch = word.substr(pos, length);
    pos += length;
    int32_t id = piece_id(ch);
    if (id >= 0) {
      symbols.push_back(id);
      previous_unk = false;
      continue;
    }
    if (byte_fallback_ && std::all_of(ch.begin(), ch.end(), [&](char b) {
          return byte_fallback_ids_[static_cast<uint8_t>(b)] >= 0;
        })) {
      for (char b : ch) symbols.push_back(byte_fallback_ids_[static_cast<uint8_t>(b)]);
      previous_unk = false;
      continue;
    }
    if (unk_id_ < 0) continue;
    if (!(fuse_unk_ && previous_unk)) symbols.push_back(unk_id_);
    previous_unk = true;
  }
}

// Lowest rank first, leftmost on ties; ranks of the pairs are kept next to the symbols so each
// merge costs one scan and two lookups.
void BpeModel::merge_small(std::vector<int32_t>& symbols) const {
  size_t n = symbols.size();
  std::array<uint32_t, kSmallWordSymbols> ranks;
  std::array<int32_t, kSmallWordSymbols> merged;
  auto rank_pair = [&](size_t i) {
    const MergeEntry* entry = find_merge(symbols[i], symbols[i + 1]);
    ranks[i] = entry ? entry->rank : kNoRank;
    merged[i] = entry ? entry->merged_id : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) rank_pair(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == kNoRank) break;
    symbols[best] = merged[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      symbols[i] = symbols[i + 1];
      ranks[i] = ranks[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    if (best + 1 < n) rank_pair(best);
    if (best > 0) rank_pair(best - 1);
  }
  symbols.resize(n);
}

// The same order with a heap, for long pre-tokens (a Llama 2 paragraph is one pre-token).
void BpeModel::merge_large(std::vector<int32_t>& symbols) const {
  struct Candidate {
    uint32_t rank;
    int32_t pos, left, right, merged;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  const int32_t n = static_cast<int32_t>(symbols.size());
  thread_local std::vector<int32_t> next, prev;
  thread_local std::vector<Candidate> heap;
  next.resize(n);
  prev.resize(n);
  heap.clear();
  for (int32_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  // A min-heap on (rank, position) in a reused vector.
  auto add = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return false;
    const MergeEntry* entry = find_merge(symbols[pos], symbols[next[pos]]);
    if (!entry) return false;
    heap.push_back({entry->rank, pos, symbols[pos], symbols[next[pos]], entry->merged_id});
    return true;
  };
  auto push = [&](int32_t pos) {
    if (add(pos)) std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (int32_t i = 0; i + 1 < n; ++i) add(i);
  std::make_heap(heap.begin(), heap.end(), std::greater<>());
  constexpr int32_t kDead = -2;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    Candidate top = heap.back();
    heap.pop_back();
    int32_t right = next[top.pos];
    // Stale entries: a side was merged away or changed since the pair was queued.
    if (symbols[top.pos] != top.left || right < 0 || symbols[right] != top.right) continue;
    symbols[top.pos] = top.merged;
    symbols[right] = kDead;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    push(prev[top.pos]);
    push(top.pos);
  }
  symbols.erase(std::remove(symbols.begin(), symbols.end(), kDead), symbols.end());
}

void BpeModel::encode_uncached(std::string_view word, std::vector<int32_t>& out) const {
  thread_local std::vector<int32_t> symbols;
  initial_symbols(word, symbols);
  if (symbols.size() <= kSmallWordSymbols) {
    merge_small(symbols);
  } else {
    merge_large(symbols);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
}

void BpeModel::encode_part(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() > kMaxCachedWordBytes) {
    encode_uncached(word, out);
    return;
  }
  WordCache& cache = thread_cache(instance_id_);
  auto it = cache.words.find(word);
  if (it != cache.words.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    return;
  }
  size_t start = out.size();
  encode_uncached(word, out);
  if (cache.words.size() >= kMaxCacheEntries) cache.words.clear();
  cache.words.emplace(std::string(word), std::vector<int32_t>(out.begin() + start, out.end()));
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {  // the whole pre-token, before any cutting
    int32_t id = piece_id(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  if (!split_before_space_) {
    encode_part(word, out);
    return;
  }
  // Cut before each ▁ that follows other text (see no_piece_joins_text_and_space).
  size_t begin = 0;
  for (size_t pos = word.find(kSpaceMark, 1); pos != std::string_view::npos;
       pos = word.find(kSpaceMark, pos + kSpaceMark.size())) {
    if (pos >= kSpaceMark.size() + begin &&
        word.substr(pos - kSpaceMark.size(), kSpaceMark.size()) == kSpaceMark) {
      continue;  // inside a run of ▁
    }
    if (pos > begin) encode_part(word.substr(begin, pos - begin), out);
    begin = pos;
  }
  encode_part(word.substr(begin), out);
}

}  // namespace mx
