// SingleSequence: one sequence run straight through a Model — prompt prefill in chunks, then one
// token per step — with its own KV blocks (numbered in order). What `mxserve run`, `perplexity`
// and `bench` use; the serving engine schedules many sequences instead.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace mx {

class SingleSequence {
 public:
  // Room for max_tokens positions; KV stored as kv_dtype (F16 default, F32 for exactness tests).
  SingleSequence(Model& model, int64_t max_tokens, DType kv_dtype = DType::F16,
                 int64_t block_size = 32);

  // Appends tokens at the next positions, in chunks of at most chunk_tokens. logits receives
  // [n_rows, vocab] for the rows asked: kLastRow (only the last token) or kAllRows.
  enum class Rows { kNone, kLastRow, kAllRows };
  Status append(std::span<const int32_t> tokens, Rows rows, std::vector<float>& logits,
                ThreadPool& pool, int64_t chunk_tokens = 512);

  int64_t position() const { return n_past_; }
  void reset() { n_past_ = 0; }
  // Forgets the positions from `position` on (0 <= position <= position()): the next append
  // writes there; the KV of the earlier positions stays (bench --depth reuses a prefilled context).
  void rewind(int64_t position) { n_past_ = std::min(std::max<int64_t>(position, 0), n_past_); }

 private:
  Model& model_;
  int64_t max_tokens_;
  KvCacheStorage kv_;
  std::vector<int32_t> block_table_;
  std::vector<int32_t> positions_;
  std::vector<int32_t> logit_rows_;
  int64_t n_past_ = 0;
};

}  // namespace mx
