// Sampler: turns one row of logits into the next token id, per sequence.
//
// The chain, in order: logit_bias → repetition / presence / frequency penalties → (greedy when
// temperature == 0) → temperature → top-k → top-p → min-p → draw with the sequence's own RNG.
// Speculative decoding verifies a draft token with verify(): the same chain gives the target
// distribution p of that position, and the draft is kept with probability min(1, p(x)/q(x))
// (greedy: when it is the argmax), else replaced by a draw from normalize(max(0, p - q)) — so
// the emitted token has exactly distribution p (greedy: exactly the argmax).
// Logprobs are reported from the model's distribution (log-softmax of the raw logits, before
// any of the chain), as vLLM does by default. A SamplerState owns its RNG (seeded per request:
// the same seed gives the same tokens) and the token counts the penalties need. Its
// vocabulary-sized buffers are allocated by the first sample() / verify(), not at construction
// (a queued sequence holds none of them), and sized once: later tokens allocate nothing;
// release_buffers() gives them back (a preempted sequence).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"

namespace mx {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  int32_t top_k = 0;         // 0 = off
  float top_p = 1.0f;        // 1 = off
  float min_p = 0.0f;        // 0 = off; keep tokens with p >= min_p * p_max
  float repetition_penalty = 1.0f;  // >1 divides positive / multiplies negative logits of seen tokens
  float presence_penalty = 0.0f;    // OpenAI: minus this once for every generated token seen
  float frequency_penalty = 0.0f;   // OpenAI: minus this times the count of each generated token
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id → added to its logit
  std::optional<uint64_t> seed;     // unset: a random seed
  int32_t top_logprobs = 0;         // alternatives reported per token (0..20)
  bool logprobs = false;            // report the chosen token's logprob

  // Checks ranges against the vocabulary; the message names the field and the allowed range.
  Status validate(int32_t vocab_size) const;
};

struct TokenLogprob {
  int32_t token = -1;
  float logprob = 0.0f;
};

struct SampledToken {
  int32_t token = -1;
  float logprob = 0.0f;                    // filled when params.logprobs or top_logprobs > 0
  std::vector<TokenLogprob> top_logprobs;  // most likely first
};

class SamplerState {
 public:
  SamplerState(SamplingParams params, int32_t vocab_size);

  // Tokens the repetition penalty also counts (the prompt); generated tokens are added by
  // accept(). Presence / frequency penalties count generated tokens only (OpenAI semantics).
  void add_prompt_tokens(std::span<const int32_t> tokens);
  void accept(int32_t token);

  // Samples from logits [vocab_size]; the span is modified in place (bias, penalties, ...).
  SampledToken sample(std::span<float> logits);

  // Verifies draft token `draft` against logits [vocab_size] of its position (modified in place,
  // as by sample()). draft_probs: the draft distribution q [vocab_size] the token was drawn
  // from; empty means one-hot at `draft` (deterministic drafters). Returns the token to emit —
  // the draft when accepted — and whether it was. The caller accept()s the emitted token before
  // verifying the next position, so penalties see it.
  struct Verdict {
    SampledToken token;
    bool accepted = false;
  };
  Verdict verify(std::span<float> logits, int32_t draft, std::span<const float> draft_probs);

  const SamplingParams& params() const { return params_; }
  // Bytes held by the vocabulary-sized buffers: 0 until the first sample() / verify() and after
  // release_buffers().
  size_t buffer_bytes() const;
  void release_buffers();

 private:
  void ensure_buffers();
  void apply_bias_and_penalties(std::span<float> logits) const;
  void report_logprobs(std::span<const float> logits, SampledToken& out);
  // The chain's distribution after temperature, top-k, top-p and min-p: unnormalized weights
  // probs_[0, n) of tokens candidates_[0, n) (identity: of tokens 0..n-1), summing to total.
  struct Kept {
    size_t n = 0;
    bool identity = false;
    double total = 0.0;
  };
  Kept keep(std::span<const float> logits);
  int32_t kept_token(const Kept& kept, size_t i) const;
  double kept_prob(const Kept& kept, int32_t token) const;  // normalized; 0 when cut
  int32_t draw(std::span<const float> logits);
  int32_t draw_residual(const Kept& kept, int32_t draft, std::span<const float> draft_probs);
  size_t select_top(std::span<const float> logits, size_t k);

  SamplingParams params_;
  int32_t vocab_size_;
  std::mt19937_64 rng_;
  std::unordered_map<int32_t, int32_t> generated_counts_;
  std::unordered_map<int32_t, int32_t> prompt_seen_;
  std::vector<int32_t> candidates_;  // token ids, best first after select_top
  std::vector<float> probs_;         // probabilities of candidates_
  std::vector<float> raw_logits_;    // copy of the model's logits, for logprobs
};

// Index of the largest logit (ties: lowest id), for greedy decoding without a state.
int32_t argmax(std::span<const float> logits);

}  // namespace mx
