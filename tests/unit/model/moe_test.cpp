// The MoE router (moe_router.h) for every MoeConfig variant, and the grouped MoE FFN
// (moe_ffn.h), each against a plain implementation written here: per token, sort the experts,
// pick, weigh, and run each chosen expert on that token alone, in double precision.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "model/moe_ffn.h"
#include "model/moe_router.h"

namespace mx {
namespace {

struct Choice {
  std::vector<int32_t> experts;
  std::vector<double> weights;
};

// The routing of one token, the straightforward way: sort by score, groups by sorted top-2.
Choice reference_route(const MoeConfig& moe, const float* logits, const float* bias) {
  const int64_t n = moe.n_experts;
  std::vector<double> scores(n), choice(n);
  if (moe.gating == MoeConfig::Gating::kSoftmax) {
    double max = *std::max_element(logits, logits + n), sum = 0;
    for (int64_t e = 0; e < n; ++e) sum += std::exp(logits[e] - max);
    for (int64_t e = 0; e < n; ++e) scores[e] = std::exp(logits[e] - max) / sum;
  } else {
    for (int64_t e = 0; e < n; ++e) scores[e] = 1.0 / (1.0 + std::exp(-double(logits[e])));
  }
  for (int64_t e = 0; e < n; ++e) choice[e] = scores[e] + (bias ? bias[e] : 0.0);
  std::vector<bool> eligible(n, true);
  if (moe.n_groups > 1) {
    const int64_t size = n / moe.n_groups;
    std::vector<std::pair<double, int64_t>> groups;
    for (int64_t g = 0; g < moe.n_groups; ++g) {
      std::vector<double> members(choice.begin() + g * size, choice.begin() + (g + 1) * size);
      std::sort(members.rbegin(), members.rend());
      groups.push_back({-(members[0] + members[1]), g});
    }
    std::sort(groups.begin(), groups.end());
    std::fill(eligible.begin(), eligible.end(), false);
    for (int64_t i = 0; i < moe.n_groups_used; ++i) {
      for (int64_t e = 0; e < size; ++e) eligible[groups[i].second * size + e] = true;
    }
  }
  std::vector<int64_t> order;
  for (int64_t e = 0; e < n; ++e) {
    if (eligible[e]) order.push_back(e);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return choice[a] > choice[b]; });
  Choice out;
  double sum = 0;
  for (int64_t j = 0; j < moe.n_experts_used; ++j) {
    out.experts.push_back(static_cast<int32_t>(order[j]));
    out.weights.push_back(scores[order[j]]);
    sum += scores[order[j]];
  }
  for (double& w : out.weights) w *= moe.routed_scaling / (moe.normalize_top_k ? sum : 1.0);
  return out;
}

std::vector<float> normal_values(int64_t n, double stddev, std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(normal(rng));
  return v;
}

struct Variant {
  const char* name;
  MoeConfig moe;
  bool bias;
};

std::vector<Variant> variants() {
  std::vector<Variant> out;
  MoeConfig qwen;  // qwen3moe: softmax, renormalized top-k
  qwen.n_experts = 13;
  qwen.n_experts_used = 3;
  qwen.expert_ffn_hidden = 7;
  out.push_back({"softmax, normalized", qwen, false});
  MoeConfig v2 = qwen;  // deepseek-v2: softmax, not normalized, scaled, shared experts
  v2.normalize_top_k = false;
  v2.routed_scaling = 1.5f;
  v2.n_shared_experts = 2;
  out.push_back({"softmax, scaled, shared", v2, false});
  MoeConfig v3;  // deepseek-v3: sigmoid + bias, groups, normalized, scaled, shared
  v3.n_experts = 15;
  v3.n_experts_used = 4;
  v3.expert_ffn_hidden = 5;
  v3.gating = MoeConfig::Gating::kSigmoid;
  v3.score_bias = true;
  v3.n_groups = 5;
  v3.n_groups_used = 2;
  v3.routed_scaling = 2.5f;
  v3.n_shared_experts = 1;
  out.push_back({"sigmoid, bias, groups, normalized, scaled, shared", v3, true});
  MoeConfig sig = v3;  // sigmoid with bias, no groups, not normalized
  sig.n_groups = 1;
  sig.n_groups_used = 1;
  sig.normalize_top_k = false;
  sig.n_shared_experts = 0;
  out.push_back({"sigmoid, bias, not normalized", sig, true});
  return out;
}

TEST(MoeRouterTest, MatchesPlainRoutingForEveryVariant) {
  std::mt19937 rng(11);
  for (const Variant& v : variants()) {
    const MoeConfig& moe = v.moe;
    ASSERT_TRUE(moe.validate(v.name).ok()) << v.name;
    const int64_t n_tokens = 37, k = moe.n_experts_used;
    std::vector<float> logits = normal_values(n_tokens * moe.n_experts, 2.0, rng);
    std::vector<float> bias = normal_values(moe.n_experts, 0.3, rng);
    std::vector<int32_t> experts(n_tokens * k);
    std::vector<float> weights(n_tokens * k), scratch(moe_route_scratch_floats(moe));
    moe_route_tokens(moe, logits.data(), v.bias ? bias.data() : nullptr, n_tokens,
                     experts.data(), weights.data(), scratch.data());
    for (int64_t t = 0; t < n_tokens; ++t) {
      Choice ref = reference_route(moe, &logits[t * moe.n_experts], v.bias ? bias.data() : nullptr);
      for (int64_t j = 0; j < k; ++j) {
        ASSERT_EQ(experts[t * k + j], ref.experts[j]) << v.name << " token " << t << " choice " << j;
        EXPECT_NEAR(weights[t * k + j], ref.weights[j], 1e-6 * std::max(1.0, ref.weights[j]))
            << v.name << " token " << t << " choice " << j;
      }
    }
  }
}

TEST(MoeRouterTest, BiasSteersSelectionButNotWeights) {
  MoeConfig moe;
  moe.n_experts = 4;
  moe.n_experts_used = 1;
  moe.expert_ffn_hidden = 1;
  moe.gating = MoeConfig::Gating::kSigmoid;
  moe.normalize_top_k = false;
  moe.score_bias = true;
  const float logits[4] = {2.0f, 0.0f, 0.0f, 0.0f};
  const float bias[4] = {0.0f, 0.0f, 1.0f, 0.0f};  // expert 2: sigmoid 0.5 + 1 beats 0.88
  int32_t expert = -1;
  float weight = 0, scratch[16];
  moe_route_tokens(moe, logits, bias, 1, &expert, &weight, scratch);
  EXPECT_EQ(expert, 2);
  EXPECT_FLOAT_EQ(weight, 0.5f);  // the unbiased score
}

// Random float32 weights for one MoE layer, in storage the test owns.
struct MoeLayer {
  std::vector<std::vector<float>> storage;
  MoeWeights w;
  const float* add(int64_t rows, int64_t cols, double stddev, std::mt19937& rng) {
    storage.push_back(normal_values(rows * cols, stddev, rng));
    return storage.back().data();
  }
  Matrix matrix(int64_t rows, int64_t cols, std::mt19937& rng, double gain = 1.0) {
    return Matrix{DType::F32, add(rows, cols, gain / std::sqrt(double(cols)), rng), rows, cols};
  }
};

MoeLayer random_layer(const MoeConfig& moe, int64_t d, std::mt19937& rng) {
  MoeLayer l;
  l.storage.reserve(4 * moe.n_experts + 8);  // stable data pointers
  const int64_t f = moe.expert_ffn_hidden;
  l.w.router = l.matrix(moe.n_experts, d, rng, 3.0);
  if (moe.score_bias) l.w.score_bias = Vector{l.add(moe.n_experts, 1, 0.3, rng), moe.n_experts};
  for (int64_t e = 0; e < moe.n_experts; ++e) {
    l.w.gate.push_back(l.matrix(f, d, rng));
    l.w.up.push_back(l.matrix(f, d, rng));
    l.w.down.push_back(l.matrix(d, f, rng));
  }
  if (moe.n_shared_experts > 0) {
    const int64_t s = moe.n_shared_experts * f;
    l.w.shared_gate = l.matrix(s, d, rng);
    l.w.shared_up = l.matrix(s, d, rng);
    l.w.shared_down = l.matrix(d, s, rng);
  }
  return l;
}

// One SwiGLU expert on one row, in double.
void add_expert(const Matrix& gate, const Matrix& up, const Matrix& down, const float* x,
                double weight, std::vector<double>& out) {
  auto at = [](const Matrix& m, int64_t r, int64_t c) {
    return double(static_cast<const float*>(m.data)[r * m.cols + c]);
  };
  std::vector<double> act(gate.rows);
  for (int64_t r = 0; r < gate.rows; ++r) {
    double g = 0, u = 0;
    for (int64_t c = 0; c < gate.cols; ++c) {
      g += at(gate, r, c) * x[c];
      u += at(up, r, c) * x[c];
    }
    act[r] = g / (1.0 + std::exp(-g)) * u;
  }
  for (int64_t r = 0; r < down.rows; ++r) {
    double y = 0;
    for (int64_t c = 0; c < down.cols; ++c) y += at(down, r, c) * act[c];
    out[r] += weight * y;
  }
}

TEST(MoeFfnTest, GroupedExecutionMatchesPerTokenLoop) {
  std::mt19937 rng(5);
  const int64_t d = 24;
  ThreadPool pool(2);
  for (const Variant& v : variants()) {
    const MoeConfig& moe = v.moe;
    MoeLayer layer = random_layer(moe, d, rng);
    std::vector<LayerWeights> layers(1);
    layers[0].moe = layer.w;
    MoeBuffers buffers;
    for (int64_t n : {1, 2, 19}) {  // decode (all experts in place), few, many tokens per expert
      buffers.reserve(moe, d, layers, n);
      std::vector<float> h = normal_values(n * d, 1.0, rng);
      std::vector<float> out(n * d);
      std::vector<std::atomic<uint64_t>> counts(moe.n_experts);
      ASSERT_TRUE(moe_ffn(moe, layer.w, d, h.data(), n, out.data(), counts.data(), buffers, pool)
                      .ok());
      uint64_t routed = 0;
      for (auto& c : counts) routed += c.load();
      EXPECT_EQ(routed, static_cast<uint64_t>(n * moe.n_experts_used)) << v.name;
      for (int64_t t = 0; t < n; ++t) {
        const float* x = &h[t * d];
        std::vector<float> logits(moe.n_experts);
        for (int64_t e = 0; e < moe.n_experts; ++e) {
          double sum = 0;
          for (int64_t c = 0; c < d; ++c) {
            sum += double(static_cast<const float*>(layer.w.router.data)[e * d + c]) * x[c];
          }
          logits[e] = static_cast<float>(sum);
        }
        Choice choice = reference_route(moe, logits.data(), layer.w.score_bias.data);
        std::vector<double> expected(d, 0.0);
        if (moe.n_shared_experts > 0) {
          add_expert(layer.w.shared_gate, layer.w.shared_up, layer.w.shared_down, x, 1.0, expected);
        }
        for (size_t j = 0; j < choice.experts.size(); ++j) {
          const int32_t e = choice.experts[j];
          add_expert(layer.w.gate[e], layer.w.up[e], layer.w.down[e], x, choice.weights[j],
                     expected);
        }
        for (int64_t i = 0; i < d; ++i) {
          EXPECT_NEAR(out[t * d + i], expected[i], 1e-4 * (1.0 + std::abs(expected[i])))
              << v.name << ", " << n << " tokens, token " << t << ", column " << i;
        }
      }
    }
  }
}

TEST(MoeFfnTest, OutputMayOverwriteInput) {
  std::mt19937 rng(9);
  const int64_t d = 16, n = 7;
  const MoeConfig moe = variants()[2].moe;
  MoeLayer layer = random_layer(moe, d, rng);
  std::vector<LayerWeights> layers(1);
  layers[0].moe = layer.w;
  MoeBuffers buffers;
  buffers.reserve(moe, d, layers, n);
  ThreadPool pool(2);
  std::vector<float> h = normal_values(n * d, 1.0, rng), separate(n * d);
  ASSERT_TRUE(moe_ffn(moe, layer.w, d, h.data(), n, separate.data(), nullptr, buffers, pool).ok());
  ASSERT_TRUE(moe_ffn(moe, layer.w, d, h.data(), n, h.data(), nullptr, buffers, pool).ok());
  EXPECT_EQ(h, separate);
}

}  // namespace
}  // namespace mx
