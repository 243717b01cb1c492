// Multi-head Latent Attention (DeepSeek-V2/V3), for layers with MlaWeights. H heads, latent
// rank r = kv_lora_rank, head parts nope / rope (qk_nope_dim / qk_rope_dim), values v_head:
//   q = h Wq  (or rmsnorm(h Wq_a) Wq_b)                    [n, H, nope + rope]
//   [c | k_rope] = h Wkv_a; c = rmsnorm(c)                  [n, r + rope]
//   rope(q[.., nope:]), rope(k_rope)  (interleaved pairs)
//   cache <- [c | k_rope] per token (KvCacheStorage's MLA layout)
// Direct form (prefill chunks with many queries): decompress the sequence's whole latent range,
//   K[p, h] = [c_p Wk_b[h]^T | k_rope_p], V[p, h] = c_p Wv_b[h]^T, then ordinary attention.
// Absorbed form (decode, short chunks): q_abs[h] = Wk_b[h]^T q_nope[h] (r wide), so
//   score(p) = q_abs[h] . c_p + q_rope[h] . k_rope_p, i.e. attention with ONE kv head of width
//   r + rope whose values are the cache rows themselves; ctx[h] = softmax . c (first r of the
//   output), out[h] = Wv_b[h] ctx[h]. Both use the paged attention kernel.
// Output: o = out Wo, into h_.
#include <algorithm>
#include <numeric>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/norm.h"
#include "model/model.h"

namespace mx {
namespace {

constexpr int64_t kDirectBlock = 64;  // tokens per block of the direct form's temporary KV

// Per-head slice of a stacked matrix [H * rows, cols] (any stored type, its row or block
// scales following; no aux data); heads `stride` rows apart when stride > 0
// (MlaWeights::kv_b_head_stride).
Matrix head_slice(const Matrix& stacked, int64_t head, int64_t rows, int64_t stride = 0) {
  return stacked.row_slice(head * (stride > 0 ? stride : rows), rows);
}

// Rows [p0, p1) of one layer's latent cache as f32 [p1 - p0, width] (dequantized if I8).
void read_latent(const PagedKv& kv, const int32_t* block_table, int64_t p0, int64_t p1,
                 float* out) {
  for (int64_t p = p0; p < p1; ++p) {
    kv_read_row(kv, kv.k_base, block_table[p / kv.block_size], 0, p % kv.block_size,
                out + (p - p0) * kv.head_dim);
  }
}

template <typename T>
void grow(std::vector<T>& v, int64_t size) {
  if (static_cast<int64_t>(v.size()) < size) v.resize(static_cast<size_t>(size));
}

}  // namespace

// The direct form costs (nope + v) * r per kv position (decompression) plus the attention over
// qk_head + v wide heads per query; the absorbed form 2 * (r + rope) per query and position.
// Direct wins once a chunk's queries amortize the decompression.
bool Model::mla_use_direct(int64_t n_queries) const {
  if (mla_form_ != MlaForm::kAuto) return mla_form_ == MlaForm::kDirect;
  const MlaConfig& m = config_.mla;
  const int64_t saved_per_query = 2 * m.cache_width() - m.qk_head_dim() - m.v_head_dim;
  return n_queries * saved_per_query > (m.qk_nope_dim + m.v_head_dim) * m.kv_lora_rank;
}

Status Model::mla_attention_block(int64_t layer, const ForwardBatch& batch, KvCacheStorage& kv,
                                  ThreadPool& pool) {
  const ModelConfig& c = config_;
  const MlaConfig& m = c.mla;
  const LayerWeights& w = w_.layers[layer];
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t d = c.d_model, H = c.n_heads, cw = m.cache_width();
  const int64_t q_dim = H * m.qk_head_dim();
  const int32_t* positions = batch.positions.data();
  grow(mla_latent_, n * cw);
  grow(mla_out_, n * H * m.v_head_dim);

  if (w.mla.wq_a.present()) {
    grow(mla_q_a_, n * m.q_lora_rank);
    MX_RETURN_IF_ERROR(matmul_into(w.mla.wq_a, h_.data(), d, mla_q_a_.data(), m.q_lora_rank, n, pool));
    rmsnorm(mla_q_a_.data(), m.q_lora_rank, w.mla.q_a_norm.data, mla_q_a_.data(), m.q_lora_rank,
            n, m.q_lora_rank, c.rms_eps, pool);
    MX_RETURN_IF_ERROR(matmul_into(w.mla.wq_b, mla_q_a_.data(), m.q_lora_rank, q_.data(), q_dim, n, pool));
  } else {
    MX_RETURN_IF_ERROR(matmul_into(w.wq, h_.data(), d, q_.data(), q_dim, n, pool));
  }
  MX_RETURN_IF_ERROR(matmul_into(w.mla.wkv_a, h_.data(), d, mla_latent_.data(), cw, n, pool));
  rmsnorm(mla_latent_.data(), cw, w.mla.kv_a_norm.data, mla_latent_.data(), cw, n,
          m.kv_lora_rank, c.rms_eps, pool);
  // The rope part of each q head starts at nope; heads are qk_head apart.
  rope_apply(rope_, RopeLayout::kNormal, q_.data() + m.qk_nope_dim, n, H, m.qk_head_dim(), q_dim,
             positions, pool);
  rope_apply(rope_, RopeLayout::kNormal, mla_latent_.data() + m.kv_lora_rank, n, 1,
             m.qk_rope_dim, cw, positions, pool);

  const PagedKv layer_kv = kv.layer(layer);
  for (const BatchSequence& seq : batch.sequences) {
    const int64_t off = seq.token_offset;
    // K and V views alias the one latent row: both writes store the same bytes.
    kv_write(layer_kv, seq.block_table, positions + off, seq.n_tokens, &mla_latent_[off * cw], cw,
             &mla_latent_[off * cw], cw);
  }
  // Consecutive sequences that take the absorbed form run as one attention call.
  const int64_t n_seqs = static_cast<int64_t>(batch.sequences.size());
  for (int64_t s = 0; s < n_seqs;) {
    if (mla_use_direct(batch.sequences[s].n_tokens)) {
      MX_RETURN_IF_ERROR(mla_direct(layer, batch, batch.sequences[s], layer_kv, pool));
      ++s;
      continue;
    }
    int64_t end = s + 1;
    while (end < n_seqs && !mla_use_direct(batch.sequences[end].n_tokens)) ++end;
    MX_RETURN_IF_ERROR(mla_absorbed(layer, batch, s, end, layer_kv, pool));
    s = end;
  }
  const int64_t out_dim = H * m.v_head_dim;
  return matmul_into(w.wo, mla_out_.data(), out_dim, h_.data(), d, n, pool);
}

Status Model::mla_absorbed(int64_t layer, const ForwardBatch& batch, int64_t first_seq,
                           int64_t end_seq, const PagedKv& layer_kv, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const MlaConfig& m = c.mla;
  const MlaWeights& w = w_.layers[layer].mla;
  const int64_t H = c.n_heads, r = m.kv_lora_rank, cw = m.cache_width();
  const int64_t q_dim = H * m.qk_head_dim(), abs_dim = H * cw, out_dim = H * m.v_head_dim;
  const int64_t t0 = batch.sequences[first_seq].token_offset;
  const BatchSequence& last = batch.sequences[end_seq - 1];
  const int64_t nt = last.token_offset + last.n_tokens - t0;
  grow(mla_q_abs_, batch.tokens.size() * abs_dim);
  grow(mla_ctx_, batch.tokens.size() * abs_dim);
  float* q_abs = &mla_q_abs_[t0 * abs_dim];
  float* ctx = &mla_ctx_[t0 * abs_dim];
  // q_abs[t, h] = [Wk_b[h]^T q_nope[t, h] | q_rope[t, h]]
  for (int64_t h = 0; h < H; ++h) {
    MX_RETURN_IF_ERROR(matmul_into(head_slice(w.wk_b_t, h, r), &q_[t0 * q_dim + h * m.qk_head_dim()],
                                   q_dim, q_abs + h * cw, abs_dim, nt, pool));
  }
  for (int64_t t = 0; t < nt; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      const float* rope = &q_[(t0 + t) * q_dim + h * m.qk_head_dim() + m.qk_nope_dim];
      std::copy_n(rope, m.qk_rope_dim, q_abs + t * abs_dim + h * cw + r);
    }
  }
  attention_seqs_.clear();
  for (int64_t s = first_seq; s < end_seq; ++s) {
    const BatchSequence& seq = batch.sequences[s];
    AttentionSeq a;
    a.block_table = seq.block_table;
    a.n_kv = seq.n_kv;
    a.n_q = seq.n_tokens;
    a.q_positions = batch.positions.data() + seq.token_offset;
    a.q = q_abs + (seq.token_offset - t0) * abs_dim;
    a.q_stride = abs_dim;
    a.out = ctx + (seq.token_offset - t0) * abs_dim;
    a.out_stride = abs_dim;
    attention_seqs_.push_back(a);
  }
  const size_t need = attention_scratch_bytes(layer_kv, {H, nt, pool.size()});
  grow(attention_scratch_, static_cast<int64_t>(need));
  MX_RETURN_IF_ERROR(attention(layer_kv, attention_seqs_.data(),
                               static_cast<int64_t>(attention_seqs_.size()), H,
                               attention_softmax_scale(c), attention_scratch_.data(),
                               attention_scratch_.size(), pool));
  // out[t, h] = Wv_b[h] ctx[t, h, :r]
  for (int64_t h = 0; h < H; ++h) {
    MX_RETURN_IF_ERROR(matmul_into(head_slice(w.wv_b, h, m.v_head_dim, w.kv_b_head_stride),
                                   ctx + h * cw, abs_dim,
                                   &mla_out_[t0 * out_dim + h * m.v_head_dim], out_dim, nt, pool));
  }
  return ok_status();
}

Status Model::mla_direct(int64_t layer, const ForwardBatch& batch, const BatchSequence& seq,
                         const PagedKv& layer_kv, ThreadPool& pool) {
  const ModelConfig& c = config_;
  const MlaConfig& m = c.mla;
  const MlaWeights& w = w_.layers[layer].mla;
  const int64_t H = c.n_heads, r = m.kv_lora_rank, cw = m.cache_width();
  const int64_t nope = m.qk_nope_dim, qk = m.qk_head_dim(), vh = m.v_head_dim;
  const int64_t D = std::max(qk, vh);  // the kernel's head width: K and V padded to one size
  const int64_t n_kv = seq.n_kv, n_q = seq.n_tokens, q_dim = H * qk;
  grow(mla_kv_latent_, n_kv * cw);
  grow(mla_k_, n_kv * H * D);
  grow(mla_v_, n_kv * H * D);
  read_latent(layer_kv, seq.block_table, 0, n_kv, mla_kv_latent_.data());
  // n_kv rows go through wk_b / wv_b, more than reserve() sized the matmul scratch for.
  grow(matmul_scratch_, static_cast<int64_t>(std::max(matmul_scratch_bytes(w.wk_b.type, n_kv, r),
                                                      matmul_scratch_bytes(w.wv_b.type, n_kv, r))));
  // K_nope[p, h] = Wk_b[h] c_p, V[p, h] = Wv_b[h] c_p: one matmul each over all heads, written
  // at head stride D; then k_rope is broadcast to every head and the pads zeroed.
  for (int64_t h = 0; h < H; ++h) {
    MX_RETURN_IF_ERROR(matmul_into(head_slice(w.wk_b, h, nope, w.kv_b_head_stride),
                                   mla_kv_latent_.data(), cw, &mla_k_[h * D], H * D, n_kv, pool));
    MX_RETURN_IF_ERROR(matmul_into(head_slice(w.wv_b, h, vh, w.kv_b_head_stride),
                                   mla_kv_latent_.data(), cw, &mla_v_[h * D], H * D, n_kv, pool));
  }
  for (int64_t p = 0; p < n_kv; ++p) {
    const float* k_rope = &mla_kv_latent_[p * cw + r];
    for (int64_t h = 0; h < H; ++h) {
      float* k = &mla_k_[(p * H + h) * D];
      std::copy_n(k_rope, m.qk_rope_dim, k + nope);
      std::fill(k + qk, k + D, 0.0f);
      std::fill(&mla_v_[(p * H + h) * D + vh], &mla_v_[(p * H + h + 1) * D], 0.0f);
    }
  }
  // A temporary f32 paged KV of the decompressed heads; block b holds positions b*64...
  PagedKv tmp;
  tmp.block_size = kDirectBlock;
  tmp.n_kv_heads = H;
  tmp.head_dim = D;
  tmp.dtype = DType::F32;
  const int64_t n_blocks = (n_kv + kDirectBlock - 1) / kDirectBlock;
  const int64_t part_floats = H * kDirectBlock * D;
  grow(mla_tmp_kv_, n_blocks * 2 * part_floats);
  tmp.k_base = reinterpret_cast<uint8_t*>(mla_tmp_kv_.data());
  tmp.v_base = tmp.k_base + part_floats * sizeof(float);
  tmp.block_stride_bytes = 2 * part_floats * static_cast<int64_t>(sizeof(float));
  if (static_cast<int64_t>(mla_iota_.size()) < std::max(n_kv, n_blocks)) {
    mla_iota_.resize(static_cast<size_t>(std::max(n_kv, n_blocks)));
    std::iota(mla_iota_.begin(), mla_iota_.end(), 0);
  }
  kv_write(tmp, mla_iota_.data(), mla_iota_.data(), n_kv, mla_k_.data(), H * D, mla_v_.data(),
           H * D);
  const float* q = &q_[seq.token_offset * q_dim];
  int64_t q_stride = q_dim;
  if (D != qk) {  // pad the queries to the kernel's head width
    grow(mla_q_pad_, n_q * H * D);
    for (int64_t t = 0; t < n_q; ++t) {
      for (int64_t h = 0; h < H; ++h) {
        float* dst = &mla_q_pad_[(t * H + h) * D];
        std::copy_n(q + t * q_dim + h * qk, qk, dst);
        std::fill(dst + qk, dst + D, 0.0f);
      }
    }
    q = mla_q_pad_.data();
    q_stride = H * D;
  }
  grow(mla_o_pad_, n_q * H * D);
  AttentionSeq a;
  a.block_table = mla_iota_.data();
  a.n_kv = n_kv;
  a.n_q = n_q;
  a.q_positions = batch.positions.data() + seq.token_offset;
  a.q = q;
  a.q_stride = q_stride;
  a.out = mla_o_pad_.data();
  a.out_stride = H * D;
  const size_t need = attention_scratch_bytes(tmp, {H, n_q, pool.size()});
  grow(attention_scratch_, static_cast<int64_t>(need));
  MX_RETURN_IF_ERROR(attention(tmp, &a, 1, H, attention_softmax_scale(c),
                               attention_scratch_.data(), attention_scratch_.size(), pool));
  const int64_t out_dim = H * vh;
  for (int64_t t = 0; t < n_q; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      std::copy_n(&mla_o_pad_[(t * H + h) * D], vh,
                  &mla_out_[(seq.token_offset + t) * out_dim + h * vh]);
    }
  }
  return ok_status();
}

}  // namespace mx
