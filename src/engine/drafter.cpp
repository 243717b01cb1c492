#include "engine/drafter.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>

namespace mx {

Status SpeculativeConfig::validate() const {
  if (method == SpeculativeMethod::kNone) return ok_status();
  if (draft_tokens < 1 || draft_tokens > 32) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--draft-tokens must be between 1 and 32, got {}", draft_tokens);
  }
  if (ngram_min < 1 || ngram_min > 64) {
    return make_error(ErrorCode::kInvalidArgument, "--ngram-min must be between 1 and 64, got {}",
                      ngram_min);
  }
  if (ngram_max < ngram_min || ngram_max > 64) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--ngram-max must be between --ngram-min ({}) and 64, got {}", ngram_min,
                      ngram_max);
  }
  return ok_status();
}

Result<SpeculativeMethod> parse_speculative_method(const std::string& name) {
  if (name == "none") return SpeculativeMethod::kNone;
  if (name == "ngram") return SpeculativeMethod::kNgram;
  if (name == "mtp") return SpeculativeMethod::kMtp;
  return make_error(ErrorCode::kInvalidArgument,
                    "--speculative must be none, ngram or mtp, got '{}'", name);
}

const char* speculative_method_name(SpeculativeMethod method) {
  switch (method) {
    case SpeculativeMethod::kNgram: return "ngram";
    case SpeculativeMethod::kMtp: return "mtp";
    case SpeculativeMethod::kNone: break;
  }
  return "none";
}

void append_draft_token(std::span<const float> logits, const SamplingParams& params,
                        std::mt19937_64& rng, Draft& draft) {
  if (!params.logit_bias.empty()) {  // the request's bias, so drafts follow it as the target does
    thread_local std::vector<float> biased;
    biased.assign(logits.begin(), logits.end());
    for (const auto& [token, bias] : params.logit_bias) {
      if (token >= 0 && static_cast<size_t>(token) < biased.size()) biased[token] += bias;
    }
    logits = biased;
  }
  if (params.temperature <= 0.0f) {
    draft.tokens.push_back(argmax(logits));
    return;
  }
  const size_t vocab = logits.size();
  const size_t first = draft.probs.size();
  draft.probs.resize(first + vocab);
  std::span<float> q(draft.probs.data() + first, vocab);
  // Tokens outside the top_k get q = 0: the cut-off logit is the k-th largest.
  float cutoff = -std::numeric_limits<float>::infinity();
  if (params.top_k > 0 && static_cast<size_t>(params.top_k) < vocab) {
    thread_local std::vector<float> sorted;  // no allocation per draft token once grown
    sorted.assign(logits.begin(), logits.end());
    std::nth_element(sorted.begin(), sorted.begin() + (params.top_k - 1), sorted.end(),
                     std::greater<float>());
    cutoff = sorted[static_cast<size_t>(params.top_k - 1)];
  }
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double total = 0.0;
  for (size_t i = 0; i < vocab; ++i) {
    const bool kept = logits[i] >= cutoff;
    q[i] = kept ? std::exp((logits[i] - max_logit) / params.temperature) : 0.0f;
    total += q[i];
  }
  std::uniform_real_distribution<double> uniform(0.0, total);
  const double target = uniform(rng);
  double running = 0.0;
  int32_t token = -1;
  for (size_t i = 0; i < vocab; ++i) {
    if (q[i] > 0.0f) token = static_cast<int32_t>(i);  // the last kept one catches rounding
    running += q[i];
    if (q[i] > 0.0f && running >= target) break;
  }
  const float inv = static_cast<float>(1.0 / total);
  for (float& value : q) value *= inv;
  draft.tokens.push_back(token);
}

NgramDrafter::NgramDrafter(int64_t ngram_min, int64_t ngram_max)
    : ngram_min_(ngram_min), ngram_max_(ngram_max), keys_(1024, 0), ends_(1024, -1) {}

uint64_t NgramDrafter::key_of(std::span<const int32_t> gram) {
  // splitmix64 steps over the tokens, seeded with the length: n-grams of different n never
  // share a key by construction of the seed. 0 marks an empty slot, so it is never a key.
  uint64_t h = 0x9e3779b97f4a7c15ULL * (gram.size() + 1);
  for (int32_t token : gram) {
    h ^= static_cast<uint32_t>(token);
    h += 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
  }
  return h == 0 ? 1 : h;
}

void NgramDrafter::grow() {
  std::vector<uint64_t> old_keys(keys_.size() * 2, 0);
  std::vector<int32_t> old_ends(ends_.size() * 2, -1);
  old_keys.swap(keys_);
  old_ends.swap(ends_);
  used_ = 0;
  for (size_t i = 0; i < old_keys.size(); ++i) {
    if (old_keys[i] != 0) insert(old_keys[i], old_ends[i]);
  }
}

void NgramDrafter::insert(uint64_t key, int32_t end) {
  if ((used_ + 1) * 2 > static_cast<int64_t>(keys_.size())) grow();
  const size_t mask = keys_.size() - 1;
  for (size_t slot = key & mask;; slot = (slot + 1) & mask) {
    if (keys_[slot] == key) {
      ends_[slot] = end;  // a later occurrence replaces the earlier one
      return;
    }
    if (keys_[slot] == 0) {
      keys_[slot] = key;
      ends_[slot] = end;
      ++used_;
      return;
    }
  }
}

int32_t NgramDrafter::find(uint64_t key) const {
  const size_t mask = keys_.size() - 1;
  for (size_t slot = key & mask; keys_[slot] != 0; slot = (slot + 1) & mask) {
    if (keys_[slot] == key) return ends_[slot];
  }
  return -1;
}

void NgramDrafter::index_until(std::span<const int32_t> tokens, int64_t end) {
  for (int64_t e = indexed_end_ + 1; e <= end; ++e) {
    for (int64_t n = ngram_min_; n <= std::min(ngram_max_, e); ++n) {
      insert(key_of(tokens.subspan(static_cast<size_t>(e - n), static_cast<size_t>(n))),
             static_cast<int32_t>(e));
    }
  }
  indexed_end_ = std::max(indexed_end_, end);
}

void NgramDrafter::propose(std::span<const int32_t> tokens, int64_t max_tokens, Draft& draft) {
  draft.clear();
  const int64_t length = static_cast<int64_t>(tokens.size());
  if (max_tokens <= 0 || length <= ngram_min_) return;
  // Only n-grams ending before the last token are indexed: a match is an *earlier* occurrence
  // of the suffix, and at least one token follows it.
  index_until(tokens, length - 1);
  for (int64_t n = std::min(ngram_max_, length - 1); n >= ngram_min_; --n) {
    const auto suffix = tokens.last(static_cast<size_t>(n));
    const int32_t end = find(key_of(suffix));
    if (end < n) continue;
    const auto earlier = tokens.subspan(static_cast<size_t>(end - n), static_cast<size_t>(n));
    if (!std::equal(earlier.begin(), earlier.end(), suffix.begin())) continue;  // hash clash
    for (int64_t j = 0; j < max_tokens; ++j) {
      const int64_t pos = end + j;
      draft.tokens.push_back(pos < length ? tokens[static_cast<size_t>(pos)]
                                          : draft.tokens[static_cast<size_t>(pos - length)]);
    }
    return;
  }
}

int64_t DraftPacer::next_length() {
  if (pause_ > 0) {
    --pause_;
    return 0;
  }
  return length_;
}

void DraftPacer::record(int64_t drafted, int64_t accepted) {
  if (drafted <= 0) return;
  length_ = accepted == drafted ? std::min(max_tokens_, drafted + 1) : accepted + 1;
  if (accepted > 0) {
    backoff_ = 0;
    return;
  }
  backoff_ = std::min(kMaxPause, backoff_ == 0 ? 1 : 2 * backoff_);
  pause_ = backoff_;
}

std::unique_ptr<Drafter> make_drafter(const SpeculativeConfig& config) {
  if (!config.enabled() || config.method != SpeculativeMethod::kNgram) return nullptr;
  return std::make_unique<NgramDrafter>(config.ngram_min, config.ngram_max);
}

}  // namespace mx
