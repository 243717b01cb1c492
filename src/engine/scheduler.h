// Scheduler: pure policy. Each engine step the engine describes its sequences and the free KV
// blocks (SchedulerState); schedule() decides what runs (Decision). No model, no I/O, no block
// pool: the engine applies the decision (engine.cpp), and the policy is tested on its own.
//
// Policy, in order of priority each step:
//   1. Decode first: every running sequence that has finished its prompt (n_tokens - n_computed
//      == 1) computes its one new token. One that needs a new block when none is free preempts
//      the running sequence of lowest priority (the most recently admitted; possibly itself):
//      preemption by recompute — all its blocks are released and it goes back to the front of
//      the waiting queue. Decodes always fit the token budget (validate() requires
//      max_batch_tokens >= max_running).
//   2. Running sequences still in their prompt (chunked prefill) continue, in admission order,
//      with chunks that fill the rest of the per-step token budget.
//   3. Admission: waiting sequences — preempted ones first, then first come first served — are
//      admitted while the running set is below max_running, budget is left, and the free blocks
//      cover the whole remaining prompt (all of its blocks are allocated at admission, so later
//      chunks never run out) plus a headroom of headroom_blocks_per_seq for every sequence
//      already running (so decodes rarely preempt; with none running a sequence needs no
//      headroom, so one that fits the pool alone is never stuck). Cached prefix blocks count as
//      computed tokens: a cached block in use by others costs nothing, a cached-free one costs
//      one free block. A sequence that does not fit may be passed over by smaller ones behind
//      it, but once it has waited aging_steps steps nothing behind it is admitted until it fits
//      (no starvation). A preempted sequence is never passed over (preempted sequences resume
//      before anything newer), and a step that preempts admits nothing (memory is short).
//   4. Speculative drafts: a decode whose drafter proposed n_draft tokens verifies up to that
//      many more tokens in the same forward (ScheduledSeq::n_draft), from the budget and the
//      free blocks left after everything above — drafts never take budget or blocks from a
//      prefill chunk or an admission, never preempt, and a step that preempts verifies none.
//      Their blocks are allocated like any token's; the engine releases those of rejected
//      drafts after the step, so they hold no memory across steps.
// Cancellation is not the policy's business: the engine drops a cancelled sequence and
// releases its blocks before the next schedule().
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace mx {

using SeqId = int64_t;

struct SchedulerConfig {
  int64_t max_batch_tokens = 512;       // tokens computed per step: decodes + prefill chunks
  int64_t max_running = 16;             // sequences in the running set (--max-seqs)
  int64_t block_size = 32;              // tokens per KV block
  int64_t headroom_blocks_per_seq = 1;  // free blocks kept per running sequence at admission
  int64_t aging_steps = 64;             // waiting this long blocks everyone behind it

  // Messages name the field and the allowed range.
  Status validate() const;
};

// What the policy sees of one sequence.
struct SequenceView {
  SeqId id = 0;
  int64_t n_tokens = 0;    // tokens it has: prompt + generated so far
  int64_t n_computed = 0;  // running: tokens whose KV is written (decode: n_tokens - 1)
  int64_t n_blocks = 0;    // running: blocks it holds
  // Running: of n_blocks, those another sequence also holds (shared prefix blocks); releasing
  // the sequence does not free them, so preempting it frees only n_blocks - n_blocks_shared
  // (BlockPool::count_shared of its table; 0 treats every block as freed).
  int64_t n_blocks_shared = 0;
  // Waiting only: the cached prefix a lookup would give, in full blocks (never covering the
  // last token, which must be computed for its logits).
  int64_t cached_blocks_in_use = 0;  // referenced by running sequences: free to share
  int64_t cached_blocks_free = 0;    // in the LRU: each takes one free block, no compute
  int64_t waiting_steps = 0;         // waiting only: steps since it (re-)entered the queue
  int64_t n_draft = 0;               // running decodes: draft tokens proposed for this step
  bool preempted = false;            // waiting only: was running; resumes before new ones
};

struct SchedulerState {
  std::span<const SequenceView> running;  // in admission order (oldest first)
  std::span<const SequenceView> waiting;  // preempted first, then arrival order
  int64_t free_blocks = 0;                // BlockPool::n_free() (cached-free included)
};

struct ScheduledSeq {
  SeqId id = 0;
  // Tokens to compute this step, from its n_computed on (admitted: after its cached prefix).
  int64_t n_tokens = 0;
  // Fresh blocks to allocate first (beyond cached prefix blocks). For an admitted sequence
  // they cover its whole prompt, not only this step's chunk.
  int64_t n_new_blocks = 0;
  // Of n_tokens, draft tokens to verify after the sequence's one real token (decodes only).
  int64_t n_draft = 0;
};

struct Decision {
  // running → front of waiting, in admission order (the oldest ends up first in the queue);
  // release all their blocks.
  std::vector<SeqId> preempted;
  // waiting → running (appended in this order): acquire the cached prefix first.
  std::vector<SeqId> admitted;
  // Decodes first (in running order), then prefill chunks of running sequences, then those of
  // admitted ones. Sum of n_tokens (drafts included) <= max_batch_tokens; every n_tokens >= 1.
  std::vector<ScheduledSeq> batch;
};

// Apply in this order: release preempted, acquire admitted prefixes, allocate, run. Acquiring
// every admitted prefix before any allocation keeps those cached-free blocks from being evicted
// by this step's allocations, so the prefixes are as long as the views said.
Decision schedule(const SchedulerState& state, const SchedulerConfig& config);

}  // namespace mx
