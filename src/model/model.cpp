// Loading a model: GGUF file or HF folder → ModelConfig + WeightMap → bound layer weights.
#include "model/model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "io/gguf.h"
#include "io/hf_model.h"
#include "kernels/cpu/matmul.h"
#include "model/arch/registry.h"

namespace mx {
namespace {

RopeScaling kernel_rope_scaling(RopeScalingConfig::Kind kind) {
  switch (kind) {
    case RopeScalingConfig::Kind::kNone:
      return RopeScaling::kNone;
    case RopeScalingConfig::Kind::kLinear:
      return RopeScaling::kLinear;
    case RopeScalingConfig::Kind::kLlama3:
      return RopeScaling::kLlama3;
    case RopeScalingConfig::Kind::kYarn:
      return RopeScaling::kYarn;
  }
  return RopeScaling::kNone;
}

Result<RopeTable> rope_table_for(const ModelConfig& c, const std::string& source) {
  RopeParams params;
  params.theta_base = c.rope_theta;
  params.rotary_dims = static_cast<int>(c.rope_dims);
  params.scaling = kernel_rope_scaling(c.rope_scaling.kind);
  params.factor = c.rope_scaling.factor;
  params.low_freq_factor = c.rope_scaling.low_freq_factor;
  params.high_freq_factor = c.rope_scaling.high_freq_factor;
  params.original_max_positions = static_cast<int>(c.rope_scaling.original_context);
  params.beta_fast = c.rope_scaling.beta_fast;
  params.beta_slow = c.rope_scaling.beta_slow;
  params.attention_factor = c.rope_scaling.attention_factor;
  params.mscale = c.rope_scaling.mscale;
  params.mscale_all_dim = c.rope_scaling.mscale_all_dim;
  auto table = make_rope_table(params);
  if (!table.ok()) return table.error().with_context(source);
  // GGUF Llama-3 scaling: llama.cpp stores the per-frequency divisors as rope_freqs.weight.
  for (size_t i = 0; i < c.rope_freq_factors.size(); ++i) {
    table->inv_freq[i] /= c.rope_freq_factors[i];
  }
  return table;
}

// FNV-1a, 64 bit: a fingerprint, not a defence against crafted collisions.
void fnv1a(uint64_t& h, const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
}

uint64_t weights_fingerprint(const WeightMap& weights, const ModelConfig& c) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int64_t v : {c.n_layers, c.d_model, c.n_heads, c.n_kv_heads, c.head_dim, c.vocab_size,
                    c.rope_dims, static_cast<int64_t>(c.arch)}) {
    fnv1a(h, &v, sizeof v);
  }
  fnv1a(h, &c.rope_theta, sizeof c.rope_theta);
  constexpr uint64_t kSample = 256;  // bytes from each end of every tensor
  for (const auto& [name, t] : weights.tensors()) {
    fnv1a(h, name.data(), name.size());
    fnv1a(h, &t.dtype, sizeof t.dtype);
    fnv1a(h, t.shape.data(), t.shape.size() * sizeof(int64_t));
    const uint64_t head = std::min(t.nbytes, kSample);
    const uint64_t tail = std::min(t.nbytes - head, kSample);
    fnv1a(h, t.data, head);
    fnv1a(h, t.data + t.nbytes - tail, tail);
  }
  return h;
}

}  // namespace

Result<uint64_t> Model::file_fingerprint(const std::string& path) {
  if (std::filesystem::is_directory(path)) {
    MX_ASSIGN_OR_RETURN(HfModel hf, load_hf_model(path));
    MX_ASSIGN_OR_RETURN(ModelConfig config, model_config_from_hf(hf.config, path));
    return weights_fingerprint(hf.weights, config);
  }
  MX_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(path));
  MX_ASSIGN_OR_RETURN(ModelConfig config, model_config_from_gguf(file));
  MX_ASSIGN_OR_RETURN(WeightMap weights, file.to_weight_map());
  return weights_fingerprint(weights, config);
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
  std::unique_ptr<Model> model(new Model());
  model->source_ = path;
  if (std::filesystem::is_directory(path)) {
    MX_ASSIGN_OR_RETURN(HfModel hf, load_hf_model(path));
    MX_ASSIGN_OR_RETURN(model->config_, model_config_from_hf(hf.config, path));
    model->weights_ = std::move(hf.weights);
    model->fingerprint_ = weights_fingerprint(model->weights_, model->config_);  // as stored
    model->fp8_block_ = Fp8BlockShape{hf.fp8_block_rows, hf.fp8_block_cols};
  } else {
    MX_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(path));
    MX_ASSIGN_OR_RETURN(model->config_, model_config_from_gguf(file));
    MX_ASSIGN_OR_RETURN(model->weights_, file.to_weight_map());
    model->is_gguf_ = true;
    model->fingerprint_ = weights_fingerprint(model->weights_, model->config_);
  }
  MX_ASSIGN_OR_RETURN(model->rope_, rope_table_for(model->config_, path));
  MX_RETURN_IF_ERROR(model->bind(model->weights_));
  MX_RETURN_IF_ERROR(model->prepare_matmul_aux());
  spdlog::info("loaded {} model from {}: {} layers, d_model {}, {} heads ({} KV) x {}, vocab {}",
               arch_name(model->config_.arch), path, model->config_.n_layers,
               model->config_.d_model, model->config_.n_heads, model->config_.n_kv_heads,
               model->config_.head_dim, model->config_.vocab_size);
  const MoeConfig& moe = model->config_.moe;
  if (moe.enabled()) {
    spdlog::info("mixture of experts: {} experts of FFN {}, {} per token, {} shared", moe.n_experts,
                 moe.expert_ffn_hidden, moe.n_experts_used, moe.n_shared_experts);
  }
  return model;
}

Status Model::bind(const WeightMap& weights) {
  const ModelConfig& c = config_;
  WeightBinder binder(weights, c, fp8_block_);
  const TensorInfo* embd = weights.find("token_embd.weight");
  if (embd == nullptr) MX_RETURN_IF_ERROR(weights.get("token_embd.weight"));
  if (embd->shape != std::vector<int64_t>{c.vocab_size, c.d_model}) {
    return make_error(ErrorCode::kCorruptData,
                      "{}: tensor 'token_embd.weight' must be [{}, {}] (vocab, d_model)", source_,
                      c.vocab_size, c.d_model);
  }
  w_.token_embd = Matrix{embd->dtype, embd->data, c.vocab_size, c.d_model};
  const ArchSpec& spec = arch_spec(c.arch);
  const int64_t n_all_layers = c.n_layers + c.n_nextn_layers;
  w_.layers.resize(static_cast<size_t>(n_all_layers));
  for (int64_t layer = 0; layer < n_all_layers; ++layer) {
    MX_RETURN_IF_ERROR(spec.bind_layer(binder, layer, w_.layers[layer]));
  }
  MX_ASSIGN_OR_RETURN(w_.output_norm, binder.vector("output_norm.weight", c.d_model));
  if (weights.find("output.weight") != nullptr) {
    MX_ASSIGN_OR_RETURN(w_.output, binder.matrix("output.weight", c.vocab_size, c.d_model));
  } else {
    // Tied embeddings: the output projection is the embedding table.
    MX_ASSIGN_OR_RETURN(w_.output, binder.matrix("token_embd.weight", c.vocab_size, c.d_model));
  }
  w_.mtp.resize(static_cast<size_t>(c.n_nextn_layers));
  for (int64_t i = 0; i < c.n_nextn_layers; ++i) {
    MX_RETURN_IF_ERROR(bind_mtp(binder, c.n_layers + i, w_.mtp[i]));
  }
  owned_vectors_ = binder.take_owned();
  if (c.moe.enabled()) {
    const size_t n = static_cast<size_t>(n_all_layers * c.moe.n_experts);
    expert_counts_ = std::make_unique<std::atomic<uint64_t>[]>(n);
    for (size_t i = 0; i < n; ++i) expert_counts_[i].store(0, std::memory_order_relaxed);
  }
  return ok_status();
}

std::vector<uint64_t> Model::expert_token_counts() const {
  std::vector<uint64_t> counts;
  if (!expert_counts_) return counts;
  counts.resize(static_cast<size_t>(config_.n_layers * config_.moe.n_experts));
  for (size_t i = 0; i < counts.size(); ++i) {
    counts[i] = expert_counts_[i].load(std::memory_order_relaxed);
  }
  return counts;
}

// The per-weight data the batched matmul kernels use on this CPU (Q8_0 on AVX-512 VNNI: bias
// and scale per group), computed once here instead of on every call.
Status Model::prepare_matmul_aux() {
  std::vector<Matrix*> matrices = {&w_.output};
  for (MtpWeights& m : w_.mtp) {
    matrices.push_back(&m.eh_proj);
    if (m.head.data != w_.output.data) matrices.push_back(&m.head);
  }
  for (LayerWeights& l : w_.layers) {
    for (Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down, &l.mla.wq_a,
                      &l.mla.wq_b, &l.mla.wkv_a}) {
      matrices.push_back(m);
    }
    MoeWeights& moe = l.moe;
    for (Matrix* m : {&moe.router, &moe.shared_gate, &moe.shared_up, &moe.shared_down}) {
      matrices.push_back(m);
    }
    for (auto* family : {&moe.gate, &moe.up, &moe.down}) {
      for (Matrix& m : *family) matrices.push_back(&m);
    }
  }
  ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  size_t total = 0;
  for (Matrix* m : matrices) {
    size_t bytes = m->present() ? matmul_aux_bytes(m->type, m->rows, m->cols) : 0;
    if (bytes == 0) continue;
    std::vector<uint8_t>& aux = matmul_aux_.emplace_back(bytes);
    MX_RETURN_IF_ERROR(
        matmul_prepare_aux(m->type, m->data, m->rows, m->cols, aux.data(), bytes, pool));
    m->aux = aux.data();
    total += bytes;
  }
  for (MtpWeights& m : w_.mtp) {  // heads shared with the main model share its aux data
    if (m.head.data == w_.output.data) m.head.aux = w_.output.aux;
  }
  if (total > 0) spdlog::debug("{}: {} MiB of matmul aux data", source_, total >> 20);
  return ok_status();
}

}  // namespace mx
