#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace mx {

Status SamplingParams::validate(int32_t vocab_size) const {
  if (!std::isfinite(temperature) || temperature < 0.0f || temperature > 100.0f) {
    return make_error(ErrorCode::kInvalidArgument,
                      "temperature must be between 0 and 100 (0 = greedy), got {}", temperature);
  }
  if (top_k < 0)
    return make_error(ErrorCode::kInvalidArgument, "top_k must be >= 0 (0 = off), got {}", top_k);
  if (!(top_p > 0.0f && top_p <= 1.0f)) {
    return make_error(ErrorCode::kInvalidArgument, "top_p must be in (0, 1], got {}", top_p);
  }
  if (!(min_p >= 0.0f && min_p <= 1.0f)) {
    return make_error(ErrorCode::kInvalidArgument, "min_p must be in [0, 1], got {}", min_p);
  }
  if (!(repetition_penalty > 0.0f && repetition_penalty <= 10.0f)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "repetition_penalty must be in (0, 10] (1 = off), got {}",
                      repetition_penalty);
  }
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "presence_penalty must be between -2 and 2, got {}", presence_penalty);
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "frequency_penalty must be between -2 and 2, got {}", frequency_penalty);
  }
  for (const auto& [token, bias] : logit_bias) {
    if (token < 0 || token >= vocab_size) {
      return make_error(ErrorCode::kInvalidArgument,
                        "logit_bias names token {}, but the vocabulary has ids 0..{}", token,
                        vocab_size - 1);
    }
    if (!(bias >= -100.0f && bias <= 100.0f)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "logit_bias for token {} must be between -100 and 100, got {}", token,
                        bias);
    }
  }
  if (top_logprobs < 0 || top_logprobs > 20) {
    return make_error(ErrorCode::kInvalidArgument, "top_logprobs must be between 0 and 20, got {}",
                      top_logprobs);
  }
  return ok_status();
}

int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

SamplerState::SamplerState(SamplingParams params, int32_t vocab_size)
    : params_(std::move(params)), vocab_size_(vocab_size) {
  rng_.seed(params_.seed ? *params_.seed : std::random_device{}());
}

void SamplerState::ensure_buffers() {
  if (!candidates_.empty()) return;
  candidates_.resize(vocab_size_);
  probs_.resize(vocab_size_);
  if (params_.logprobs || params_.top_logprobs > 0) raw_logits_.resize(vocab_size_);
}

size_t SamplerState::buffer_bytes() const {
  return candidates_.capacity() * sizeof(int32_t) +
         (probs_.capacity() + raw_logits_.capacity()) * sizeof(float);
}

void SamplerState::release_buffers() {
  std::vector<int32_t>().swap(candidates_);
  std::vector<float>().swap(probs_);
  std::vector<float>().swap(raw_logits_);
}

void SamplerState::add_prompt_tokens(std::span<const int32_t> tokens) {
  if (params_.repetition_penalty == 1.0f) return;
  for (int32_t token : tokens) prompt_seen_[token] = 1;
}

void SamplerState::accept(int32_t token) { generated_counts_[token] += 1; }

void SamplerState::apply_bias_and_penalties(std::span<float> logits) const {
  for (const auto& [token, bias] : params_.logit_bias) logits[token] += bias;
  const float rep = params_.repetition_penalty;
  auto penalize_repeat = [&](int32_t token) {
    float& logit = logits[token];
    logit = logit > 0.0f ? logit / rep : logit * rep;
  };
  if (rep != 1.0f) {
    for (const auto& [token, unused] : prompt_seen_) penalize_repeat(token);
    for (const auto& [token, count] : generated_counts_) {
      if (!prompt_seen_.contains(token)) penalize_repeat(token);
    }
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    for (const auto& [token, count] : generated_counts_) {
      logits[token] -= params_.presence_penalty + params_.frequency_penalty * count;
    }
  }
}

void SamplerState::report_logprobs(std::span<const float> logits, SampledToken& out) {
  float max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float logit : logits) sum += std::exp(static_cast<double>(logit - max_logit));
  const float log_z = max_logit + static_cast<float>(std::log(sum));
  out.logprob = logits[out.token] - log_z;
  out.top_logprobs.clear();
  if (params_.top_logprobs > 0) {
    size_t k = select_top(logits, static_cast<size_t>(params_.top_logprobs));
    for (size_t i = 0; i < k; ++i) {
      out.top_logprobs.push_back({candidates_[i], logits[candidates_[i]] - log_z});
    }
  }
}

// Puts the k highest logits' ids, best first, in candidates_[0, k); ties by lower id.
size_t SamplerState::select_top(std::span<const float> logits, size_t k) {
  k = std::min(k, logits.size());
  std::iota(candidates_.begin(), candidates_.end(), 0);
  std::partial_sort(candidates_.begin(), candidates_.begin() + k, candidates_.end(),
                    [&](int32_t a, int32_t b) {
                      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
                    });
  return k;
}

SamplerState::Kept SamplerState::keep(std::span<const float> logits) {
  const float inv_temp = 1.0f / params_.temperature;
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  const bool truncate = params_.top_k > 0 || params_.top_p < 1.0f || params_.min_p > 0.0f;
  Kept kept;
  if (!truncate) {  // the full distribution: no sorting needed
    for (size_t i = 0; i < logits.size(); ++i) {
      probs_[i] = std::exp((logits[i] - max_logit) * inv_temp);
      kept.total += probs_[i];
    }
    kept.n = logits.size();
    kept.identity = true;
    return kept;
  }
  // Sorted candidates: all of top-k, or (no top-k) a prefix grown until top-p / min-p hold.
  double z_all = 0.0;
  for (float logit : logits) z_all += std::exp((logit - max_logit) * inv_temp);
  size_t limit = params_.top_k > 0 ? std::min<size_t>(params_.top_k, logits.size()) : logits.size();
  size_t n = std::min<size_t>(limit, params_.top_k > 0 ? limit : 64);
  while (true) {
    n = select_top(logits, n);
    double z = 0.0;
    for (size_t i = 0; i < n; ++i) {
      probs_[i] = std::exp((logits[candidates_[i]] - max_logit) * inv_temp);
      z += probs_[i];
    }
    if (params_.top_k > 0) z_all = z;  // top-k renormalizes before top-p
    const double top_p_mass = params_.top_p * z_all;
    const double min_keep = params_.min_p * probs_[0];
    size_t n_keep = 0;
    double cumulative = 0.0;
    while (n_keep < n && (n_keep == 0 || (cumulative < top_p_mass && probs_[n_keep] >= min_keep))) {
      cumulative += probs_[n_keep++];
    }
    if (n_keep < n || n == limit) {
      kept.n = n_keep;
      kept.total = cumulative;
      return kept;
    }
    n = std::min(limit, n * 4);
  }
}

int32_t SamplerState::kept_token(const Kept& kept, size_t i) const {
  return kept.identity ? static_cast<int32_t>(i) : candidates_[i];
}

double SamplerState::kept_prob(const Kept& kept, int32_t token) const {
  if (kept.identity) return probs_[static_cast<size_t>(token)] / kept.total;
  for (size_t i = 0; i < kept.n; ++i) {
    if (candidates_[i] == token) return probs_[i] / kept.total;
  }
  return 0.0;
}

int32_t SamplerState::draw(std::span<const float> logits) {
  const Kept kept = keep(logits);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  double target = uniform(rng_) * kept.total;
  for (size_t i = 0; i < kept.n; ++i) {
    target -= probs_[i];
    if (target < 0.0) return kept_token(kept, i);
  }
  return kept.identity ? argmax(logits) : kept_token(kept, kept.n - 1);
}

// A draw from normalize(max(0, p - q)), p the kept distribution, q one-hot at `draft` when
// draft_probs is empty. Tokens outside the kept set have p = 0 and so no residual mass.
int32_t SamplerState::draw_residual(const Kept& kept, int32_t draft,
                                    std::span<const float> draft_probs) {
  auto residual = [&](size_t i) {
    const int32_t token = kept_token(kept, i);
    const double q = draft_probs.empty() ? (token == draft ? 1.0 : 0.0) : draft_probs[token];
    return std::max(0.0, probs_[i] / kept.total - q);
  };
  double mass = 0.0;
  int32_t last_positive = -1;
  for (size_t i = 0; i < kept.n; ++i) {
    const double r = residual(i);
    mass += r;
    if (r > 0.0) last_positive = kept_token(kept, i);
  }
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  // p == q (up to rounding) leaves no residual; rejection then had probability ~0 and any
  // draw from p is as good.
  if (last_positive < 0) return kept_token(kept, 0);
  double target = uniform(rng_) * mass;
  for (size_t i = 0; i < kept.n; ++i) {
    target -= residual(i);
    if (target < 0.0) return kept_token(kept, i);
  }
  return last_positive;
}

SampledToken SamplerState::sample(std::span<float> logits) {
  ensure_buffers();
  SampledToken out;
  const bool want_logprobs = params_.logprobs || params_.top_logprobs > 0;
  // Logprobs come from the raw distribution: keep a copy before the chain modifies logits.
  if (want_logprobs) std::copy(logits.begin(), logits.end(), raw_logits_.begin());
  apply_bias_and_penalties(logits);
  out.token = params_.temperature == 0.0f ? argmax(logits) : draw(logits);
  if (want_logprobs) report_logprobs(raw_logits_, out);
  return out;
}

SamplerState::Verdict SamplerState::verify(std::span<float> logits, int32_t draft,
                                           std::span<const float> draft_probs) {
  ensure_buffers();
  Verdict verdict;
  const bool want_logprobs = params_.logprobs || params_.top_logprobs > 0;
  if (want_logprobs) std::copy(logits.begin(), logits.end(), raw_logits_.begin());
  apply_bias_and_penalties(logits);
  if (params_.temperature == 0.0f) {
    verdict.token.token = argmax(logits);
    verdict.accepted = verdict.token.token == draft;
  } else {
    const Kept kept = keep(logits);
    const double p = kept_prob(kept, draft);
    const double q = draft_probs.empty() ? 1.0 : draft_probs[static_cast<size_t>(draft)];
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    // Accept with probability min(1, p / q); q == 0 (a draft its own drafter gave no mass) is
    // rejected.
    verdict.accepted = q > 0.0 && uniform(rng_) * q < p;
    verdict.token.token = verdict.accepted ? draft : draw_residual(kept, draft, draft_probs);
  }
  if (want_logprobs) report_logprobs(raw_logits_, verdict.token);
  return verdict;
}

}  // namespace mx
