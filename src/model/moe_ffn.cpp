#include "model/moe_ffn.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/activations.h"
#include "model/moe_router.h"

namespace mx {
namespace {

MatmulArgs product(const Matrix& w, const float* x, int64_t x_stride, float* y, int64_t y_stride,
                   int64_t n_tokens) {
  MatmulArgs a;
  a.w_type = w.type;
  a.w = w.data;
  a.rows = w.rows;
  a.cols = w.cols;
  a.x = x;
  a.x_stride = x_stride;
  a.y = y;
  a.y_stride = y_stride;
  a.n_tokens = n_tokens;
  a.w_aux = w.aux;
  return a;
}

// Scratch for one expert family's products over `slots` rows spread over its experts: each
// expert's activation records are a whole number of 16-token groups in the lanes kernels, so
// allow one extra group per expert.
size_t expert_scratch_bytes(const std::vector<Matrix>& experts, int64_t slots) {
  size_t bytes = 0;
  const int64_t n_experts = static_cast<int64_t>(experts.size());
  for (const Matrix& m : experts) {
    bytes = std::max(bytes, matmul_scratch_bytes(m.type, slots + 16 * n_experts, m.cols));
  }
  return bytes;
}

// Sorts the n * k choices by expert (a counting sort, stable in token order): fills
// expert_first_slot, choice_slot and slot_token, and adds to counts.
void group_by_expert(const MoeConfig& moe, int64_t n, std::atomic<uint64_t>* counts,
                     MoeBuffers& buf) {
  const int64_t n_experts = moe.n_experts;
  const int64_t k = moe.n_experts_used;
  int32_t* first = buf.expert_first_slot.data();
  std::fill_n(first, n_experts + 1, 0);
  for (int64_t s = 0; s < n * k; ++s) ++first[buf.routed_experts[s] + 1];
  for (int64_t e = 0; e < n_experts; ++e) {
    if (counts != nullptr && first[e + 1] > 0) {
      counts[e].fetch_add(static_cast<uint64_t>(first[e + 1]), std::memory_order_relaxed);
    }
    first[e + 1] += first[e];
  }
  for (int64_t s = 0; s < n * k; ++s) {
    const int32_t slot = first[buf.routed_experts[s]]++;  // advances to the expert's next slot
    buf.choice_slot[s] = slot;
    buf.slot_token[slot] = static_cast<int32_t>(s / k);
  }
  for (int64_t e = n_experts; e > 0; --e) first[e] = first[e - 1];  // back to first slots
  first[0] = 0;
}

}  // namespace

void MoeBuffers::reserve(const MoeConfig& moe, int64_t d_model,
                         std::span<const LayerWeights> layers, int64_t n_tokens) {
  if (n_tokens <= reserved_tokens) return;
  const int64_t slots = n_tokens * moe.n_experts_used;
  const int64_t f = moe.expert_ffn_hidden;
  const int64_t shared = moe.n_shared_experts * f;
  router_logits.resize(n_tokens * moe.n_experts);
  routed_weights.resize(slots);
  routed_experts.resize(slots);
  choice_slot.resize(slots);
  slot_token.resize(slots);
  expert_first_slot.resize(moe.n_experts + 1);
  router_scratch.resize(moe_route_scratch_floats(moe));
  x.resize(slots * d_model);
  gate.resize(slots * f);
  up.resize(slots * f);
  y.resize(slots * d_model);
  shared_gate.resize(n_tokens * shared);
  shared_up.resize(n_tokens * shared);
  shared_y.resize(shared > 0 ? n_tokens * d_model : 0);
  calls.reserve(2 * moe.n_experts + 2);
  size_t router = 0, batch = 0;
  for (const LayerWeights& l : layers) {
    const MoeWeights& m = l.moe;
    if (!m.present()) continue;
    router = std::max(router, matmul_scratch_bytes(m.router.type, n_tokens, d_model));
    size_t gate_up = expert_scratch_bytes(m.gate, slots) + expert_scratch_bytes(m.up, slots);
    size_t down = expert_scratch_bytes(m.down, slots);
    if (m.shared_gate.present()) {
      gate_up += matmul_scratch_bytes(m.shared_gate.type, n_tokens, d_model) +
                 matmul_scratch_bytes(m.shared_up.type, n_tokens, d_model);
      down += matmul_scratch_bytes(m.shared_down.type, n_tokens, shared);
    }
    batch = std::max({batch, gate_up, down});
  }
  router_scratch_bytes.resize(router);
  batch_scratch.resize(batch);
  reserved_tokens = n_tokens;
}

Status moe_ffn(const MoeConfig& moe, const MoeWeights& w, int64_t d, const float* h, int64_t n,
               float* out, std::atomic<uint64_t>* counts, MoeBuffers& buf, ThreadPool& pool) {
  const int64_t f = moe.expert_ffn_hidden;
  const int64_t k = moe.n_experts_used;
  const int64_t n_experts = moe.n_experts;
  const int64_t n_slots = n * k;
  const int64_t shared = moe.n_shared_experts * f;
  if (n > buf.reserved_tokens) {
    return make_error(ErrorCode::kInternal, "moe_ffn: {} tokens but buffers for {}", n,
                      buf.reserved_tokens);
  }
  MatmulArgs router = product(w.router, h, d, buf.router_logits.data(), n_experts, n);
  MX_RETURN_IF_ERROR(matmul(router, buf.router_scratch_bytes.data(),
                            buf.router_scratch_bytes.size(), pool));
  moe_route_tokens(moe, buf.router_logits.data(), w.score_bias.data, n, buf.routed_experts.data(),
                   buf.routed_weights.data(), buf.router_scratch.data());
  group_by_expert(moe, n, counts, buf);
  const int32_t* first = buf.expert_first_slot.data();

  // Gather the input rows by expert (a single token is read in place: at decode, all of them).
  if (n > 1) {
    pool.parallel_for(n_slots, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s) {
        std::memcpy(&buf.x[s * d], h + buf.slot_token[s] * d, d * sizeof(float));
      }
    }, 64);
  }
  auto expert_input = [&](int64_t e) -> const float* {
    return first[e + 1] - first[e] == 1 ? h + buf.slot_token[first[e]] * d : &buf.x[first[e] * d];
  };

  buf.calls.clear();
  if (shared > 0) {
    buf.calls.push_back(product(w.shared_gate, h, d, buf.shared_gate.data(), shared, n));
    buf.calls.push_back(product(w.shared_up, h, d, buf.shared_up.data(), shared, n));
  }
  for (int64_t e = 0; e < n_experts; ++e) {
    const int64_t rows = first[e + 1] - first[e];
    if (rows == 0) continue;
    buf.calls.push_back(product(w.gate[e], expert_input(e), d, &buf.gate[first[e] * f], f, rows));
    buf.calls.push_back(product(w.up[e], expert_input(e), d, &buf.up[first[e] * f], f, rows));
  }
  MX_RETURN_IF_ERROR(matmul_batch(buf.calls, buf.batch_scratch.data(), buf.batch_scratch.size(),
                                  pool));
  swiglu(buf.gate.data(), f, buf.up.data(), f, buf.gate.data(), f, n_slots, f, pool);
  if (shared > 0) {
    swiglu(buf.shared_gate.data(), shared, buf.shared_up.data(), shared, buf.shared_gate.data(),
           shared, n, shared, pool);
  }

  buf.calls.clear();
  if (shared > 0) {
    buf.calls.push_back(product(w.shared_down, buf.shared_gate.data(), shared,
                                buf.shared_y.data(), d, n));
  }
  for (int64_t e = 0; e < n_experts; ++e) {
    const int64_t rows = first[e + 1] - first[e];
    if (rows == 0) continue;
    buf.calls.push_back(product(w.down[e], &buf.gate[first[e] * f], f, &buf.y[first[e] * d], d,
                                rows));
  }
  MX_RETURN_IF_ERROR(matmul_batch(buf.calls, buf.batch_scratch.data(), buf.batch_scratch.size(),
                                  pool));

  // out[t] = shared[t] + sum_j weight[t, j] * y[slot(t, j)], in choice order (deterministic).
  // Every read of h is done, so out may be h.
  pool.parallel_for(n, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      float* row = out + t * d;
      if (shared > 0) {
        std::memcpy(row, &buf.shared_y[t * d], d * sizeof(float));
      } else {
        std::fill_n(row, d, 0.0f);
      }
      for (int64_t j = 0; j < k; ++j) {
        const float weight = buf.routed_weights[t * k + j];
        const float* y = &buf.y[buf.choice_slot[t * k + j] * d];
        for (int64_t i = 0; i < d; ++i) row[i] += weight * y[i];
      }
    }
  }, 4);
  return ok_status();
}

}  // namespace mx
