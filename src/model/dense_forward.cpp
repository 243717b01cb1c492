// The forward pass shared by the dense architectures (llama, qwen2, qwen3):
//   x = embed(tokens)
//   per layer: h = rmsnorm(x); q,k,v = h W^T (+ bias); [qwen3: rmsnorm per q/k head;
//              minimax-m2: over all of q and all of k]; rope(q, k);
//              write k,v to the paged cache; a = attention(q, cache); x += a Wo^T;
//              h = rmsnorm(x); x += (silu(h Wg^T) * (h Wu^T)) Wd^T
//   logits = rmsnorm(x[rows]) Wout^T
// Shapes: x, h [n_tokens, d_model]; q, attn [n_tokens, n_heads * head_dim];
// k, v [n_tokens, n_kv_heads * head_dim]; gate, up [n_tokens, ffn_hidden].
#include <algorithm>
#include <cmath>

#include "kernels/cpu/activations.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/get_rows.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/norm.h"
#include "model/model.h"

namespace mx {

Status check_forward_batch(const ForwardBatch& batch, const ModelConfig& c, const KvCacheStorage& kv) {
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  if (n == 0 || static_cast<int64_t>(batch.positions.size()) != n) {
    return make_error(ErrorCode::kInvalidArgument, "forward: {} tokens but {} positions", n,
                      batch.positions.size());
  }
  for (int32_t token : batch.tokens) {
    if (token < 0 || token >= c.vocab_size) {
      return make_error(ErrorCode::kInvalidArgument,
                        "token id {} is outside the vocabulary (0..{})", token, c.vocab_size - 1);
    }
  }
  for (int32_t row : batch.logit_rows) {
    if (row < 0 || row >= n) {
      return make_error(ErrorCode::kInvalidArgument, "forward: logit row {} of {} tokens", row, n);
    }
  }
  int64_t covered = 0;
  for (const BatchSequence& seq : batch.sequences) {
    if (seq.token_offset != covered || seq.n_tokens <= 0 || seq.n_kv < seq.n_tokens ||
        seq.n_kv > kv.n_blocks() * kv.block_size() || seq.block_table == nullptr) {
      return make_error(ErrorCode::kInvalidArgument, "forward: inconsistent sequence slices");
    }
    covered += seq.n_tokens;
  }
  if (covered != n) {
    return make_error(ErrorCode::kInvalidArgument, "forward: sequences cover {} of {} tokens",
                      covered, n);
  }
  return ok_status();
}

void Model::reserve(int64_t n_tokens, int64_t n_logits, int n_threads, const KvCacheStorage& kv) {
  const ModelConfig& c = config_;
  if (n_tokens > reserved_tokens_) {
    const int64_t q_dim = c.n_heads * c.head_dim;
    const int64_t kv_dim = c.n_kv_heads * c.head_dim;
    x_.resize(n_tokens * c.d_model);
    h_.resize(n_tokens * c.d_model);
    q_.resize(n_tokens * q_dim);
    k_.resize(n_tokens * kv_dim);
    v_.resize(n_tokens * kv_dim);
    attn_.resize(n_tokens * q_dim);
    gate_.resize(n_tokens * c.ffn_hidden);
    up_.resize(n_tokens * c.ffn_hidden);
    size_t scratch = 0;
    for (const MtpWeights& m : w_.mtp) {
      scratch = std::max(scratch, matmul_scratch_bytes(m.eh_proj.type, n_tokens, m.eh_proj.cols));
      scratch = std::max(scratch, matmul_scratch_bytes(m.head.type, n_tokens, m.head.cols));
    }
    for (const LayerWeights& l : w_.layers) {
      for (const Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down,
                              &l.mla.wq_a, &l.mla.wq_b, &l.mla.wkv_a, &l.mla.wk_b_t,
                              &l.mla.wv_b}) {
        scratch = std::max(scratch, matmul_scratch_bytes(m->type, n_tokens, m->cols));
      }
    }
    scratch = std::max(scratch, matmul_scratch_bytes(w_.output.type, n_tokens, c.d_model));
    matmul_scratch_.resize(scratch);
    // A few queries (decodes of a batch) may split the KV range across threads and need more
    // scratch than a prefill of n_tokens: reserve for every query count up to n_tokens (the
    // kernel splits only below a small count, so the loop stops early).
    auto attention_need = [&](int64_t q) {
      return attention_scratch_bytes(kv.layer(0), {c.n_heads, q, n_threads});
    };
    size_t attention_bytes = attention_need(n_tokens);
    for (int64_t q = 1; q <= std::min<int64_t>(n_tokens, 64); ++q) {
      attention_bytes = std::max(attention_bytes, attention_need(q));
    }
    attention_scratch_.resize(std::max(attention_scratch_.size(), attention_bytes));
    if (c.moe.enabled()) reserve_moe(n_tokens);
    reserved_tokens_ = n_tokens;
  }
  if (n_logits > reserved_logits_) {
    normed_rows_.resize(n_logits * c.d_model);
    reserved_logits_ = n_logits;
  }
}

Status Model::matmul_into(const Matrix& w, const float* x, int64_t x_stride, float* y,
                          int64_t y_stride, int64_t n_tokens, ThreadPool& pool) {
  const MatmulArgs args = matmul_args(w, x, x_stride, y, y_stride, n_tokens);
  return matmul(args, matmul_scratch_.data(), matmul_scratch_.size(), pool);
}

Status Model::forward(const ForwardBatch& batch, KvCacheStorage& kv, float* logits,
                      ThreadPool& pool) {
  const ModelConfig& c = config_;
  MX_RETURN_IF_ERROR(check_forward_batch(batch, c, kv));
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t n_logits = static_cast<int64_t>(batch.logit_rows.size());
  reserve(n, n_logits, pool.size(), kv);
  MX_RETURN_IF_ERROR(get_rows(w_.token_embd.type, w_.token_embd.data, c.vocab_size, c.d_model,
                              batch.tokens.data(), n, x_.data(), c.d_model, pool));
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    MX_RETURN_IF_ERROR(run_layer(layer, batch, kv, pool));
  }
  if (batch.hidden_out != nullptr) std::copy_n(x_.data(), n * c.d_model, batch.hidden_out);
  return logits_of_rows(batch, w_.output_norm, w_.output, logits, pool);
}

Status Model::logits_of_rows(const ForwardBatch& batch, const Vector& norm, const Matrix& head,
                             float* logits, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const int64_t n_logits = static_cast<int64_t>(batch.logit_rows.size());
  if (n_logits == 0) return ok_status();
  for (int64_t i = 0; i < n_logits; ++i) {
    std::copy_n(&x_[batch.logit_rows[i] * c.d_model], c.d_model, &normed_rows_[i * c.d_model]);
  }
  rmsnorm(normed_rows_.data(), c.d_model, norm.data, normed_rows_.data(), c.d_model, n_logits,
          c.d_model, c.rms_eps, pool);
  return matmul_into(head, normed_rows_.data(), c.d_model, logits, c.vocab_size, n_logits, pool);
}

Status Model::run_layer(int64_t layer, const ForwardBatch& batch, KvCacheStorage& kv,
                        ThreadPool& pool) {
  const ModelConfig& c = config_;
  const LayerWeights& w = w_.layers[layer];
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t d = c.d_model;
  rmsnorm(x_.data(), d, w.attn_norm.data, h_.data(), d, n, d, c.rms_eps, pool);
  MX_RETURN_IF_ERROR(attention_block(layer, batch, kv, pool));  // h_ -> h_
  add(x_.data(), h_.data(), x_.data(), n * d);
  rmsnorm(x_.data(), d, w.ffn_norm.data, h_.data(), d, n, d, c.rms_eps, pool);
  MX_RETURN_IF_ERROR(ffn_block(layer, n, pool));  // h_ -> h_
  add(x_.data(), h_.data(), x_.data(), n * d);
  return ok_status();
}

// GQA attention of the normalized rows h_ (n tokens); the output projection lands in h_.
Status Model::attention_block(int64_t layer, const ForwardBatch& batch, KvCacheStorage& kv,
                              ThreadPool& pool) {
  const ModelConfig& c = config_;
  const LayerWeights& w = w_.layers[layer];
  if (w.mla.present()) return mla_attention_block(layer, batch, kv, pool);
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t d = c.d_model;
  const int64_t q_dim = c.n_heads * c.head_dim;
  const int64_t kv_dim = c.n_kv_heads * c.head_dim;
  const int32_t* positions = batch.positions.data();

  MX_RETURN_IF_ERROR(matmul_into(w.wq, h_.data(), d, q_.data(), q_dim, n, pool));
  MX_RETURN_IF_ERROR(matmul_into(w.wk, h_.data(), d, k_.data(), kv_dim, n, pool));
  MX_RETURN_IF_ERROR(matmul_into(w.wv, h_.data(), d, v_.data(), kv_dim, n, pool));
  if (w.bq.present()) {
    for (int64_t t = 0; t < n; ++t) {
      add(&q_[t * q_dim], w.bq.data, &q_[t * q_dim], q_dim);
      add(&k_[t * kv_dim], w.bk.data, &k_[t * kv_dim], kv_dim);
      add(&v_[t * kv_dim], w.bv.data, &v_[t * kv_dim], kv_dim);
    }
  }
  if (w.q_norm.present()) {  // RMSNorm over rows as wide as the gains: each head (qwen3) or
                             // all of q and of k (minimax-m2)
    const int64_t qw = w.q_norm.size, kw = w.k_norm.size;
    rmsnorm(q_.data(), qw, w.q_norm.data, q_.data(), qw, n * q_dim / qw, qw, c.rms_eps, pool);
    rmsnorm(k_.data(), kw, w.k_norm.data, k_.data(), kw, n * kv_dim / kw, kw, c.rms_eps, pool);
  }
  const RopeLayout layout = c.rope_interleaved ? RopeLayout::kNormal : RopeLayout::kNeox;
  rope_apply(rope_, layout, q_.data(), n, c.n_heads, c.head_dim, q_dim, positions, pool);
  rope_apply(rope_, layout, k_.data(), n, c.n_kv_heads, c.head_dim, kv_dim, positions, pool);

  const PagedKv layer_kv = kv.layer(layer);
  attention_seqs_.clear();
  for (const BatchSequence& seq : batch.sequences) {
    const int64_t off = seq.token_offset;
    kv_write(layer_kv, seq.block_table, positions + off, seq.n_tokens, &k_[off * kv_dim], kv_dim,
             &v_[off * kv_dim], kv_dim);
    AttentionSeq a;
    a.block_table = seq.block_table;
    a.n_kv = seq.n_kv;
    a.n_q = seq.n_tokens;
    a.q_positions = positions + off;
    a.q = &q_[off * q_dim];
    a.q_stride = q_dim;
    a.out = &attn_[off * q_dim];
    a.out_stride = q_dim;
    attention_seqs_.push_back(a);
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  MX_RETURN_IF_ERROR(attention(layer_kv, attention_seqs_.data(),
                               static_cast<int64_t>(attention_seqs_.size()), c.n_heads, scale,
                               attention_scratch_.data(), attention_scratch_.size(), pool));
  return matmul_into(w.wo, attn_.data(), q_dim, h_.data(), d, n, pool);
}

// The dense SwiGLU FFN of the normalized rows h_ (n tokens); the result lands in h_. MoE layers
// run moe_ffn_block (moe_forward.cpp) instead.
Status Model::ffn_block(int64_t layer, int64_t n, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const LayerWeights& w = w_.layers[layer];
  if (w.moe.present()) return moe_ffn_block(layer, n, pool);
  const int64_t d = c.d_model;
  MX_RETURN_IF_ERROR(matmul_into(w.w_gate, h_.data(), d, gate_.data(), c.ffn_hidden, n, pool));
  MX_RETURN_IF_ERROR(matmul_into(w.w_up, h_.data(), d, up_.data(), c.ffn_hidden, n, pool));
  swiglu(gate_.data(), c.ffn_hidden, up_.data(), c.ffn_hidden, gate_.data(), c.ffn_hidden, n,
         c.ffn_hidden, pool);
  return matmul_into(w.w_down, gate_.data(), c.ffn_hidden, h_.data(), d, n, pool);
}

}  // namespace mx
