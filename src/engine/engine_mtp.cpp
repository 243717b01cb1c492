// The MTP drafter (--speculative mtp): DeepSeek-V3's nextn module proposes the draft tokens
// that the next step verifies, batched over the step's sequences.
//
// After run_batch has sampled, every batch sequence has new exact positions [first, n_computed):
// its real rows and the draft rows that were accepted, whose main-model hidden states are in
// `hidden`, and the token after each of them is known (prompt or sampled). One mtp_forward over
// all of them (the catch-up) writes the MTP layer's KV there — exact, since it is computed from
// the target's hidden states — and, for each sequence that decodes next, gives the logits of the
// token after its last sampled one: the first draft token. Further draft tokens reuse the module
// on its own output (its pre-norm hidden state plays h, the drafted token plays the next token,
// as vLLM does): one batched mtp_forward per extra token, writing provisional MTP KV at
// positions >= n_computed that the next step's catch-up overwrites. Those positions need KV
// blocks, so the further tokens are drafted only in the next step, after schedule() has granted
// the draft (SequenceView::n_draft is the length wanted; the scheduler cuts it to its budget
// and to the blocks left after decodes, prefill chunks and admissions) and prepare() has
// allocated the blocks for verifying it, which cover every provisional position. So drafting
// takes no block outside the scheduler's decision, holds none across steps, and drafts no token
// that will not be verified.
//
// So the MTP KV of a sequence is exact at every position its own steps computed; positions taken
// from the prefix cache (or the tiers) carry whatever the MTP pass of the sequence that computed
// them wrote, which at a block's last position may have seen a different next token: drafts get
// worse there (acceptance only), the output never changes (verification uses the main model).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/engine_impl.h"

namespace mx {

void Engine::Impl::run_mtp() {
  if (Status status = mtp_catch_up(); !status.ok()) {
    // Drafting is an optimization: a failure costs the drafts, not the requests.
    spdlog::error("engine: MTP drafter failed: {}", status.error().message);
    for (MtpDrafting& d : mtp_drafting) d.seq->mtp_draft.clear();
  }
}

Status Engine::Impl::mtp_catch_up() {
  const int64_t d = model.config().d_model;
  mtp_tokens.clear();
  mtp_positions.clear();
  mtp_slices.clear();
  mtp_logit_rows.clear();
  mtp_hidden_in.clear();
  mtp_drafting.clear();
  for (const MtpSource& source : mtp_sources) {
    auto found = sequences.find(source.id);
    if (found == sequences.end()) continue;  // finished while sampling
    Sequence& seq = *found->second;
    seq.mtp_draft.clear();
    const int64_t n = seq.n_computed - source.first_position;
    if (n <= 0) continue;
    const int64_t offset = static_cast<int64_t>(mtp_tokens.size());
    for (int64_t p = source.first_position; p < seq.n_computed; ++p) {
      mtp_tokens.push_back(seq.tokens[static_cast<size_t>(p + 1)]);
      mtp_positions.push_back(static_cast<int32_t>(p));
    }
    const float* rows = &hidden[static_cast<size_t>(source.first_row * d)];
    mtp_hidden_in.insert(mtp_hidden_in.end(), rows, rows + n * d);
    mtp_slices.push_back({offset, n, seq.blocks.data(), seq.n_computed});
    if (seq.n_tokens() - seq.n_computed != 1) continue;  // a prefill chunk: no draft yet
    const int64_t length = std::min(seq.pacer.next_length(), draft_room(seq));
    if (length <= 0) continue;
    seq.mtp_draft_length = length;
    mtp_logit_rows.push_back(static_cast<int32_t>(offset + n - 1));
    mtp_drafting.push_back({&seq, length, &seq.mtp_draft});
  }
  if (mtp_tokens.empty()) return ok_status();
  return mtp_draft_step();
}

// One mtp_forward over the rows gathered in mtp_tokens / mtp_positions / mtp_slices /
// mtp_hidden_in; logit row i is mtp_drafting[i]'s, whose draft gets one token from it (and
// whose mtp_hidden becomes the module's output row for that token).
Status Engine::Impl::mtp_draft_step() {
  const size_t vocab = static_cast<size_t>(model.config().vocab_size);
  const size_t d = static_cast<size_t>(model.config().d_model);
  mtp_logits.resize(mtp_logit_rows.size() * vocab);
  mtp_hidden_out.resize(mtp_logit_rows.size() * d);
  ForwardBatch batch{mtp_tokens, mtp_positions, mtp_slices, mtp_logit_rows};
  MX_RETURN_IF_ERROR(model.mtp_forward(batch, mtp_hidden_in.data(), kv, mtp_logits.data(),
                                       mtp_hidden_out.data(), threads));
  for (size_t i = 0; i < mtp_drafting.size(); ++i) {
    Sequence& seq = *mtp_drafting[i].seq;
    append_draft_token(std::span<const float>(&mtp_logits[i * vocab], vocab), seq.request.sampling,
                       seq.mtp_rng, *mtp_drafting[i].draft);
    const float* h = &mtp_hidden_out[i * d];
    seq.mtp_hidden.assign(h, h + d);
  }
  return ok_status();
}

void Engine::Impl::mtp_extend_drafts() {
  mtp_drafting.clear();
  for (size_t i = 0; i < batch_seqs.size(); ++i) {
    Sequence& seq = *batch_seqs[i];
    if (batch_drafts[i] > seq.draft.size()) {
      mtp_drafting.push_back({&seq, batch_drafts[i], &seq.draft});
    }
  }
  if (mtp_drafting.empty()) return;
  if (Status status = mtp_extend(); !status.ok()) {
    spdlog::error("engine: MTP drafter failed: {}", status.error().message);
  }
  // Verify what was drafted: all that was granted, unless a forward failed; then the blocks
  // granted for the rest go back at once.
  for (size_t i = 0; i < batch_seqs.size(); ++i) {
    Sequence& seq = *batch_seqs[i];
    const int64_t missing = batch_drafts[i] - std::min(batch_drafts[i], seq.draft.size());
    if (missing == 0) continue;
    batch_drafts[i] -= missing;
    batch_counts[i] -= missing;
    release_blocks_past(seq, seq.n_computed + batch_counts[i]);
  }
}

// Draft token j (j >= 1) of a sequence comes from the module at position n_computed + j - 1,
// fed with the token drafted before it and the module's own output row for that token. The
// position lies inside the blocks prepare() allocated for verifying the draft (positions
// n_computed .. n_computed + length).
Status Engine::Impl::mtp_extend() {
  for (int64_t j = 1;; ++j) {
    std::vector<MtpDrafting>& next = mtp_drafting_next;  // sequences still drafting
    next.clear();
    mtp_tokens.clear();
    mtp_positions.clear();
    mtp_slices.clear();
    mtp_logit_rows.clear();
    mtp_hidden_in.clear();
    for (const MtpDrafting& drafting : mtp_drafting) {
      Sequence& seq = *drafting.seq;
      if (drafting.length <= j || drafting.draft->size() != j) continue;
      const int64_t position = seq.n_computed + j - 1;
      const int64_t row = static_cast<int64_t>(mtp_tokens.size());
      mtp_tokens.push_back(drafting.draft->tokens.back());
      mtp_positions.push_back(static_cast<int32_t>(position));
      mtp_slices.push_back({row, 1, seq.blocks.data(), position + 1});
      mtp_logit_rows.push_back(static_cast<int32_t>(row));
      mtp_hidden_in.insert(mtp_hidden_in.end(), seq.mtp_hidden.begin(), seq.mtp_hidden.end());
      next.push_back(drafting);
    }
    if (next.empty()) return ok_status();
    std::swap(mtp_drafting, next);
    MX_RETURN_IF_ERROR(mtp_draft_step());
  }
}

}  // namespace mx
