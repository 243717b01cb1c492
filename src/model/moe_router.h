// The router of a mixture-of-experts FFN (MoeConfig): which experts each token goes to, and with
// what weight. A pure function of the router logits, so the unit tests can check every variant
// against a plain implementation; moe_forward.cpp runs it on h Wr^T.
//
// Per token, with logits l [n_experts]:
//   scores  s = softmax(l) or sigmoid(l)           (MoeConfig::gating)
//   choice  c = s + score_bias                     (bias only when given; selection only)
//   groups  n_groups > 1: group score = sum of the 2 largest c in the group (DeepSeek-V3's
//           get_topk_indices); only the experts of the n_groups_used best groups stay eligible
//   top-k   the n_experts_used eligible experts with the largest c, in decreasing order
//           (ties: lower index first)
//   weight  s of each chosen expert (without bias); / their sum when normalize_top_k;
//           * routed_scaling
// Experts of groups that were not kept are excluded outright (transformers fills their scores
// with 0 instead, which differs only when a kept expert's biased score is negative).
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/model_config.h"

namespace mx {

// Floats of scratch route_tokens() needs.
size_t moe_route_scratch_floats(const MoeConfig& moe);

// logits [n_tokens, n_experts] (row-major); score_bias [n_experts] or nullptr.
// experts, weights [n_tokens, n_experts_used]. Allocates nothing.
void moe_route_tokens(const MoeConfig& moe, const float* logits, const float* score_bias,
                      int64_t n_tokens, int32_t* experts, float* weights, float* scratch);

}  // namespace mx
