#include "model/moe_router.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mx {
namespace {

constexpr float kExcluded = -std::numeric_limits<float>::infinity();

void gate_scores(const MoeConfig& moe, const float* logits, float* scores) {
  const int64_t n = moe.n_experts;
  if (moe.gating == MoeConfig::Gating::kSigmoid) {
    for (int64_t e = 0; e < n; ++e) scores[e] = 1.0f / (1.0f + std::exp(-logits[e]));
    return;
  }
  const float max = *std::max_element(logits, logits + n);
  float sum = 0.0f;
  for (int64_t e = 0; e < n; ++e) {
    scores[e] = std::exp(logits[e] - max);
    sum += scores[e];
  }
  for (int64_t e = 0; e < n; ++e) scores[e] /= sum;
}

// Index of the largest value in [0, n) (the first on ties), skipping NaN (= already taken);
// kExcluded wins only when nothing else is left. 0 when everything is NaN (garbage logits).
int64_t argmax(const float* values, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(values[i])) continue;
    if (best < 0 || values[i] > values[best]) best = i;
  }
  return std::max<int64_t>(best, 0);
}

// Marks the experts outside the n_groups_used best groups as excluded in `choice`.
void limit_to_best_groups(const MoeConfig& moe, float* choice, float* group_score) {
  const int64_t group_size = moe.n_experts / moe.n_groups;
  for (int64_t g = 0; g < moe.n_groups; ++g) {
    const float* c = choice + g * group_size;
    const int64_t first = argmax(c, group_size);
    float second = kExcluded;
    for (int64_t i = 0; i < group_size; ++i) {
      if (i != first) second = std::max(second, c[i]);
    }
    group_score[g] = c[first] + second;
  }
  // Keep the best n_groups_used: mark them by excluding them from group_score as they are
  // taken, then exclude the experts of every group that was not taken.
  for (int64_t taken = 0; taken < moe.n_groups_used; ++taken) {
    group_score[argmax(group_score, moe.n_groups)] = std::numeric_limits<float>::quiet_NaN();
  }
  for (int64_t g = 0; g < moe.n_groups; ++g) {
    if (std::isnan(group_score[g])) continue;
    std::fill_n(choice + g * group_size, group_size, kExcluded);
  }
}

}  // namespace

size_t moe_route_scratch_floats(const MoeConfig& moe) {
  return static_cast<size_t>(2 * moe.n_experts + moe.n_groups);
}

void moe_route_tokens(const MoeConfig& moe, const float* logits, const float* score_bias,
                      int64_t n_tokens, int32_t* experts, float* weights, float* scratch) {
  const int64_t n = moe.n_experts;
  const int64_t k = moe.n_experts_used;
  float* scores = scratch;
  float* choice = scratch + n;
  float* group_score = scratch + 2 * n;
  for (int64_t t = 0; t < n_tokens; ++t) {
    gate_scores(moe, logits + t * n, scores);
    for (int64_t e = 0; e < n; ++e) choice[e] = scores[e] + (score_bias ? score_bias[e] : 0.0f);
    if (moe.n_groups > 1) limit_to_best_groups(moe, choice, group_score);
    int32_t* chosen = experts + t * k;
    float* w = weights + t * k;
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t e = argmax(choice, n);
      choice[e] = std::numeric_limits<float>::quiet_NaN();  // taken: never the max again
      chosen[j] = static_cast<int32_t>(e);
      w[j] = scores[e];
      sum += scores[e];
    }
    const float scale = moe.routed_scaling / (moe.normalize_top_k ? sum : 1.0f);
    for (int64_t j = 0; j < k; ++j) w[j] *= scale;
  }
}

}  // namespace mx
