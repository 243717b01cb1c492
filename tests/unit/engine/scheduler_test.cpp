// Targeted tests of each scheduling rule on hand-built states. The randomized simulations that
// apply decisions to a real BlockPool are in scheduler_simulation_test.cpp.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <vector>

namespace mx {
namespace {

constexpr int64_t kBlock = 4;

SchedulerConfig small_config() {
  SchedulerConfig config;
  config.max_batch_tokens = 16;
  config.max_running = 4;
  config.block_size = kBlock;
  config.headroom_blocks_per_seq = 1;
  config.aging_steps = 3;
  return config;
}

// A running sequence that has finished its prompt: n_tokens tokens, all but the last computed,
// holding exactly the blocks for the computed ones.
SequenceView decoding(SeqId id, int64_t n_tokens) {
  SequenceView seq;
  seq.id = id;
  seq.n_tokens = n_tokens;
  seq.n_computed = n_tokens - 1;
  seq.n_blocks = (seq.n_computed + kBlock - 1) / kBlock;
  return seq;
}

// A running sequence in its prompt: all its prompt blocks allocated at admission.
SequenceView prefilling(SeqId id, int64_t n_tokens, int64_t n_computed) {
  SequenceView seq;
  seq.id = id;
  seq.n_tokens = n_tokens;
  seq.n_computed = n_computed;
  seq.n_blocks = (n_tokens + kBlock - 1) / kBlock;
  return seq;
}

SequenceView waiting(SeqId id, int64_t n_tokens, int64_t waiting_steps = 0,
                     bool preempted = false) {
  SequenceView seq;
  seq.id = id;
  seq.n_tokens = n_tokens;
  seq.waiting_steps = waiting_steps;
  seq.preempted = preempted;
  return seq;
}

Decision run(const std::vector<SequenceView>& running, const std::vector<SequenceView>& queue,
             int64_t free_blocks, const SchedulerConfig& config = small_config()) {
  SchedulerState state;
  state.running = running;
  state.waiting = queue;
  state.free_blocks = free_blocks;
  return schedule(state, config);
}

// The batch as (id, n_tokens, n_new_blocks) triples, for whole-vector comparisons.
std::vector<std::vector<int64_t>> batch_of(const Decision& decision) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& s : decision.batch) out.push_back({s.id, s.n_tokens, s.n_new_blocks});
  return out;
}

using Rows = std::vector<std::vector<int64_t>>;
using Ids = std::vector<SeqId>;

TEST(SchedulerConfig, DefaultsAreValid) { EXPECT_TRUE(SchedulerConfig{}.validate().ok()); }

TEST(SchedulerConfig, MessagesNameFieldAndRange) {
  struct Case {
    void (*mutate)(SchedulerConfig&);
    const char* message;
  };
  const Case cases[] = {
      {[](SchedulerConfig& c) { c.max_batch_tokens = 0; },
       "max_batch_tokens must be at least 1, got 0"},
      {[](SchedulerConfig& c) { c.max_running = 0; }, "max_running must be at least 1, got 0"},
      {[](SchedulerConfig& c) { c.max_batch_tokens = 8; },
       "max_batch_tokens must be at least max_running (16) so that every running sequence can "
       "decode each step, got 8"},
      {[](SchedulerConfig& c) { c.block_size = -3; }, "block_size must be at least 1, got -3"},
      {[](SchedulerConfig& c) { c.headroom_blocks_per_seq = -1; },
       "headroom_blocks_per_seq must be at least 0, got -1"},
      {[](SchedulerConfig& c) { c.aging_steps = -2; }, "aging_steps must be at least 0, got -2"},
  };
  for (const Case& c : cases) {
    SchedulerConfig config;
    c.mutate(config);
    Status status = config.validate();
    ASSERT_FALSE(status.ok()) << c.message;
    EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(status.error().message, c.message);
  }
  SchedulerConfig edge;
  edge.max_batch_tokens = edge.max_running;  // equal is enough
  edge.headroom_blocks_per_seq = 0;
  edge.aging_steps = 0;
  EXPECT_TRUE(edge.validate().ok());
}

TEST(Scheduler, EmptyStateSchedulesNothing) {
  Decision d = run({}, {}, 10);
  EXPECT_TRUE(d.batch.empty());
  EXPECT_TRUE(d.admitted.empty());
  EXPECT_TRUE(d.preempted.empty());
}

TEST(Scheduler, DecodesComeFirstThenPrefillChunks) {
  // Admission order: a prefill, then two decodes. The decodes still go first in the batch.
  Decision d = run({prefilling(1, 40, 8), decoding(2, 6), decoding(3, 10)}, {}, 10);
  EXPECT_EQ(batch_of(d), (Rows{{2, 1, 0}, {3, 1, 0}, {1, 14, 0}}));
}

TEST(Scheduler, DecodeNeedsBlockOnlyWhenNextPositionDoesNotFit) {
  SequenceView at_boundary = decoding(1, 9);  // computes position 8: needs block 2
  ASSERT_EQ(at_boundary.n_blocks, 2);
  SequenceView inside = decoding(2, 7);  // position 6 fits block 1
  SequenceView already_has = decoding(3, 9);
  already_has.n_blocks = 3;  // e.g. prompt blocks allocated beyond the computed tokens
  Decision d = run({at_boundary, inside, already_has}, {}, 5);
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 1}, {2, 1, 0}, {3, 1, 0}}));
}

TEST(Scheduler, PrefillChunksFillTheBudgetInAdmissionOrder) {
  Decision d = run({decoding(1, 6), prefilling(2, 10, 0), prefilling(3, 30, 4)}, {}, 0);
  // Budget 16: one decode, then 10 for sequence 2, then the remaining 5 for sequence 3.
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 0}, {2, 10, 0}, {3, 5, 0}}));
}

TEST(Scheduler, LastPromptTokenRunsAsADecode) {
  // A prompt with one token left is a one-token step, scheduled with the decodes.
  Decision d = run({prefilling(1, 20, 4), prefilling(2, 12, 11)}, {}, 0);
  EXPECT_EQ(batch_of(d), (Rows{{2, 1, 0}, {1, 15, 0}}));
}

TEST(Scheduler, DecodePreemptsNewestWhenNoBlockIsFree) {
  // All three need a block; one is free. Sequence 3 (newest) is preempted, freeing its blocks.
  Decision d = run({decoding(1, 9), decoding(2, 13), decoding(3, 5)}, {waiting(9, 4)}, 1);
  EXPECT_EQ(d.preempted, (Ids{3}));
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 1}, {2, 1, 1}}));
  EXPECT_TRUE(d.admitted.empty());  // a step that preempts admits nothing
}

TEST(Scheduler, StepThatPreemptsAdmitsNothingEvenWithRoomLeft) {
  SchedulerConfig config = small_config();
  config.headroom_blocks_per_seq = 0;
  // Preempting the 40-token prefill frees 10 blocks; the decode takes one, 9 stay free, and
  // the one-block request would fit — but memory was short this step.
  Decision d = run({decoding(1, 9), prefilling(2, 40, 0)}, {waiting(5, 3)}, 0, config);
  EXPECT_EQ(d.preempted, (Ids{2}));
  EXPECT_TRUE(d.admitted.empty());
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 1}}));
  d = run({decoding(1, 9), prefilling(2, 40, 0)}, {waiting(5, 3)}, 1, config);
  EXPECT_TRUE(d.preempted.empty());
  EXPECT_TRUE(d.admitted.empty());  // 0 free after the decode's block
}

TEST(Scheduler, PreemptsItselfWhenItIsTheNewest) {
  Decision d = run({decoding(1, 6), decoding(2, 9)}, {}, 0);
  EXPECT_EQ(d.preempted, (Ids{2}));
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 0}}));
}

TEST(Scheduler, PreemptsSeveralNewestFirstAndReportsThemOldestFirst) {
  // Sequence 1 needs a block; 2 and 3 each free one block but 3's is shared, so it frees none.
  SequenceView three = decoding(3, 3);
  three.n_blocks_shared = 1;
  SequenceView two = prefilling(2, 4, 0);
  Decision d = run({decoding(1, 9), two, three}, {}, 0);
  EXPECT_EQ(d.preempted, (Ids{2, 3}));
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 1}}));
}

TEST(Scheduler, PreemptionCanTakeARunningPrefill) {
  // The newest running sequence is still in its prompt: it is the victim.
  Decision d = run({decoding(1, 9), prefilling(2, 20, 4)}, {}, 0);
  EXPECT_EQ(d.preempted, (Ids{2}));
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 1}}));
}

TEST(Scheduler, AdmissionNeedsWholePromptPlusHeadroomPerRunningSequence) {
  // Prompt of 10 tokens = 3 blocks; two running sequences → 2 headroom blocks.
  const std::vector<SequenceView> running = {decoding(1, 6), decoding(2, 7)};
  Decision d = run(running, {waiting(5, 10)}, 4);
  EXPECT_TRUE(d.admitted.empty());
  d = run(running, {waiting(5, 10)}, 5);
  EXPECT_EQ(d.admitted, (Ids{5}));
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 0}, {2, 1, 0}, {5, 10, 3}}));
}

TEST(Scheduler, NoHeadroomNeededWhenNothingRuns) {
  Decision d = run({}, {waiting(5, 12)}, 3);  // exactly the prompt's 3 blocks
  EXPECT_EQ(d.admitted, (Ids{5}));
  EXPECT_EQ(batch_of(d), (Rows{{5, 12, 3}}));
}

TEST(Scheduler, AdmittedSequencesCountForLaterHeadroom) {
  // Two one-block prompts, 2 free: the first needs 1; the second 1 + 1 headroom for the first.
  Decision d = run({}, {waiting(5, 3), waiting(6, 3)}, 2);
  EXPECT_EQ(d.admitted, (Ids{5}));
  d = run({}, {waiting(5, 3), waiting(6, 3)}, 3);
  EXPECT_EQ(d.admitted, (Ids{5, 6}));
}

TEST(Scheduler, CachedPrefixInUseIsFreeCachedFreeCostsABlock) {
  // 14 tokens = 4 blocks; block 0 shared with a running sequence, block 1 in the LRU.
  SequenceView seq = waiting(5, 14);
  seq.cached_blocks_in_use = 1;
  seq.cached_blocks_free = 1;
  Decision d = run({}, {seq}, 2);
  EXPECT_TRUE(d.admitted.empty());  // needs 3 free blocks: the cached-free one + 2 fresh
  d = run({}, {seq}, 3);
  EXPECT_EQ(d.admitted, (Ids{5}));
  // 8 tokens cached: computes the other 6, allocates 2 fresh blocks.
  EXPECT_EQ(batch_of(d), (Rows{{5, 6, 2}}));
}

TEST(Scheduler, CachedPrefixNeverCoversTheLastToken) {
  SequenceView seq = waiting(5, 8);
  seq.cached_blocks_in_use = 2;  // a wrong view: the whole prompt
  Decision d = run({}, {seq}, 1);
  EXPECT_EQ(batch_of(d), (Rows{{5, 4, 1}}));  // the last block is computed again
}

TEST(Scheduler, AdmittedPromptIsChunkedByTheBudgetButFullyAllocated) {
  Decision d = run({decoding(1, 6)}, {waiting(5, 40)}, 20);
  EXPECT_EQ(d.admitted, (Ids{5}));
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 0}, {5, 15, 10}}));
}

TEST(Scheduler, NoAdmissionWithoutBudget) {
  Decision d = run({prefilling(1, 40, 0)}, {waiting(5, 2)}, 50);
  EXPECT_EQ(batch_of(d), (Rows{{1, 16, 0}}));
  EXPECT_TRUE(d.admitted.empty());
  // One token of budget left is enough to start.
  d = run({prefilling(1, 15, 0)}, {waiting(5, 2)}, 50);
  EXPECT_EQ(batch_of(d), (Rows{{1, 15, 0}, {5, 1, 1}}));
}

TEST(Scheduler, MaxRunningCapsAdmission) {
  SchedulerConfig config = small_config();
  config.max_running = 3;
  Decision d = run({decoding(1, 6)}, {waiting(5, 2), waiting(6, 2), waiting(7, 2)}, 50, config);
  EXPECT_EQ(d.admitted, (Ids{5, 6}));
}

TEST(Scheduler, PreemptedSequencesAreAdmittedBeforeNewOnes) {
  Decision d = run({}, {waiting(7, 4, 0, true), waiting(8, 4, 0, true), waiting(3, 4)}, 50);
  EXPECT_EQ(d.admitted, (Ids{7, 8, 3}));
}

TEST(Scheduler, PreemptedSequenceThatDoesNotFitBlocksEveryoneBehind) {
  // The preempted sequence needs 5 blocks (20 tokens), only 3 are free; the small new one
  // behind it would fit but must wait.
  Decision d = run({}, {waiting(7, 20, 0, true), waiting(3, 2)}, 3);
  EXPECT_TRUE(d.admitted.empty());
  EXPECT_TRUE(d.batch.empty());
}

TEST(Scheduler, YoungBigSequenceIsPassedOverByASmallOne) {
  SchedulerConfig config = small_config();  // aging_steps 3
  Decision d = run({}, {waiting(1, 40, 2), waiting(2, 4), waiting(3, 4)}, 3, config);
  EXPECT_EQ(d.admitted, (Ids{2, 3}));
}

TEST(Scheduler, AgedSequenceBlocksEveryoneBehindUntilItFits) {
  SchedulerConfig config = small_config();  // aging_steps 3
  Decision d = run({}, {waiting(1, 40, 3), waiting(2, 4), waiting(3, 4)}, 3, config);
  EXPECT_TRUE(d.admitted.empty());
  // Sequences ahead of the aged one are still admitted.
  d = run({}, {waiting(2, 4), waiting(1, 40, 3), waiting(3, 4)}, 3, config);
  EXPECT_EQ(d.admitted, (Ids{2}));
  // Once it fits it goes first.
  d = run({}, {waiting(1, 40, 9), waiting(2, 4)}, 12, config);
  EXPECT_EQ(d.admitted, (Ids{1}));
}

TEST(Scheduler, AgingZeroIsStrictFirstComeFirstServed) {
  SchedulerConfig config = small_config();
  config.aging_steps = 0;
  Decision d = run({}, {waiting(1, 40), waiting(2, 4)}, 3, config);
  EXPECT_TRUE(d.admitted.empty());
}

TEST(Scheduler, SharedBlocksOfVictimDoNotCountAsFreed) {
  // Sequence 2 holds 3 blocks, all shared: preempting it frees nothing, so sequence 1 (which
  // needs a block) ends up preempting itself too — never an allocation beyond the free blocks.
  SequenceView two = decoding(2, 10);
  two.n_blocks_shared = two.n_blocks;
  Decision d = run({decoding(1, 9), two}, {}, 0);
  EXPECT_EQ(d.preempted, (Ids{1, 2}));
  EXPECT_TRUE(d.batch.empty());
}

// Speculative drafts (SequenceView::n_draft → ScheduledSeq::n_draft).

SequenceView drafting(SeqId id, int64_t n_tokens, int64_t n_draft) {
  SequenceView seq = decoding(id, n_tokens);
  seq.n_draft = n_draft;
  return seq;
}

std::vector<int64_t> drafts_of(const Decision& decision) {
  std::vector<int64_t> out;
  for (const auto& s : decision.batch) out.push_back(s.n_draft);
  return out;
}

TEST(SchedulerDrafts, DecodeVerifiesItsDraftInTheSameEntry) {
  // n_computed 5 of 6 tokens, 2 blocks (positions 0..7); 1 + 4 tokens reach position 9.
  Decision d = run({drafting(1, 6, 4), decoding(2, 6)}, {}, 5);
  EXPECT_EQ(batch_of(d), (Rows{{1, 5, 1}, {2, 1, 0}}));
  EXPECT_EQ(drafts_of(d), (std::vector<int64_t>{4, 0}));
}

TEST(SchedulerDrafts, PrefillChunksAndAdmissionsGoBeforeDrafts) {
  // Budget 16: two decodes, a 12-token prefill chunk; 2 tokens are left for drafts.
  Decision d = run({drafting(1, 6, 4), drafting(2, 6, 4), prefilling(3, 40, 28)}, {}, 10);
  EXPECT_EQ(batch_of(d), (Rows{{1, 3, 0}, {2, 1, 0}, {3, 12, 0}}));
  EXPECT_EQ(drafts_of(d), (std::vector<int64_t>{2, 0, 0}));
  // An admission takes the rest of the budget: no drafts at all.
  d = run({drafting(1, 6, 4)}, {waiting(5, 30)}, 20);
  EXPECT_EQ(d.admitted, (Ids{5}));
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 0}, {5, 15, 8}}));
}

TEST(SchedulerDrafts, DraftsAreCutToFreeBlocksAndNeverPreempt) {
  // decoding(1, 4): position 3 fits block 0. Drafts: 4 need 1 more block, 6 need 2.
  Decision d = run({drafting(1, 4, 6), decoding(2, 4)}, {}, 0);
  EXPECT_TRUE(d.preempted.empty());
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 0}, {2, 1, 0}}));
  d = run({drafting(1, 4, 6), decoding(2, 4)}, {}, 1);
  EXPECT_EQ(batch_of(d), (Rows{{1, 5, 1}, {2, 1, 0}}));
  EXPECT_EQ(drafts_of(d), (std::vector<int64_t>{4, 0}));
}

TEST(SchedulerDrafts, StepThatPreemptsVerifiesNoDrafts) {
  // Sequence 1 needs a block (position 8) and none is free: sequence 2 is preempted.
  Decision d = run({drafting(1, 9, 4), drafting(2, 6, 4)}, {}, 0);
  EXPECT_EQ(d.preempted, (Ids{2}));
  EXPECT_EQ(batch_of(d), (Rows{{1, 1, 1}}));
  EXPECT_EQ(drafts_of(d), (std::vector<int64_t>{0}));
}

TEST(SchedulerDrafts, DraftsShareTheBudgetOldestFirst) {
  SchedulerConfig config = small_config();
  config.max_batch_tokens = 8;
  Decision d = run({drafting(1, 6, 4), drafting(2, 6, 4), drafting(3, 6, 4)}, {}, 10, config);
  // 3 decode tokens, then 5 left: 4 for the oldest, 1 for the next.
  EXPECT_EQ(drafts_of(d), (std::vector<int64_t>{4, 1, 0}));
  int64_t total = 0;
  for (const auto& s : d.batch) total += s.n_tokens;
  EXPECT_EQ(total, 8);
}

}  // namespace
}  // namespace mx
