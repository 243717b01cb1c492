#include "kernels/cpu/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace mx {

Status RopeParams::validate() const {
  if (rotary_dims <= 0 || rotary_dims % 2 != 0 || rotary_dims > 1024) {
    return make_error(ErrorCode::kInvalidArgument,
                      "rope: rotary_dims must be even and in [2, 1024], got {}", rotary_dims);
  }
  if (!(theta_base > 1.0f)) {
    return make_error(ErrorCode::kInvalidArgument, "rope: theta base must be > 1, got {}",
                      theta_base);
  }
  if (scaling != RopeScaling::kNone && !(factor > 0.0f)) {
    return make_error(ErrorCode::kInvalidArgument, "rope: scaling factor must be > 0, got {}",
                      factor);
  }
  if (scaling == RopeScaling::kLlama3 &&
      (!(high_freq_factor > low_freq_factor) || original_max_positions <= 0)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "rope llama3: need high_freq_factor > low_freq_factor and "
                      "original_max_position_embeddings > 0");
  }
  if (scaling == RopeScaling::kYarn && original_max_positions <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "rope yarn: original_max_position_embeddings must be > 0");
  }
  return ok_status();
}

namespace {

// transformers _compute_llama3_parameters: wavelengths longer than original / low_freq_factor
// are slowed by `factor`, shorter than original / high_freq_factor kept, and those in between
// blended linearly in (original / wavelen).
void apply_llama3(const RopeParams& p, std::vector<float>& inv_freq) {
  float low_freq_wavelen = static_cast<float>(p.original_max_positions) / p.low_freq_factor;
  float high_freq_wavelen = static_cast<float>(p.original_max_positions) / p.high_freq_factor;
  for (float& f : inv_freq) {
    float wavelen = 2.0f * std::numbers::pi_v<float> / f;
    if (wavelen > low_freq_wavelen) {
      f /= p.factor;
    } else if (wavelen >= high_freq_wavelen) {
      float smooth = (static_cast<float>(p.original_max_positions) / wavelen - p.low_freq_factor) /
                     (p.high_freq_factor - p.low_freq_factor);
      f = (1.0f - smooth) * f / p.factor + smooth * f;
    }
  }
}

// transformers get_mscale: 0.1 * mscale * ln(scale) + 1 for scale > 1.
double yarn_get_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// transformers _compute_yarn_parameters: blend interpolated (inv_freq / factor) and
// extrapolated (inv_freq) frequencies with a linear ramp over the dimensions between the
// correction dims of beta_fast and beta_slow rotations; cos/sin scaled by attention_factor.
float apply_yarn(const RopeParams& p, std::vector<float>& inv_freq) {
  double dim = p.rotary_dims, base = p.theta_base, orig = p.original_max_positions;
  auto correction_dim = [&](double rotations) {
    return dim * std::log(orig / (rotations * 2.0 * std::numbers::pi)) / (2.0 * std::log(base));
  };
  double low = correction_dim(p.beta_fast), high = correction_dim(p.beta_slow);
  if (p.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, dim - 1.0);
  if (low == high) high += 0.001;
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    float ramp = std::clamp(static_cast<float>((static_cast<double>(i) - low) / (high - low)),
                            0.0f, 1.0f);
    float extrapolation_factor = 1.0f - ramp;
    float extrapolated = inv_freq[i], interpolated = inv_freq[i] / p.factor;
    inv_freq[i] = interpolated * (1.0f - extrapolation_factor) + extrapolated * extrapolation_factor;
  }
  if (p.attention_factor > 0.0f) return p.attention_factor;
  if (p.mscale > 0.0f && p.mscale_all_dim > 0.0f) {
    return static_cast<float>(yarn_get_mscale(p.factor, p.mscale) /
                              yarn_get_mscale(p.factor, p.mscale_all_dim));
  }
  return static_cast<float>(yarn_get_mscale(p.factor, 1.0));
}

}  // namespace

Result<RopeTable> make_rope_table(const RopeParams& params) {
  MX_RETURN_IF_ERROR(params.validate());
  RopeTable table;
  table.rotary_dims = params.rotary_dims;
  table.inv_freq.resize(static_cast<size_t>(params.rotary_dims / 2));
  // transformers _compute_default_rope_parameters: 1 / base^(2i / dim), computed in float32.
  for (size_t i = 0; i < table.inv_freq.size(); ++i) {
    float exponent = static_cast<float>(2 * i) / static_cast<float>(params.rotary_dims);
    table.inv_freq[i] = 1.0f / std::pow(params.theta_base, exponent);
  }
  switch (params.scaling) {
    case RopeScaling::kNone: break;
    case RopeScaling::kLinear:
      for (float& f : table.inv_freq) f /= params.factor;
      break;
    case RopeScaling::kLlama3: apply_llama3(params, table.inv_freq); break;
    case RopeScaling::kYarn: table.attention_factor = apply_yarn(params, table.inv_freq); break;
  }
  return table;
}

namespace {

// Rotates one head with precomputed cos/sin [rotary_dims / 2].
inline void rotate_head(RopeLayout layout, float* head, const float* cos_v, const float* sin_v,
                        int half) {
  if (layout == RopeLayout::kNeox) {
    for (int i = 0; i < half; ++i) {
      float a = head[i], b = head[i + half];
      head[i] = a * cos_v[i] - b * sin_v[i];
      head[i + half] = a * sin_v[i] + b * cos_v[i];
    }
  } else {
    for (int i = 0; i < half; ++i) {
      float a = head[2 * i], b = head[2 * i + 1];
      head[2 * i] = a * cos_v[i] - b * sin_v[i];
      head[2 * i + 1] = a * sin_v[i] + b * cos_v[i];
    }
  }
}

void cos_sin(const RopeTable& table, int32_t position, float* cos_v, float* sin_v) {
  int half = table.rotary_dims / 2;
  for (int i = 0; i < half; ++i) {
    float theta = static_cast<float>(position) * table.inv_freq[static_cast<size_t>(i)];
    cos_v[i] = std::cos(theta) * table.attention_factor;
    sin_v[i] = std::sin(theta) * table.attention_factor;
  }
}

}  // namespace

void rope_apply(const RopeTable& table, RopeLayout layout, float* x, int64_t n_tokens,
                int64_t n_heads, int64_t head_dim, int64_t token_stride, const int32_t* positions,
                ThreadPool& pool) {
  int half = table.rotary_dims / 2;
  auto tokens = [&](int64_t begin, int64_t end) {
    float cos_v[512], sin_v[512];  // rotary_dims <= 1024 (validated)
    for (int64_t t = begin; t < end; ++t) {
      cos_sin(table, positions[t], cos_v, sin_v);
      for (int64_t h = 0; h < n_heads; ++h) {
        rotate_head(layout, x + t * token_stride + h * head_dim, cos_v, sin_v, half);
      }
    }
  };
  if (n_tokens < 4 || pool.size() == 1) return tokens(0, n_tokens);
  pool.parallel_for(n_tokens, tokens);
}

void rope_apply_reference(const RopeTable& table, RopeLayout layout, float* head,
                          int32_t position) {
  int half = table.rotary_dims / 2;
  for (int i = 0; i < half; ++i) {
    float theta = static_cast<float>(position) * table.inv_freq[static_cast<size_t>(i)];
    int ia = layout == RopeLayout::kNeox ? i : 2 * i;
    int ib = layout == RopeLayout::kNeox ? i + half : 2 * i + 1;
    float a = head[ia], b = head[ib];
    head[ia] = (a * std::cos(theta) - b * std::sin(theta)) * table.attention_factor;
    head[ib] = (a * std::sin(theta) + b * std::cos(theta)) * table.attention_factor;
  }
}

}  // namespace mx
