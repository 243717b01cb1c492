// Drafter: proposes draft tokens for speculative decoding. The engine verifies a sequence's
// draft inside the step's one batched forward (its last token + the draft, logits for every
// row) and keeps the longest prefix the target model agrees with (SamplerState::verify), so the
// output distribution is the target's whatever the drafter proposes: a drafter only changes
// how many tokens one step yields.
//
// A Draft is tokens plus, optionally, the draft distribution q each token was drawn from. A
// deterministic drafter (n-gram lookup) leaves q empty: it is one-hot at the token. A
// model-based drafter (DeepSeek's MTP layers) fills one q row per token, and verification
// accepts with min(1, p/q) and resamples from max(0, p - q).
//
// n-gram drafts come from a per-sequence Drafter; MTP drafts (DeepSeek's nextn layers) from the
// engine itself (engine_mtp.cpp), batched over the step's sequences after sampling, since they
// need the target model's hidden states and a forward of their own.
//
// One Drafter per sequence (it may index that sequence's tokens); engine thread only. Tokens
// passed to propose() are the sequence's accepted tokens (prompt + generated) and only grow
// from one call to the next (drafts that were rejected never enter them).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/sampler.h"

namespace mx {

enum class SpeculativeMethod { kNone, kNgram, kMtp };

struct SpeculativeConfig {
  SpeculativeMethod method = SpeculativeMethod::kNone;
  int64_t draft_tokens = 4;  // k: most draft tokens verified per sequence and step
  int64_t ngram_min = 2;     // shortest suffix the n-gram drafter matches
  int64_t ngram_max = 4;     // longest suffix it tries first

  bool enabled() const { return method != SpeculativeMethod::kNone && draft_tokens > 0; }
  // Messages name the flag and the allowed range.
  Status validate() const;
};

// "none" / "ngram" / "mtp" (the --speculative values).
Result<SpeculativeMethod> parse_speculative_method(const std::string& name);
const char* speculative_method_name(SpeculativeMethod method);

struct Draft {
  std::vector<int32_t> tokens;  // proposed continuation, in order
  // Empty: one-hot draft distributions (deterministic drafter). Else [tokens.size(), vocab],
  // row i the distribution tokens[i] was drawn from.
  std::vector<float> probs;

  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  void clear() {
    tokens.clear();
    probs.clear();
  }
};

class Drafter {
 public:
  virtual ~Drafter() = default;
  // Replaces `draft` with at most max_tokens tokens that may follow `tokens`; none is fine.
  virtual void propose(std::span<const int32_t> tokens, int64_t max_tokens, Draft& draft) = 0;
};

// Prompt lookup: finds the most recent earlier occurrence of the sequence's last n tokens (n
// from ngram_max down to ngram_min) and proposes the tokens that followed it. The continuation
// may run into the suffix itself (a loop of period p proposes the loop again, up to k tokens).
// Every n-gram of the sequence is indexed once, as it appears (an open-addressing table of
// end positions that grows like a vector), so a lookup costs O(ngram_max) whatever the length
// of the context, and steady-state drafting allocates nothing.
class NgramDrafter final : public Drafter {
 public:
  NgramDrafter(int64_t ngram_min, int64_t ngram_max);
  void propose(std::span<const int32_t> tokens, int64_t max_tokens, Draft& draft) override;

 private:
  // Index of n-grams ending at positions (exclusive) <= end; `end` only grows.
  void index_until(std::span<const int32_t> tokens, int64_t end);
  void insert(uint64_t key, int32_t end);
  int32_t find(uint64_t key) const;  // latest indexed end position, -1 when absent
  void grow();
  static uint64_t key_of(std::span<const int32_t> gram);

  int64_t ngram_min_;
  int64_t ngram_max_;
  int64_t indexed_end_ = 0;     // n-grams ending at <= this are in the table
  std::vector<uint64_t> keys_;  // [capacity], 0 = empty slot
  std::vector<int32_t> ends_;   // [capacity], end position (exclusive) of the latest match
  int64_t used_ = 0;
};

// How many draft tokens one sequence proposes, from how its recent drafts fared. On a CPU a
// verification row costs about half a decode step (the weights are read once per step, but
// every row is computed), so drafts that keep failing cost more than they give: after a
// rejection the next draft is one token longer than what was accepted, a fully accepted draft
// grows by one (up to the maximum), and a draft of which nothing was accepted pauses drafting
// for 1, 2, 4, ... 16 steps (reset by any acceptance). Pacing changes only the amount of
// verification work, never the output.
class DraftPacer {
 public:
  explicit DraftPacer(int64_t max_tokens) : max_tokens_(max_tokens), length_(max_tokens) {}
  // Draft length for this step (0: do not draft); call once per decode step.
  int64_t next_length();
  // The outcome of a verification: `drafted` tokens verified, the first `accepted` kept.
  void record(int64_t drafted, int64_t accepted);

 private:
  static constexpr int64_t kMaxPause = 16;
  int64_t max_tokens_;
  int64_t length_;
  int64_t pause_ = 0;    // steps left without drafting
  int64_t backoff_ = 0;  // length of the next pause
};

// Appends one token drawn from a draft model's logits (the MTP head's) to `draft`, with the
// sequence's sampling params: logits + logit_bias, then greedy (temperature 0): the argmax, and
// draft.probs stays empty (one-hot q, verified by "is it the target's argmax"); otherwise
// q = softmax(logits / T), restricted to the top_k most likely tokens when top_k is set, the
// token is drawn from q with `rng`, and q is appended as the token's row of draft.probs.
// Verification keeps the target distribution exactly whatever q is; the closer q follows the
// target's chain the more is accepted (penalties, top-p and min-p are left out: cheap enough
// to skip, and q stays a plain softmax).
void append_draft_token(std::span<const float> logits, const SamplingParams& params,
                        std::mt19937_64& rng, Draft& draft);

// The drafter of `config.method` for one new sequence; nullptr when speculation is off or the
// engine drafts itself (kMtp).
std::unique_ptr<Drafter> make_drafter(const SpeculativeConfig& config);

}  // namespace mx
