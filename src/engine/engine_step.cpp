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
    seq->draft.clear();
    seq->draft_wanted = 0;
    if (v.n_tokens - v.n_computed == 1 && (seq->drafter || mtp)) {
      if (seq->drafter) {
        propose_draft(*seq);
        seq->draft_wanted = seq->draft.size();
      } else {
        // Its first token was drafted after the last step's sampling; the rest, up to what the
        // scheduler grants, after schedule() (mtp_extend_drafts).
        std::swap(seq->draft, seq->mtp_draft);
        seq->mtp_draft.clear();
        seq->draft_wanted = seq->draft.size() > 0 ? seq->mtp_draft_length : 0;
      }
      v.n_draft = seq->draft_wanted;
      totals.spec_proposed_tokens += v.n_draft;
    }
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
    seq.mtp_draft.clear();
    seq.sampler.release_buffers();  // a waiting sequence holds no vocabulary-sized buffers
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

// Drafts never run past max_new_tokens or the context: the token sampled after them must fit
// too, so a sequence one token from its end drafts nothing.
int64_t Engine::Impl::draft_room(const Sequence& seq) const {
  return std::min(seq.request.max_new_tokens - seq.n_generated(), max_context - seq.n_tokens()) - 1;
}

void Engine::Impl::propose_draft(Sequence& seq) {
  const int64_t k = std::min(seq.pacer.next_length(), draft_room(seq));
  if (k > 0) seq.drafter->propose(seq.tokens, k, seq.draft);
}

// Makes the sequence's blocks cover this step's tokens. False: not this step.
bool Engine::Impl::prepare(const ScheduledSeq& scheduled, Sequence& seq) {
  const int64_t n_draft = std::min(scheduled.n_draft, seq.draft_wanted);
  const int64_t n =
      std::min(scheduled.n_tokens - scheduled.n_draft, seq.n_tokens() - seq.n_computed) + n_draft;
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
  batch_drafts.push_back(n_draft);
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
  batch_drafts.clear();
  for (const ScheduledSeq& scheduled : decision.batch) {
    auto found = sequences.find(scheduled.id);
    if (found != sequences.end()) prepare(scheduled, *found->second);
  }
  for (Sequence* seq : waiting) ++seq->waiting_steps;
  if (batch_seqs.empty()) return false;
  if (mtp) mtp_extend_drafts();  // inside the blocks just allocated for verifying them
  run_batch();
  ++totals.steps;
  return true;
}

void Engine::Impl::run_batch() {
  batch_tokens.clear();
  batch_positions.clear();
  batch_slices.clear();
  logit_rows.clear();
  sampled.clear();
  mtp_sources.clear();
  for (size_t i = 0; i < batch_seqs.size(); ++i) {
    Sequence& seq = *batch_seqs[i];
    const int64_t n = batch_counts[i];
    const int64_t n_draft = batch_drafts[i];
    const int64_t offset = static_cast<int64_t>(batch_tokens.size());
    if (mtp) mtp_sources.push_back({seq.id, seq.n_computed, offset});
    for (int64_t t = 0; t < n; ++t) {
      const int64_t real = n - n_draft;  // tokens of seq.tokens, then the draft's
      batch_tokens.push_back(t < real ? seq.tokens[static_cast<size_t>(seq.n_computed + t)]
                                      : seq.draft.tokens[static_cast<size_t>(t - real)]);
      batch_positions.push_back(static_cast<int32_t>(seq.n_computed + t));
    }
    batch_slices.push_back({offset, n, seq.blocks.data(), seq.n_computed + n});
    if (seq.n_computed + n - n_draft == seq.n_tokens()) {
      // Logits of the last real token and of every draft token (each verifies the next).
      sampled.push_back({&seq, logit_rows.size(), n_draft});
      for (int64_t t = n - n_draft - 1; t < n; ++t) {
        logit_rows.push_back(static_cast<int32_t>(offset + t));
      }
    }
  }
  const int64_t vocab = model.config().vocab_size;
  logits.resize(logit_rows.size() * static_cast<size_t>(vocab));
  ForwardBatch batch{batch_tokens, batch_positions, batch_slices, logit_rows};
  if (mtp) {
    hidden.resize(batch_tokens.size() * static_cast<size_t>(model.config().d_model));
    batch.hidden_out = hidden.data();
  }
  Status status = model.forward(batch, kv, logits.data(), threads);
  if (!status.ok()) {
    spdlog::error("engine: forward failed: {}", status.error().message);
    for (Sequence* seq : batch_seqs) finish(*seq, StopReason::kError, status.error().message);
    return;
  }
  // Only real tokens count as computed (and may be published); drafts become real as they
  // are accepted.
  for (size_t i = 0; i < batch_seqs.size(); ++i) {
    batch_seqs[i]->n_computed += batch_counts[i] - batch_drafts[i];
    publish_full_blocks(*batch_seqs[i]);
  }
  for (const SampledSeq& s : sampled) {
    float* rows = logits.data() + s.first_row * static_cast<size_t>(vocab);
    ++totals.sampling_steps;
    if (s.n_draft > 0) {
      verify_draft(*s.seq, rows, s.n_draft);
    } else {
      sample_next(*s.seq, rows);
    }
  }
  if (mtp) run_mtp();
}

void Engine::Impl::sample_next(Sequence& seq, float* row) {
  const int64_t vocab = model.config().vocab_size;
  commit_token(seq, seq.sampler.sample(std::span(row, static_cast<size_t>(vocab))));
}

void Engine::Impl::verify_draft(Sequence& seq, float* rows, int64_t n_draft) {
  const size_t vocab = static_cast<size_t>(model.config().vocab_size);
  const bool has_q = !seq.draft.probs.empty();
  ++totals.spec_verify_steps;
  totals.spec_draft_tokens += n_draft;
  int64_t n_accepted = 0;
  for (int64_t i = 0; i <= n_draft; ++i) {
    std::span<float> row(rows + static_cast<size_t>(i) * vocab, vocab);
    SampledToken token;
    bool accepted = false;
    if (i < n_draft) {
      const std::span<const float> q = has_q ? std::span<const float>(seq.draft.probs)
                                                   .subspan(static_cast<size_t>(i) * vocab, vocab)
                                             : std::span<const float>();
      SamplerState::Verdict verdict =
          seq.sampler.verify(row, seq.draft.tokens[static_cast<size_t>(i)], q);
      token = std::move(verdict.token);
      accepted = verdict.accepted;
    } else {
      token = seq.sampler.sample(row);  // all drafts accepted: the bonus token
    }
    ++totals.spec_emitted_tokens;
    if (accepted) {
      ++n_accepted;
      ++totals.spec_accepted_tokens;
      ++seq.n_computed;  // the draft's KV (written at its row) is now a real token's
    }
    if (!commit_token(seq, std::move(token))) return;  // a stop inside the run ends it
    if (!accepted) break;
  }
  seq.pacer.record(n_draft, n_accepted);
  release_draft_blocks(seq);
  publish_full_blocks(seq);
}

bool Engine::Impl::commit_token(Sequence& seq, SampledToken token) {
  TokenEvent event;
  event.token = std::move(token);
  const int32_t id = event.token.token;
  seq.sampler.accept(id);
  seq.tokens.push_back(id);
  ++totals.generated_tokens;
  const EngineRequest& r = seq.request;
  const bool is_stop = !r.ignore_eos && std::find(r.stop_token_ids.begin(), r.stop_token_ids.end(),
                                                  id) != r.stop_token_ids.end();
  StopReason reason = StopReason::kNone;
  if (is_stop) {
    reason = StopReason::kStop;
  } else if (seq.n_generated() >= r.max_new_tokens || seq.n_tokens() >= max_context) {
    reason = StopReason::kLength;
  }
  if (reason == StopReason::kNone) {
    emit(seq, std::move(event));
    return true;
  }
  event.stop_token = is_stop;
  finish(seq, reason, std::move(event));  // the last token travels with the final event
  return false;
}

// Blocks that hold only rejected drafts' KV go back to the pool (they were never published:
// publishing stops at n_computed). Stale draft KV left in the kept partial block lies past
// n_computed, where the next step's tokens overwrite it.
void Engine::Impl::release_draft_blocks(Sequence& seq) { release_blocks_past(seq, seq.n_computed); }

void Engine::Impl::release_blocks_past(Sequence& seq, int64_t n_positions) {
  const size_t keep =
      static_cast<size_t>((n_positions + config.block_size - 1) / config.block_size);
  if (seq.blocks.size() <= keep) return;
  blocks.release(std::span(seq.blocks).subspan(keep));
  seq.blocks.resize(keep);
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
