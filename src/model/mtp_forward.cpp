// DeepSeek-V3 multi-token prediction (MTP, "nextn") module: binding and forward. The module
// predicts the token two positions ahead from the main model's final hidden state of a position
// and the (known or drafted) token after it, through one extra decoder layer (MLA + MoE, run
// by the same run_layer as the main stack with layer index n_layers). The engine's MTP drafter
// (engine/engine_mtp.cpp) uses it to propose draft tokens; nothing in the main forward reads it.
#include <fmt/format.h>

#include <algorithm>

#include "kernels/cpu/get_rows.h"
#include "kernels/cpu/norm.h"
#include "model/model.h"

namespace mx {

Status Model::bind_mtp(WeightBinder& binder, int64_t layer, MtpWeights& out) {
  const ModelConfig& c = config_;
  const int64_t d = c.d_model;
  const std::string p = fmt::format("blk.{}.nextn.", layer);
  MX_ASSIGN_OR_RETURN(out.eh_proj, binder.matrix(p + "eh_proj.weight", d, 2 * d));
  MX_ASSIGN_OR_RETURN(out.enorm, binder.vector(p + "enorm.weight", d));
  MX_ASSIGN_OR_RETURN(out.hnorm, binder.vector(p + "hnorm.weight", d));
  MX_ASSIGN_OR_RETURN(out.head_norm, binder.vector(p + "shared_head_norm.weight", d));
  // Checkpoints may share the embedding and the output head with the main model (llama.cpp's
  // converter and many re-uploads drop the copies): use the main ones then.
  out.embed = w_.token_embd;
  if (const TensorInfo* embed = binder.weights().find(p + "embed_tokens.weight")) {
    if (embed->shape != std::vector<int64_t>{c.vocab_size, d}) {
      return make_error(ErrorCode::kCorruptData, "{}: tensor '{}' must be [{}, {}] (vocab, d_model)",
                        source_, embed->name, c.vocab_size, d);
    }
    out.embed = Matrix{embed->dtype, embed->data, c.vocab_size, d};
  }
  out.head = w_.output;
  if (binder.weights().find(p + "shared_head_head.weight") != nullptr) {
    MX_ASSIGN_OR_RETURN(out.head, binder.matrix(p + "shared_head_head.weight", c.vocab_size, d));
  }
  return ok_status();
}

Status Model::mtp_forward(const ForwardBatch& batch, const float* hidden, KvCacheStorage& kv,
                          float* logits, float* hidden_out, ThreadPool& pool) {
  const ModelConfig& c = config_;
  if (w_.mtp.empty()) {
    return make_error(ErrorCode::kUnsupported, "{}: the model has no MTP (nextn) layers", source_);
  }
  const int64_t layer = c.n_layers;
  if (kv.n_layers() <= layer) {
    return make_error(ErrorCode::kInvalidArgument,
                      "mtp_forward: the KV cache has no MTP layer (make it with_nextn)");
  }
  MX_RETURN_IF_ERROR(check_forward_batch(batch, c, kv));
  const MtpWeights& w = w_.mtp[0];
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t n_logits = static_cast<int64_t>(batch.logit_rows.size());
  const int64_t d = c.d_model;
  reserve(n, n_logits, pool.size(), kv);
  if (static_cast<int64_t>(mtp_concat_.size()) < n * 2 * d) {
    mtp_concat_.resize(static_cast<size_t>(n * 2 * d));
  }
  // [enorm(embed(token)) | hnorm(hidden)]: embeddings first, as DeepSeek-V3's eh_proj expects.
  float* concat = mtp_concat_.data();
  MX_RETURN_IF_ERROR(get_rows(w.embed.type, w.embed.data, c.vocab_size, d, batch.tokens.data(), n,
                              concat, 2 * d, pool));
  rmsnorm(concat, 2 * d, w.enorm.data, concat, 2 * d, n, d, c.rms_eps, pool);
  rmsnorm(hidden, d, w.hnorm.data, concat + d, 2 * d, n, d, c.rms_eps, pool);
  MX_RETURN_IF_ERROR(matmul_into(w.eh_proj, concat, 2 * d, x_.data(), d, n, pool));
  MX_RETURN_IF_ERROR(run_layer(layer, batch, kv, pool));
  for (int64_t i = 0; hidden_out != nullptr && i < n_logits; ++i) {
    std::copy_n(&x_[batch.logit_rows[i] * d], d, hidden_out + i * d);
  }
  return logits_of_rows(batch, w.head_norm, w.head, logits, pool);
}

}  // namespace mx
