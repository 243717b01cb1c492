// Engine::Impl: the engine thread's state and the step (engine.cpp: public API and loop;
// engine_step.cpp: one schedule → allocate → forward → sample step).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/engine.h"
#include "engine/kv_event_log.h"
#include "engine/sequence.h"

namespace mx {

struct Engine::Impl {
  Impl(Model& m, EngineConfig c, int64_t n_blocks, uint64_t layout_seed);

  // Any thread: the checks of Engine::submit / submit_all (no shared state).
  Status check(const EngineRequest& request) const;
  Status check_group(std::span<const EngineRequest> requests) const;
  int64_t kv_tokens() const { return blocks.n_blocks() * config.block_size; }
  EngineLimits limits() const;
  int64_t max_new_tokens_for(int64_t n_prompt, int64_t n_choices) const {
    return mx::max_new_tokens_for(limits(), n_prompt, n_choices);
  }

  // Engine thread.
  void loop();
  void take_incoming();  // new requests and cancellations, under mutex_
  bool step();           // false when there was nothing to do
  void build_views(std::vector<SequenceView>& running, std::vector<SequenceView>& waiting);
  void apply_preemptions(const Decision& decision);
  void apply_admissions(const Decision& decision);
  bool prepare(const ScheduledSeq& scheduled, Sequence& seq);  // blocks for this step
  void run_batch();                                            // forward over batch_, then sample
  void propose_draft(Sequence& seq);                           // running decode: fills seq.draft
  int64_t draft_room(const Sequence& seq) const;               // most draft tokens it may verify
  // MTP drafter (engine_mtp.cpp). After the step's sampling: brings the MTP layer's KV up to
  // each batch sequence's n_computed and drafts the next step's first token into
  // seq.mtp_draft. In the next step, once schedule() has granted each decode its drafts and
  // prepare() has allocated their blocks: drafts the rest of them (batch_drafts), and cuts the
  // batch to what was drafted.
  void run_mtp();
  Status mtp_catch_up();
  void mtp_extend_drafts();
  Status mtp_extend();
  Status mtp_draft_step();  // one batched MTP forward, one draft token per drafting sequence
  void sample_next(Sequence& seq, float* logits);
  // Verifies seq.draft's first n_draft tokens against rows[0, n_draft], then samples one more
  // token (after a rejection: from the residual; all accepted: from row n_draft); rolls back
  // the KV of rejected drafts.
  void verify_draft(Sequence& seq, float* rows, int64_t n_draft);
  // Appends a token and streams it, or finishes the sequence (stop token, length): false then,
  // and `seq` is gone.
  bool commit_token(Sequence& seq, SampledToken token);
  void release_draft_blocks(Sequence& seq);  // blocks past n_computed
  void release_blocks_past(Sequence& seq, int64_t n_positions);
  // Removes the sequence everywhere and sends its final event.
  void finish(Sequence& seq, StopReason reason, std::string error = {});
  void finish(Sequence& seq, StopReason reason, TokenEvent event);
  void release_blocks(Sequence& seq);
  void publish_full_blocks(Sequence& seq);
  int64_t usable_prefix_blocks(const Sequence& seq) const;
  void emit(Sequence& seq, TokenEvent event);
  void publish_stats();
  // KvStore (engine_kvstore.cpp). False: the sequence waits this step for its prefix to come
  // back from disk. Otherwise counts the ready blocks below as cached in `view`.
  bool consult_store(Sequence& seq, int64_t cached_blocks, SequenceView& view);
  void restore_from_store(Sequence& seq);  // after acquire_cached_prefix, at admission
  void offer_block(BlockId block, BlockHash hash, bool persist);

  Model& model;
  EngineConfig config;
  int64_t max_context;
  KvCacheStorage kv;
  BlockPool blocks;
  KvEventLog kv_events;                   // the prefix cache's changes, for frontends
  std::vector<KvBlockEvent> step_events;  // moved from `blocks` to `kv_events` after each step
  ThreadPool threads;
  std::unique_ptr<KvStore> store;  // null: no tiers below the prefix cache

  // Shared with other threads.
  mutable std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::unique_ptr<Sequence>> incoming;
  std::vector<SeqId> cancels;
  bool stopping = false;
  // Sequences in `incoming` or `waiting`: counted up by submit_all, recounted by publish_stats
  // (admissions lower it, preemptions raise it; between two counts it errs high for new ones).
  int64_t queued = 0;
  SeqId next_id = 1;
  EngineStats stats;  // snapshot, published after each step
  std::thread thread;

  // Engine thread only.
  std::unordered_map<SeqId, std::unique_ptr<Sequence>> sequences;
  std::vector<Sequence*> running;  // admission order
  std::deque<Sequence*> waiting;   // preempted first, then arrival order
  EngineStats totals;
  // The step's views and batch, reused: ForwardBatch views into these.
  std::vector<SequenceView> running_views, waiting_views;
  std::vector<Sequence*> batch_seqs;
  std::vector<int64_t> batch_counts;  // tokens per batch sequence, drafts included
  std::vector<int64_t> batch_drafts;  // of those, draft tokens
  struct SampledSeq {
    Sequence* seq;
    size_t first_row;  // its first row in `logits`
    int64_t n_draft;   // rows after the first: one per draft token
  };
  std::vector<SampledSeq> sampled;
  std::vector<int32_t> batch_tokens, batch_positions, logit_rows;
  std::vector<BatchSequence> batch_slices;
  std::vector<float> logits;
  // --speculative mtp (engine_mtp.cpp): the batch's final hidden rows, where each batch
  // sequence's rows start (its id: it may have finished while sampling), and the drafting state.
  bool mtp = false;
  std::vector<float> hidden;  // [batch tokens, d_model]
  struct MtpSource {
    SeqId id;
    int64_t first_position;  // its n_computed before the step
    int64_t first_row;       // its first row in the batch
  };
  std::vector<MtpSource> mtp_sources;
  struct MtpDrafting {
    Sequence* seq;
    int64_t length;  // draft tokens wanted
    Draft* draft;    // where they go: seq->mtp_draft (catch-up) or seq->draft (extension)
  };
  std::vector<MtpDrafting> mtp_drafting, mtp_drafting_next;
  std::vector<int32_t> mtp_tokens, mtp_positions, mtp_logit_rows;
  std::vector<BatchSequence> mtp_slices;
  std::vector<float> mtp_hidden_in, mtp_hidden_out, mtp_logits;
};

}  // namespace mx
