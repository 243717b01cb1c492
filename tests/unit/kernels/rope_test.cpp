// RoPE tables (default, linear, Llama-3, YaRN) against the transformers formulas recomputed
// here in double, and rope_apply against the pair-by-pair reference (1e-6 absolute) and against
// properties of rotations (norm kept, position 0 is identity, scores depend on distance only).
#include "kernels/cpu/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

namespace mx {
namespace {

TEST(RopeTable, DefaultAndLinear) {
  RopeParams p;
  p.theta_base = 10000.0f;
  p.rotary_dims = 64;
  auto table = make_rope_table(p);
  ASSERT_TRUE(table.ok());
  ASSERT_EQ(table->inv_freq.size(), 32u);
  for (int i = 0; i < 32; ++i) {
    EXPECT_NEAR(table->inv_freq[i], std::pow(10000.0, -2.0 * i / 64.0), 1e-6 * table->inv_freq[i]);
  }
  p.scaling = RopeScaling::kLinear;
  p.factor = 4.0f;
  auto linear = make_rope_table(p);
  for (int i = 0; i < 32; ++i) EXPECT_FLOAT_EQ(linear->inv_freq[i], table->inv_freq[i] / 4.0f);
  p.rotary_dims = 7;
  EXPECT_FALSE(make_rope_table(p).ok());
}

TEST(RopeTable, Llama3MatchesTransformersFormula) {
  // Llama-3.2-1B: theta 500000, factor 32, low 1, high 4, original 8192, head_dim 64.
  RopeParams p{500000.0f, 64, RopeScaling::kLlama3, 32.0f, 1.0f, 4.0f, 8192};
  auto table = make_rope_table(p);
  ASSERT_TRUE(table.ok());
  for (int i = 0; i < 32; ++i) {
    double f = std::pow(500000.0, -2.0 * i / 64.0), wavelen = 2 * std::numbers::pi / f;
    double want = f;
    if (wavelen > 8192.0) {
      want = f / 32.0;
    } else if (wavelen >= 8192.0 / 4.0) {
      double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      want = (1 - smooth) * f / 32.0 + smooth * f;
    }
    EXPECT_NEAR(table->inv_freq[i], want, 1e-5 * want) << i;
  }
  EXPECT_FLOAT_EQ(table->inv_freq[0], 1.0f);  // highest frequency untouched
  EXPECT_FLOAT_EQ(table->attention_factor, 1.0f);
}

TEST(RopeTable, YarnMatchesTransformersFormula) {
  RopeParams p;
  p.theta_base = 1000000.0f;
  p.rotary_dims = 128;
  p.scaling = RopeScaling::kYarn;
  p.factor = 4.0f;
  p.original_max_positions = 32768;
  auto table = make_rope_table(p);
  ASSERT_TRUE(table.ok());
  EXPECT_NEAR(table->attention_factor, 0.1 * std::log(4.0) + 1.0, 1e-6);
  auto corr_dim = [](double rot) {
    return 128.0 * std::log(32768.0 / (rot * 2 * std::numbers::pi)) / (2 * std::log(1e6));
  };
  double low = std::max(std::floor(corr_dim(32.0)), 0.0);
  double high = std::min(std::ceil(corr_dim(1.0)), 127.0);
  for (int i = 0; i < 64; ++i) {
    double f = std::pow(1e6, -2.0 * i / 128.0);
    double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    double want = f / 4.0 * ramp + f * (1.0 - ramp);
    EXPECT_NEAR(table->inv_freq[i], want, 2e-6 * want) << i;
  }
  p.mscale = 0.707f;
  p.mscale_all_dim = 0.707f;  // DeepSeek style: ratio 1
  EXPECT_NEAR(make_rope_table(p)->attention_factor, 1.0f, 1e-6);
}

void fill(std::vector<float>& v, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : v) x = normal(rng);
}

TEST(RopeApply, MatchesReferenceBothLayoutsPartialRotary) {
  ThreadPool pool(2, false);
  for (RopeLayout layout : {RopeLayout::kNormal, RopeLayout::kNeox}) {
    for (int rot : {64, 32}) {
      auto table = make_rope_table(RopeParams{10000.0f, rot});
      int64_t n_tokens = 9, n_heads = 3, head_dim = 64, stride = n_heads * head_dim + 4;
      std::vector<float> x(static_cast<size_t>(n_tokens * stride));
      fill(x, 3);
      std::vector<int32_t> pos = {0, 1, 2, 7, 100, 5000, 3, 3, 65535};
      std::vector<float> got = x;
      rope_apply(*table, layout, got.data(), n_tokens, n_heads, head_dim, stride, pos.data(), pool);
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t h = 0; h < n_heads; ++h) {
          std::vector<float> want(x.begin() + t * stride + h * head_dim,
                                  x.begin() + t * stride + (h + 1) * head_dim);
          rope_apply_reference(*table, layout, want.data(), pos[t]);
          for (int64_t i = 0; i < head_dim; ++i) {
            ASSERT_NEAR(got[t * stride + h * head_dim + i], want[i], 1e-6f);
          }
        }
        for (int64_t i = n_heads * head_dim; i < stride; ++i) {
          ASSERT_EQ(got[t * stride + i], x[t * stride + i]);  // padding untouched
        }
        // dims past rotary_dims untouched
        for (int64_t i = rot; i < head_dim; ++i) ASSERT_EQ(got[t * stride + i], x[t * stride + i]);
      }
    }
  }
}

TEST(RopeApply, RotationProperties) {
  ThreadPool pool(1, false);
  auto table = make_rope_table(RopeParams{10000.0f, 32});
  std::vector<float> q(32), k(32);
  fill(q, 1);
  fill(k, 2);
  auto rotated = [&](std::vector<float> v, int32_t pos) {
    rope_apply(*table, RopeLayout::kNeox, v.data(), 1, 1, 32, 32, &pos, pool);
    return v;
  };
  auto dot = [](const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += double{a[i]} * b[i];
    return s;
  };
  EXPECT_EQ(rotated(q, 0), q);                                      // identity at 0
  EXPECT_NEAR(dot(rotated(q, 37), rotated(q, 37)), dot(q, q), 1e-4);  // norm kept
  // q.k after rotation depends on the distance only: (10, 3) and (107, 100).
  EXPECT_NEAR(dot(rotated(q, 10), rotated(k, 3)), dot(rotated(q, 107), rotated(k, 100)), 1e-4);
  // Normal layout, one pair, position 1, inv_freq[0] = 1: a rotation by 1 radian.
  std::vector<float> pair = {1.0f, 0.0f};
  auto t2 = make_rope_table(RopeParams{10000.0f, 2});
  int32_t one = 1;
  rope_apply(*t2, RopeLayout::kNormal, pair.data(), 1, 1, 2, 2, &one, pool);
  EXPECT_NEAR(pair[0], std::cos(1.0), 1e-6);
  EXPECT_NEAR(pair[1], std::sin(1.0), 1e-6);
}

}  // namespace
}  // namespace mx
