// The mixture-of-experts FFN (MoeConfig, MoeWeights) over a batch of token rows, grouped by
// expert:
//   logits = h Wr^T                         [n, n_experts]
//   route: per token k experts and weights  (moe_router.h)
//   group: the n * k (token, expert) choices sorted by expert into "slots"; expert e owns slots
//          [first_slot[e], first_slot[e + 1]); its input rows are gathered there contiguously
//   per expert e: y[slots] = (silu(x Wg_e^T) * (x Wu_e^T)) Wd_e^T — one matmul_batch for the gate
//          and up products of every expert (and the shared experts), one for the down products,
//          so a decode step is a few parallel regions, not 3 per expert
//   out[t] = shared(h[t]) + sum_j weight[t, j] * y[slot of (t, j)], summed in choice order
// An expert with a single token reads that token's row of h in place (at decode: every expert,
// and their gate/up products then share one quantization of h). Buffers are sized by
// MoeBuffers::reserve() for the largest batch; a call allocates nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "kernels/cpu/matmul.h"
#include "model/layers.h"
#include "model/model_config.h"

namespace mx {

struct MoeBuffers {
  // Routing: [n, n_experts] logits, [n, k] choices and weights; each choice's slot; per expert
  // its first slot (n_experts + 1 offsets); the token of each slot.
  std::vector<float> router_logits, routed_weights, router_scratch;
  std::vector<int32_t> routed_experts, choice_slot, expert_first_slot, slot_token;
  // Slot rows: inputs [n * k, d_model], gate/up [n * k, expert_ffn], outputs [n * k, d_model];
  // shared experts' gate/up [n, n_shared * expert_ffn] and output [n, d_model].
  std::vector<float> x, gate, up, y, shared_gate, shared_up, shared_y;
  std::vector<MatmulArgs> calls;          // one batch of products (capacity 2 * experts + 2)
  std::vector<uint8_t> router_scratch_bytes, batch_scratch;  // matmul scratch
  int64_t reserved_tokens = 0;

  // Sizes everything for n_tokens rows through any of `layers` (MoE layers; others skipped).
  void reserve(const MoeConfig& moe, int64_t d_model, std::span<const LayerWeights> layers,
               int64_t n_tokens);
};

// out [n, d_model] = MoE FFN of h [n, d_model] (row-major, contiguous); out may be h.
// counts [n_experts] (or nullptr): routed tokens per expert, added with relaxed atomics.
Status moe_ffn(const MoeConfig& moe, const MoeWeights& w, int64_t d_model, const float* h,
               int64_t n, float* out, std::atomic<uint64_t>* counts, MoeBuffers& buf,
               ThreadPool& pool);

}  // namespace mx
