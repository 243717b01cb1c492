// Model: a loaded model (config + weights, memory-mapped) and its forward pass.
//
// forward() runs one batch: the new tokens of one or more sequences, concatenated. Each sequence
// names its KV blocks (block table, as the engine's block manager assigned them) and how many
// KV positions it has after this step. All tokens of the batch go through each matrix product
// together ([n_tokens, d] x W^T), attention runs per sequence over its paged KV. Logits are
// computed only for the rows the caller asks for (the last token of each sequence in serving;
// every token in perplexity). Buffers grow to the largest batch seen and are then reused: the
// decode loop allocates nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "io/weight_map.h"
#include "kernels/cpu/rope.h"
#include "model/kv_cache.h"
#include "model/layers.h"
#include "model/model_config.h"
#include "model/moe_ffn.h"

namespace mx {

struct BatchSequence {
  int64_t token_offset = 0;              // first row of this sequence in ForwardBatch::tokens
  int64_t n_tokens = 0;                  // its new tokens this step
  const int32_t* block_table = nullptr;  // its KV blocks, in position order
  int64_t n_kv = 0;                      // KV positions after this step (last position + 1)
};

struct ForwardBatch {
  std::span<const int32_t> tokens;     // [n_tokens]
  std::span<const int32_t> positions;  // [n_tokens]
  std::span<const BatchSequence> sequences;
  std::span<const int32_t> logit_rows;  // rows of `tokens` whose logits are wanted
  // Optional: [n_tokens, d_model], every row's final hidden state (before the output norm), the
  // input of the MTP drafter (mtp_forward).
  float* hidden_out = nullptr;
};

// Checks a batch's tokens, positions, slices and logit rows against the model and the cache.
Status check_forward_batch(const ForwardBatch& batch, const ModelConfig& config,
                           const KvCacheStorage& kv);

class Model {
 public:
  // A GGUF file or a Hugging Face model folder.
  static Result<std::unique_ptr<Model>> load(const std::string& path);
  // fingerprint() of the model at `path`, without binding its weights (maps the file and reads
  // the tensor directory and a few bytes of each tensor): what a frontend compares with the
  // fingerprints its workers announce.
  static Result<uint64_t> file_fingerprint(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const std::string& source() const { return source_; }
  // Identifies the weights' content (not the path): names, types, shapes and sampled bytes of
  // every tensor as stored in the file, and the config. Persistent caches key on it (a model file
  // replaced under the same path must never reuse another's KV).
  uint64_t fingerprint() const { return fingerprint_; }
  bool is_gguf() const { return is_gguf_; }

  // logits: [logit_rows.size(), vocab_size] floats.
  Status forward(const ForwardBatch& batch, KvCacheStorage& kv, float* logits, ThreadPool& pool);

  // Multi-token prediction (mtp_forward.cpp), DeepSeek-V3's nextn module 0 as a drafter. Row t
  // of `batch` is position p = positions[t] with batch.tokens[t] = the token at p + 1 and
  // hidden[t] [d_model] = the hidden state of position p (from forward's hidden_out, or a
  // previous mtp_forward's hidden_out when drafting further ahead):
  //   x = eh_proj([enorm(embed(token)) | hnorm(hidden)]); x = layer_{n_layers}(x) at p
  //   logits (of the token at p + 2) = head(head_norm(x))
  // The MTP layer's KV goes to layer n_layers of `kv` (made with_nextn). logits:
  // [logit_rows, vocab]; hidden_out (optional): [logit_rows, d_model], x of those rows.
  bool has_mtp() const { return !w_.mtp.empty(); }
  Status mtp_forward(const ForwardBatch& batch, const float* hidden, KvCacheStorage& kv,
                     float* logits, float* hidden_out, ThreadPool& pool);

  // Tokens routed to each expert since load: [n_layers * n_experts], layer-major (zeros for
  // dense layers; empty for dense models). Safe to call from any thread while forward() runs.
  std::vector<uint64_t> expert_token_counts() const;

 private:
  Model() = default;
  Status bind(const WeightMap& weights);
  Status bind_mtp(WeightBinder& binder, int64_t layer, MtpWeights& out);
  // Logits of batch.logit_rows of x_: rmsnorm(row, norm) then head (forward's output norm and
  // matrix, or an MTP module's shared head).
  Status logits_of_rows(const ForwardBatch& batch, const Vector& norm, const Matrix& head,
                        float* logits, ThreadPool& pool);
  Status prepare_matmul_aux();
  void reserve(int64_t n_tokens, int64_t n_logits, int n_threads, const KvCacheStorage& kv);
  Status run_layer(int64_t layer, const ForwardBatch& batch, KvCacheStorage& kv, ThreadPool& pool);
  // Both read the normalized rows h_ and leave their output (before the residual add) in h_.
  Status attention_block(int64_t layer, const ForwardBatch& batch, KvCacheStorage& kv,
                         ThreadPool& pool);
  Status ffn_block(int64_t layer, int64_t n_tokens, ThreadPool& pool);

  // MoE (moe_forward.cpp)
  // The MoE FFN (moe_ffn.h) of the normalized rows h_ (n tokens), result in h_.
  Status moe_ffn_block(int64_t layer, int64_t n_tokens, ThreadPool& pool);
  void reserve_moe(int64_t n_tokens);  // called by reserve() when the token count grows
  // Counters behind expert_token_counts(), sized at bind; the MoE block adds to them.
  std::unique_ptr<std::atomic<uint64_t>[]> expert_counts_;
  MoeBuffers moe_buffers_;  // sized by reserve_moe()

  // MLA (mla_forward.cpp)
 public:
  // Which form MLA attention takes for a sequence's chunk of new tokens. kAuto picks by its
  // query count (mla_forward.cpp); the others force one form (tests, benchmarks).
  enum class MlaForm { kAuto, kDirect, kAbsorbed };
  void set_mla_form(MlaForm form) { mla_form_ = form; }

 private:
  Status mla_attention_block(int64_t layer, const ForwardBatch& batch, KvCacheStorage& kv,
                             ThreadPool& pool);
  // Queries q_ [n, H, qk_nope + qk_rope] and the new latent rows mla_latent_ [n, cache width],
  // both roped; the latent is in the cache. Outputs land in mla_out_ [n, H * v_head].
  Status mla_absorbed(int64_t layer, const ForwardBatch& batch, int64_t first_seq, int64_t end_seq,
                      const PagedKv& layer_kv, ThreadPool& pool);
  Status mla_direct(int64_t layer, const ForwardBatch& batch, const BatchSequence& seq,
                    const PagedKv& layer_kv, ThreadPool& pool);
  bool mla_use_direct(int64_t n_queries) const;
  MlaForm mla_form_ = MlaForm::kAuto;
  std::vector<float> mla_q_a_, mla_latent_, mla_q_abs_, mla_ctx_, mla_out_;
  // Direct form: the sequence's whole latent range and its decompressed K/V (f32 paged, temp).
  std::vector<float> mla_kv_latent_, mla_k_, mla_v_, mla_q_pad_, mla_o_pad_, mla_tmp_kv_;
  std::vector<int32_t> mla_iota_;

  Status matmul_into(const Matrix& w, const float* x, int64_t x_stride, float* y, int64_t y_stride,
                     int64_t n_tokens, ThreadPool& pool);

  std::string source_;
  bool is_gguf_ = false;
  ModelConfig config_;
  uint64_t fingerprint_ = 0;
  WeightMap weights_;  // keeps the mappings alive
  ModelWeights w_;
  std::deque<std::vector<float>> owned_vectors_;
  std::deque<std::vector<uint8_t>> matmul_aux_;  // Matrix::aux data (matmul_prepare_aux)
  Fp8BlockShape fp8_block_;  // block shape of FP8 weights' scales (HF quantization_config)
  RopeTable rope_;

  // Activations, [n_tokens, width] row-major; sized by reserve().
  int64_t reserved_tokens_ = 0;
  int64_t reserved_logits_ = 0;
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, normed_rows_;
  std::vector<float> mtp_concat_;  // [n_tokens, 2 * d_model], mtp_forward's eh_proj input
  std::vector<uint8_t> matmul_scratch_, attention_scratch_;
  std::vector<AttentionSeq> attention_seqs_;
};

}  // namespace mx
