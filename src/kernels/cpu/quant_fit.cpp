#include "kernels/cpu/quant_fit.h"

#include <cmath>

#include "core/half.h"

namespace mx::quant {
namespace {

constexpr float kMaxHalf = 65504.0f;

// Squared error of x ~ d * q with q = clamp_round(x / d).
float symmetric_error(const float* x, int n, float d, int qmin, int qmax) {
  float inv = d != 0.0f ? 1.0f / d : 0.0f;
  float error = 0.0f;
  for (int i = 0; i < n; ++i) {
    float diff = x[i] - d * static_cast<float>(clamp_round(x[i] * inv, qmin, qmax));
    error += diff * diff;
  }
  return error;
}

// Least-squares d for the integers that scale `d` assigns: argmin_d' sum (x - d' q)^2.
float refine_symmetric(const float* x, int n, float d, int qmin, int qmax) {
  float inv = 1.0f / d;
  double xq = 0.0, qq = 0.0;
  for (int i = 0; i < n; ++i) {
    double q = clamp_round(x[i] * inv, qmin, qmax);
    xq += x[i] * q;
    qq += q * q;
  }
  return qq > 0.0 ? static_cast<float>(xq / qq) : d;
}

float affine_error(const float* x, int n, int qmax, AffineFit fit) {
  float inv = fit.scale > 0.0f ? 1.0f / fit.scale : 0.0f;
  float error = 0.0f;
  for (int i = 0; i < n; ++i) {
    int q = clamp_round((x[i] - fit.min) * inv, 0, qmax);
    float diff = x[i] - (fit.scale * static_cast<float>(q) + fit.min);
    error += diff * diff;
  }
  return error;
}

// One least-squares step: keep the integers `fit` assigns, solve for (scale, min).
AffineFit refine_affine(const float* x, int n, int qmax, AffineFit fit, bool min_at_most_zero) {
  float inv = 1.0f / fit.scale;
  double sum_q = 0, sum_qq = 0, sum_x = 0, sum_xq = 0;
  for (int i = 0; i < n; ++i) {
    double q = clamp_round((x[i] - fit.min) * inv, 0, qmax);
    sum_q += q;
    sum_qq += q * q;
    sum_x += x[i];
    sum_xq += x[i] * q;
  }
  double det = n * sum_qq - sum_q * sum_q;
  if (det <= 0.0) return fit;  // every element got the same integer: nothing to solve
  AffineFit refined;
  refined.scale = static_cast<float>((n * sum_xq - sum_q * sum_x) / det);
  refined.min = static_cast<float>((sum_qq * sum_x - sum_q * sum_xq) / det);
  if (min_at_most_zero && refined.min > 0.0f) {
    refined.min = 0.0f;
    refined.scale = static_cast<float>(sum_xq / sum_qq);
  }
  if (!(refined.scale > 0.0f)) return fit;
  return refined;
}

}  // namespace

int clamp_round(float v, int lo, int hi) {
  if (!(v >= static_cast<float>(lo))) return lo;  // also NaN
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(std::nearbyint(v));  // default rounding mode: half to even
}

uint16_t to_fp16_scale(float v) {
  if (v > kMaxHalf) v = kMaxHalf;
  if (v < -kMaxHalf) v = -kMaxHalf;
  return fp32_to_fp16(v);
}

float fit_symmetric(const float* x, int n, int qmin, int qmax) {
  float max_abs = 0.0f, max_val = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > max_abs) {
      max_abs = std::fabs(x[i]);
      max_val = x[i];
    }
  }
  if (!(max_abs > 0.0f) || !std::isfinite(max_abs)) return max_abs > 0.0f ? max_val : 0.0f;
  // Candidates: the extreme element maps to qmin * f for f in [0.8, 1.2]; each is refined by
  // least squares. f = 1 is the classic "max maps to the end of the range" choice.
  float best_d = max_val / static_cast<float>(qmin);
  float best_error = symmetric_error(x, n, best_d, qmin, qmax);
  for (int step = -8; step <= 8; ++step) {
    float d = max_val / (static_cast<float>(qmin) * (1.0f + 0.025f * static_cast<float>(step)));
    d = refine_symmetric(x, n, d, qmin, qmax);
    float error = symmetric_error(x, n, d, qmin, qmax);
    if (error < best_error) {
      best_error = error;
      best_d = d;
    }
  }
  return best_d;
}

AffineFit fit_affine(const float* x, int n, int qmax, bool min_at_most_zero) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::fmin(lo, x[i]);
    hi = std::fmax(hi, x[i]);
  }
  if (min_at_most_zero && lo > 0.0f) lo = 0.0f;
  AffineFit best{(hi - lo) / static_cast<float>(qmax), lo};
  if (!(best.scale > 0.0f) || !std::isfinite(best.scale)) {
    return {best.scale > 0.0f ? best.scale : 0.0f, lo};  // constant group (or non-finite input)
  }
  float best_error = affine_error(x, n, qmax, best);
  // Start from ranges slightly narrower/wider than the extremes, then refine a few times.
  for (int step = -4; step <= 4; ++step) {
    AffineFit fit{(hi - lo) / (static_cast<float>(qmax) + 0.25f * static_cast<float>(step)), lo};
    for (int iteration = 0; iteration < 3; ++iteration) {
      fit = refine_affine(x, n, qmax, fit, min_at_most_zero);
      float error = affine_error(x, n, qmax, fit);
      if (error < best_error) {
        best_error = error;
        best = fit;
      }
    }
  }
  return best;
}

}  // namespace mx::quant
