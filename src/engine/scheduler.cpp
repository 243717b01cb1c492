#include "engine/scheduler.h"

#include <algorithm>
#include <utility>

namespace mx {

Status SchedulerConfig::validate() const {
  if (max_batch_tokens < 1) {
    return make_error(ErrorCode::kInvalidArgument, "max_batch_tokens must be at least 1, got {}",
                      max_batch_tokens);
  }
  if (max_running < 1) {
    return make_error(ErrorCode::kInvalidArgument, "max_running must be at least 1, got {}",
                      max_running);
  }
  if (max_batch_tokens < max_running) {
    return make_error(ErrorCode::kInvalidArgument,
                      "max_batch_tokens must be at least max_running ({}) so that every running "
                      "sequence can decode each step, got {}",
                      max_running, max_batch_tokens);
  }
  if (block_size < 1) {
    return make_error(ErrorCode::kInvalidArgument, "block_size must be at least 1, got {}",
                      block_size);
  }
  if (headroom_blocks_per_seq < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "headroom_blocks_per_seq must be at least 0, got {}",
                      headroom_blocks_per_seq);
  }
  if (aging_steps < 0) {
    return make_error(ErrorCode::kInvalidArgument, "aging_steps must be at least 0, got {}",
                      aging_steps);
  }
  return ok_status();
}

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool is_decode(const SequenceView& seq) { return seq.n_tokens - seq.n_computed == 1; }

// Fresh blocks a running sequence needs to hold positions [0, n_computed + n_tokens).
int64_t blocks_needed(const SequenceView& seq, int64_t n_tokens, int64_t block_size) {
  return std::max<int64_t>(0, ceil_div(seq.n_computed + n_tokens, block_size) - seq.n_blocks);
}

// The working state of one schedule() call.
struct Step {
  const SchedulerConfig& config;
  const SchedulerState& state;
  std::vector<bool> preempted;  // [state.running.size()]
  size_t victim_cursor;         // running[victim_cursor - 1] is the next preemption victim
  int64_t n_running;            // running, not preempted, plus admitted
  int64_t free_blocks;          // free after this step's releases and allocations so far
  int64_t budget;               // tokens left this step
  Decision decision;
  std::vector<std::pair<size_t, size_t>> decodes;  // (decision.batch index, running index)
};

// Preempts the most recently admitted running sequence not yet preempted. Victims are taken
// from the back, and decodes are scheduled from the front, so a victim is never one that was
// already scheduled this step (except the caller itself, which then drops out).
void preempt_newest(Step& step) {
  const size_t victim = --step.victim_cursor;
  const SequenceView& seq = step.state.running[victim];
  step.preempted[victim] = true;
  step.free_blocks += std::max<int64_t>(0, seq.n_blocks - seq.n_blocks_shared);
  --step.n_running;
  step.decision.preempted.push_back(seq.id);
}

void schedule_decodes(Step& step) {
  const auto& running = step.state.running;
  for (size_t i = 0; i < running.size(); ++i) {
    if (step.preempted[i] || !is_decode(running[i])) continue;
    const int64_t need = blocks_needed(running[i], 1, step.config.block_size);
    while (need > step.free_blocks && !step.preempted[i]) preempt_newest(step);
    if (step.preempted[i]) continue;
    step.free_blocks -= need;
    step.budget -= 1;
    step.decodes.emplace_back(step.decision.batch.size(), i);
    step.decision.batch.push_back({running[i].id, 1, need, 0});
  }
}

// Running sequences in their prompt hold all its blocks (allocated at admission); should one
// not, its chunk is cut to what its blocks plus the free ones can hold.
void schedule_prefill_chunks(Step& step) {
  const auto& running = step.state.running;
  const int64_t block_size = step.config.block_size;
  for (size_t i = 0; i < running.size() && step.budget > 0; ++i) {
    const SequenceView& seq = running[i];
    if (step.preempted[i] || is_decode(seq)) continue;
    int64_t chunk = std::min(seq.n_tokens - seq.n_computed, step.budget);
    chunk = std::min(chunk, (seq.n_blocks + step.free_blocks) * block_size - seq.n_computed);
    if (chunk <= 0) continue;
    const int64_t need = blocks_needed(seq, chunk, block_size);
    step.free_blocks -= need;
    step.budget -= chunk;
    step.decision.batch.push_back({seq.id, chunk, need, 0});
  }
}

// What admitting a waiting sequence takes.
struct AdmissionCost {
  int64_t free_blocks = 0;    // cached-free prefix blocks + fresh blocks
  int64_t fresh_blocks = 0;   // allocated after the prefix is acquired
  int64_t cached_tokens = 0;  // computed already: the cached prefix
};

AdmissionCost admission_cost(const SequenceView& seq, int64_t block_size) {
  const int64_t total_blocks = ceil_div(seq.n_tokens, block_size);
  // The last token is always computed (its logits are needed), so the prefix never covers it.
  const int64_t max_cached = (seq.n_tokens - 1) / block_size;
  const int64_t cached =
      std::clamp<int64_t>(seq.cached_blocks_in_use + seq.cached_blocks_free, 0, max_cached);
  const int64_t in_use = std::clamp<int64_t>(seq.cached_blocks_in_use, 0, cached);
  AdmissionCost cost;
  cost.fresh_blocks = total_blocks - cached;
  cost.free_blocks = total_blocks - in_use;
  cost.cached_tokens = cached * block_size;
  return cost;
}

void admit_waiting(Step& step) {
  const SchedulerConfig& config = step.config;
  for (const SequenceView& seq : step.state.waiting) {
    if (step.n_running >= config.max_running || step.budget <= 0) break;
    const AdmissionCost cost = admission_cost(seq, config.block_size);
    const int64_t headroom = config.headroom_blocks_per_seq * step.n_running;
    if (cost.free_blocks + headroom > step.free_blocks) {
      // Preempted and aged sequences hold their place: nothing behind them goes first.
      if (seq.preempted || seq.waiting_steps >= config.aging_steps) break;
      continue;
    }
    const int64_t chunk = std::min(seq.n_tokens - cost.cached_tokens, step.budget);
    step.free_blocks -= cost.free_blocks;
    step.budget -= chunk;
    ++step.n_running;
    step.decision.admitted.push_back(seq.id);
    step.decision.batch.push_back({seq.id, chunk, cost.fresh_blocks, 0});
  }
}

// Extends decodes with their drafts, oldest first, while budget and free blocks last.
void schedule_drafts(Step& step) {
  const int64_t block_size = step.config.block_size;
  for (const auto& [batch_index, running_index] : step.decodes) {
    if (step.budget <= 0) break;
    const SequenceView& seq = step.state.running[running_index];
    ScheduledSeq& scheduled = step.decision.batch[batch_index];
    int64_t n_draft = std::min(seq.n_draft, step.budget);
    int64_t need = blocks_needed(seq, 1 + n_draft, block_size);
    while (n_draft > 0 && need - scheduled.n_new_blocks > step.free_blocks) {
      need = blocks_needed(seq, 1 + --n_draft, block_size);
    }
    if (n_draft <= 0) continue;
    step.free_blocks -= need - scheduled.n_new_blocks;
    step.budget -= n_draft;
    scheduled.n_tokens += n_draft;
    scheduled.n_draft = n_draft;
    scheduled.n_new_blocks = need;
  }
}

}  // namespace

Decision schedule(const SchedulerState& state, const SchedulerConfig& config) {
  Step step{config,
            state,
            std::vector<bool>(state.running.size(), false),
            state.running.size(),
            static_cast<int64_t>(state.running.size()),
            state.free_blocks,
            config.max_batch_tokens,
            {},
            {}};
  schedule_decodes(step);
  schedule_prefill_chunks(step);
  if (step.decision.preempted.empty()) {
    admit_waiting(step);
    schedule_drafts(step);
  }
  // Victims were taken newest first; the waiting queue wants the oldest admission first.
  std::reverse(step.decision.preempted.begin(), step.decision.preempted.end());
  return std::move(step.decision);
}

}  // namespace mx
