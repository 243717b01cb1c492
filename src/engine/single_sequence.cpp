#include "engine/single_sequence.h"

#include <algorithm>
#include <numeric>

namespace mx {

SingleSequence::SingleSequence(Model& model, int64_t max_tokens, DType kv_dtype,
                               int64_t block_size)
    : model_(model),
      max_tokens_(max_tokens),
      kv_(model.config(), (max_tokens + block_size - 1) / block_size, block_size, kv_dtype) {
  block_table_.resize(static_cast<size_t>(kv_.n_blocks()));
  std::iota(block_table_.begin(), block_table_.end(), 0);
}

Status SingleSequence::append(std::span<const int32_t> tokens, Rows rows,
                              std::vector<float>& logits, ThreadPool& pool,
                              int64_t chunk_tokens) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n_past_ + n > max_tokens_) {
    return make_error(ErrorCode::kOutOfRange,
                      "the sequence would hold {} tokens, more than its context of {}",
                      n_past_ + n, max_tokens_);
  }
  const int64_t vocab = model_.config().vocab_size;
  const int64_t n_rows = rows == Rows::kAllRows ? n : (rows == Rows::kLastRow ? 1 : 0);
  logits.resize(static_cast<size_t>(n_rows * vocab));
  int64_t rows_done = 0;
  for (int64_t begin = 0; begin < n; begin += chunk_tokens) {
    const int64_t count = std::min(chunk_tokens, n - begin);
    positions_.resize(count);
    std::iota(positions_.begin(), positions_.end(), static_cast<int32_t>(n_past_));
    logit_rows_.clear();
    if (rows == Rows::kAllRows) {
      for (int64_t i = 0; i < count; ++i) logit_rows_.push_back(static_cast<int32_t>(i));
    } else if (rows == Rows::kLastRow && begin + count == n) {
      logit_rows_.push_back(static_cast<int32_t>(count - 1));
    }
    BatchSequence seq{0, count, block_table_.data(), n_past_ + count};
    ForwardBatch batch{tokens.subspan(begin, count), positions_, std::span(&seq, 1), logit_rows_};
    MX_RETURN_IF_ERROR(model_.forward(batch, kv_, logits.data() + rows_done * vocab, pool));
    rows_done += static_cast<int64_t>(logit_rows_.size());
    n_past_ += count;
  }
  return ok_status();
}

}  // namespace mx
