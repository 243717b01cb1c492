// One engine step: describe the sequences to the Scheduler, apply its Decision to the
// BlockPool, run the batch through the Model once, sample, stream, finish.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/engine_impl.h"

namespace mx {

// Full blocks of the sequence a prefix lookup may return: never the block holding its last
// token, whose logits must be computed.
int64_t Engine::Impl::usable_prefix_blocks(const Sequence& seq) const {
  if (!config.prefix_caching) return 0;
  return std::min<int64_t>((seq.n_tokens() - 1) / config.block_size,
                           static_cast<int64_t>(seq.hashes.size()));
}

void Engine::Impl::build_views(std::vector<SequenceView>& running_views,
                               std::vector<SequenceView>& waiting_views) {
  for (Sequence* seq : running) {
    SequenceView v;
    v.id = seq->id;
    v.n_tokens = seq->n_tokens();
    v.n_computed = seq->n_computed;
    v.n_blocks = static_cast<int64_t>(seq->blocks.size());
    v.n_blocks_shared = blocks.count_shared(seq->blocks);
    running_views.push_back(v);
  }
  for (Sequence* seq : waiting) {
    SequenceView v;
    v.id = seq->id;
    v.n_tokens = seq->n_tokens();
    v.waiting_steps = seq->waiting_steps;
    v.preempted = seq->preempted;
    if (config.prefix_caching) {
      blocks.extend_block_hashes(seq->tokens, seq->hashes);
      int64_t in_use = 0;
      const int64_t cached = blocks.count_cached_prefix(
          std::span(seq->hashes).first(static_cast<size_t>(usable_prefix_blocks(*seq))), &in_use);
      v.cached_blocks_in_use = in_use;
      v.cached_blocks_free = cached - in_use;
      if (store && !consult_store(*seq, cached, v)) continue;  // its prefix is on its way back
    }
    waiting_views.push_back(v);
  }
}

void Engine::Impl::apply_preemptions(const Decision& decision) {
  // Back to the front of the waiting queue, in the decision's order.
  for (auto it = decision.preempted.rbegin(); it != decision.preempted.rend(); ++it) {
    auto found = sequences.find(*it);
    if (found == sequences.end()) continue;
    Sequence& seq = *found->second;
    release_blocks(seq);
    seq.n_computed = 0;
    seq.preempted = true;
    seq.waiting_steps = 0;
    std::erase(running, &seq);
    waiting.push_front(&seq);
    ++totals.preemptions;
  }
}

void Engine::Impl::apply_admissions(const Decision& decision) {
  for (SeqId id : decision.admitted) {
    auto found = sequences.find(id);
    if (found == sequences.end()) continue;
    Sequence& seq = *found->second;
    std::erase(waiting, &seq);
    running.push_back(&seq);
    const int64_t usable = usable_prefix_blocks(seq);
    const int64_t got = blocks.acquire_cached_prefix(
        std::span(seq.hashes).first(static_cast<size_t>(usable)), seq.blocks);
    seq.n_computed = got * config.block_size;
    seq.n_published = got;
    if (store) restore_from_store(seq);
    if (seq.cached_tokens < 0) {
      seq.cached_tokens = std::min(seq.n_computed, seq.n_prompt());
      totals.cached_tokens += seq.cached_tokens;
      totals.prompt_tokens += seq.n_prompt();
    }
  }
}

// Makes the sequence's blocks cover this step's tokens. False: not this step.
bool Engine::Impl::prepare(const ScheduledSeq& scheduled, Sequence& seq) {
  const int64_t n = std::min(scheduled.n_tokens, seq.n_tokens() - seq.n_computed);
  if (n <= 0) return false;
  const int64_t needed = (seq.n_computed + n + config.block_size - 1) / config.block_size;
  const int64_t missing = needed - static_cast<int64_t>(seq.blocks.size());
  const int64_t fresh = std::max(missing, scheduled.n_new_blocks);
  if (fresh > 0 && !blocks.allocate(fresh, seq.blocks)) {
    // The policy's arithmetic and the pool disagree (a bug, or a prefix that changed between
    // view and admission); skip the sequence this step rather than fail it.
    spdlog::warn("engine: sequence {} needs {} KV blocks, {} free; skipped this step", seq.id,
                 fresh, blocks.n_free());
    return false;
  }
  batch_seqs.push_back(&seq);
  batch_counts.push_back(n);
  return true;
}

bool Engine::Impl::step() {
  running_views.clear();
  waiting_views.clear();
  build_views(running_views, waiting_views);
  SchedulerState state{running_views, waiting_views, blocks.n_free()};
  const Decision decision = schedule(state, config.scheduler);
  apply_preemptions(decision);
  apply_admissions(decision);
  batch_seqs.clear();
  batch_counts.clear();
  for (const ScheduledSeq& scheduled : decision.batch) {
    auto found = sequences.find(scheduled.id);
    if (found != sequences.end()) prepare(scheduled, *found->second);
  }
  for (Sequence* seq : waiting) ++seq->waiting_steps;
  if (batch_seqs.empty()) return false;
  run_batch();
  ++totals.steps;
  return true;
}

void Engine::Impl::run_batch() {
  batch_tokens.clear();
  batch_positions.clear();
  batch_slices.clear();
  logit_rows.clear();
  sampled_seqs.clear();
  for (size_t i = 0; i < batch_seqs.size(); ++i) {
    Sequence& seq = *batch_seqs[i];
    const int64_t n = batch_counts[i];
    const int64_t offset = static_cast<int64_t>(batch_tokens.size());
    for (int64_t t = 0; t < n; ++t) {
      batch_tokens.push_back(seq.tokens[static_cast<size_t>(seq.n_computed + t)]);
      batch_positions.push_back(static_cast<int32_t>(seq.n_computed + t));
    }
    batch_slices.push_back({offset, n, seq.blocks.data(), seq.n_computed + n});
    if (seq.n_computed + n == seq.n_tokens()) {
      logit_rows.push_back(static_cast<int32_t>(offset + n - 1));
      sampled_seqs.push_back(&seq);
    }
  }
  const int64_t vocab = model.config().vocab_size;
  logits.resize(logit_rows.size() * static_cast<size_t>(vocab));
  ForwardBatch batch{batch_tokens, batch_positions, batch_slices, logit_rows};
  Status status = model.forward(batch, kv, logits.data(), threads);
  if (!status.ok()) {
    spdlog::error("engine: forward failed: {}", status.error().message);
    for (Sequence* seq : batch_seqs) finish(*seq, StopReason::kError, status.error().message);
    return;
  }
  for (size_t i = 0; i < batch_seqs.size(); ++i) {
    batch_seqs[i]->n_computed += batch_counts[i];
    publish_full_blocks(*batch_seqs[i]);
  }
  for (size_t i = 0; i < sampled_seqs.size(); ++i) {
    sample_next(*sampled_seqs[i], logits.data() + i * static_cast<size_t>(vocab));
  }
}

void Engine::Impl::sample_next(Sequence& seq, float* row) {
  const int64_t vocab = model.config().vocab_size;
  TokenEvent event;
  event.token = seq.sampler.sample(std::span(row, static_cast<size_t>(vocab)));
  const int32_t token = event.token.token;
  seq.sampler.accept(token);
  seq.tokens.push_back(token);
  ++totals.generated_tokens;
  const EngineRequest& r = seq.request;
  const bool is_stop = !r.ignore_eos && std::find(r.stop_token_ids.begin(), r.stop_token_ids.end(),
                                                  token) != r.stop_token_ids.end();
  StopReason reason = StopReason::kNone;
  if (is_stop) {
    reason = StopReason::kStop;
  } else if (seq.n_generated() >= r.max_new_tokens || seq.n_tokens() >= max_context) {
    reason = StopReason::kLength;
  }
  if (reason == StopReason::kNone) {
    emit(seq, std::move(event));
    return;
  }
  event.stop_token = is_stop;
  finish(seq, reason, std::move(event));  // the last token travels with the final event
}

void Engine::Impl::publish_full_blocks(Sequence& seq) {
  if (!config.prefix_caching) return;
  const int64_t full = seq.n_computed / config.block_size;
  if (full <= seq.n_published) return;
  blocks.extend_block_hashes(seq.tokens, seq.hashes);
  for (int64_t b = seq.n_published; b < full; ++b) {
    const BlockId block = seq.blocks[static_cast<size_t>(b)];
    const BlockHash hash = seq.hashes[static_cast<size_t>(b)];
    if (blocks.publish(block, hash) && store) offer_block(block, hash, /*persist=*/true);
  }
  seq.n_published = full;
}

void Engine::Impl::release_blocks(Sequence& seq) {
  if (!seq.blocks.empty()) blocks.release(seq.blocks);
  seq.blocks.clear();
  seq.n_published = 0;
}

}  // namespace mx
