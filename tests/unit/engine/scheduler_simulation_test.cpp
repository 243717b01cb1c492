// Randomized simulations of the scheduler: a small engine loop over a real BlockPool applies
// each Decision (release preempted, acquire admitted prefixes, allocate, "compute" tokens,
// publish full blocks, generate until each sequence's own length, cancel some) and checks the
// policy's invariants every step. With drafts on, decodes propose random speculative drafts,
// accept a random number of them and roll back the blocks of the rest, as the engine does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "engine/block_pool.h"
#include "engine/scheduler.h"

namespace mx {
namespace {

struct SimSeq {
  SeqId id = 0;
  std::vector<int32_t> tokens;
  int64_t max_len = 0;  // finishes when it has this many tokens
  int64_t n_computed = 0;
  std::vector<BlockId> blocks;
  std::vector<BlockHash> hashes;  // of blocks[0, hashes.size()), published or tried
  int64_t waiting_steps = 0;
  bool preempted = false;
  int64_t arrival_step = 0;
};

struct SimTotals {
  int64_t finished = 0;
  int64_t cancelled = 0;
  int64_t preemptions = 0;
  int64_t admissions = 0;
  int64_t cached_blocks_acquired = 0;
  int64_t max_latency_steps = 0;  // arrival → finish
};

class Simulator {
 public:
  Simulator(const SchedulerConfig& config, int64_t n_blocks, bool prefix_caching,
            int64_t max_draft = 0)
      : config_(config),
        pool_(n_blocks, config.block_size, 7),
        prefix_caching_(prefix_caching),
        max_draft_(max_draft) {}

  SeqId submit(std::vector<int32_t> prompt, int64_t max_len) {
    auto seq = std::make_unique<SimSeq>();
    seq->id = next_id_++;
    seq->tokens = std::move(prompt);
    seq->max_len = max_len;
    seq->arrival_step = step_;
    waiting_.push_back(seq.get());
    const SeqId id = seq->id;
    seqs_[id] = std::move(seq);
    return id;
  }

  // What the engine does between steps: drop the sequence and free its blocks.
  void cancel(SeqId id) {
    SimSeq* seq = seqs_.at(id).get();
    std::erase(running_, seq);
    std::erase(waiting_, seq);
    pool_.release(seq->blocks);
    seqs_.erase(id);
    ++totals_.cancelled;
  }

  // One schedule() + apply, with every invariant checked. Returns false on a broken invariant.
  bool step(std::mt19937& rng);

  bool idle() const { return seqs_.empty(); }
  bool finished(SeqId id) const { return !seqs_.contains(id); }
  int64_t steps() const { return step_; }
  const SimTotals& totals() const { return totals_; }
  const BlockPool& pool() const { return pool_; }
  std::vector<SeqId> live_ids() const {
    std::vector<SeqId> ids;
    for (const auto& [id, seq] : seqs_) ids.push_back(id);
    return ids;
  }

 private:
  std::vector<BlockHash> prefix_hashes(const SimSeq& seq) const {
    // The cached prefix never covers the last token: hash the full blocks before it.
    return pool_.block_hashes(std::span(seq.tokens).first(seq.tokens.size() - 1));
  }
  void build_views(std::mt19937& rng);
  bool check_decision(const Decision& d);
  bool apply(const Decision& d, std::mt19937& rng);
  void compute(SimSeq& seq, int64_t n_tokens, int64_t n_draft, std::mt19937& rng);
  void publish(SimSeq& seq);
  bool check_pool();

  SchedulerConfig config_;
  BlockPool pool_;
  bool prefix_caching_;
  int64_t max_draft_;  // 0: no speculative drafts
  SeqId next_id_ = 1;
  int64_t step_ = 0;
  std::map<SeqId, std::unique_ptr<SimSeq>> seqs_;
  std::vector<SimSeq*> running_;  // admission order
  std::deque<SimSeq*> waiting_;   // preempted first, then arrival order
  std::vector<SequenceView> running_views_, waiting_views_;
  std::map<SeqId, int64_t> predicted_cached_;  // waiting: cached blocks the view promised
  SimTotals totals_;
};

void Simulator::build_views(std::mt19937& rng) {
  running_views_.clear();
  waiting_views_.clear();
  predicted_cached_.clear();
  for (const SimSeq* seq : running_) {
    SequenceView view{.id = seq->id,
                      .n_tokens = static_cast<int64_t>(seq->tokens.size()),
                      .n_computed = seq->n_computed,
                      .n_blocks = static_cast<int64_t>(seq->blocks.size())};
    view.n_blocks_shared = pool_.count_shared(seq->blocks);
    // Drafts leave room for the token sampled after them (as Engine::propose_draft does).
    const int64_t room = seq->max_len - view.n_tokens - 1;
    if (max_draft_ > 0 && view.n_tokens - view.n_computed == 1 && room > 0) {
      view.n_draft = std::min<int64_t>(room, static_cast<int64_t>(rng() % (max_draft_ + 1)));
    }
    running_views_.push_back(view);
  }
  for (const SimSeq* seq : waiting_) {
    SequenceView view{.id = seq->id, .n_tokens = static_cast<int64_t>(seq->tokens.size())};
    view.waiting_steps = seq->waiting_steps;
    view.preempted = seq->preempted;
    if (prefix_caching_) {
      int64_t in_use = 0;
      const int64_t cached = pool_.count_cached_prefix(prefix_hashes(*seq), &in_use);
      view.cached_blocks_in_use = in_use;
      view.cached_blocks_free = cached - in_use;
      predicted_cached_[seq->id] = cached;
    }
    waiting_views_.push_back(view);
  }
}

bool Simulator::step(std::mt19937& rng) {
  build_views(rng);
  SchedulerState state{running_views_, waiting_views_, pool_.n_free()};
  const Decision decision = schedule(state, config_);
  if (!check_decision(decision)) return false;
  if (!apply(decision, rng)) return false;
  for (SimSeq* seq : waiting_) ++seq->waiting_steps;
  ++step_;
  return check_pool();
}

bool Simulator::check_decision(const Decision& d) {
  bool ok = true;
  auto fail = [&](const char* what) {
    ADD_FAILURE() << "step " << step_ << ": " << what;
    ok = false;
  };
  // Preempted: exactly the newest running sequences, reported oldest first.
  const size_t n_kept = running_views_.size() - std::min(d.preempted.size(), running_views_.size());
  for (size_t i = 0; i < d.preempted.size(); ++i) {
    if (n_kept + i >= running_views_.size() || d.preempted[i] != running_views_[n_kept + i].id)
      fail("preempted is not the newest running sequences in admission order");
  }
  if (!d.preempted.empty() && !d.admitted.empty()) fail("admission in a step that preempts");
  // Admitted: an in-order subsequence of the queue; preempted ones before any new one; an aged
  // sequence that is passed over stops admission behind it.
  size_t next = 0;
  bool passed_preempted = false, passed_aged = false;
  for (SeqId id : d.admitted) {
    while (next < waiting_views_.size() && waiting_views_[next].id != id) {
      passed_preempted |= waiting_views_[next].preempted;
      passed_aged |= waiting_views_[next].waiting_steps >= config_.aging_steps;
      ++next;
    }
    if (next == waiting_views_.size()) {
      fail("admitted a sequence that is not waiting, or out of queue order");
      break;
    }
    if (passed_preempted) fail("a newer sequence admitted before a preempted one");
    if (passed_aged) fail("a sequence admitted past an aged one");
    ++next;
  }
  if (n_kept + d.admitted.size() > static_cast<size_t>(config_.max_running))
    fail("max_running exceeded");
  // Batch: budget, decodes first, every kept decode present, each id once.
  int64_t tokens = 0;
  bool seen_prefill = false;
  std::set<SeqId> in_batch;
  std::map<SeqId, const SequenceView*> running_by_id;
  for (size_t i = 0; i < n_kept; ++i) running_by_id[running_views_[i].id] = &running_views_[i];
  for (const ScheduledSeq& s : d.batch) {
    tokens += s.n_tokens;
    if (s.n_tokens < 1 || s.n_new_blocks < 0) fail("empty or negative batch entry");
    if (!in_batch.insert(s.id).second) fail("a sequence twice in the batch");
    auto it = running_by_id.find(s.id);
    const bool admitted = std::ranges::find(d.admitted, s.id) != d.admitted.end();
    if (it == running_by_id.end() && !admitted) fail("batch entry neither running nor admitted");
    const bool decode =
        it != running_by_id.end() && it->second->n_tokens - it->second->n_computed == 1;
    if (s.n_draft < 0 || (s.n_draft > 0 && (!decode || s.n_draft > it->second->n_draft)))
      fail("drafts on a non-decode, or more than proposed");
    if (decode && seen_prefill) fail("a decode after a prefill chunk");
    seen_prefill |= !decode;
  }
  if (tokens > config_.max_batch_tokens) fail("token budget exceeded");
  for (const auto& [id, view] : running_by_id) {
    if (view->n_tokens - view->n_computed == 1 && !in_batch.contains(id))
      fail("a running decode was neither scheduled nor preempted");
  }
  for (SeqId id : d.admitted) {
    if (!in_batch.contains(id)) fail("an admitted sequence is not in the batch");
  }
  return ok;
}

bool Simulator::apply(const Decision& d, std::mt19937& rng) {
  // 1. Release preempted; they go to the front of the queue, oldest admission first.
  for (auto it = d.preempted.rbegin(); it != d.preempted.rend(); ++it) {
    SimSeq* seq = seqs_.at(*it).get();
    std::erase(running_, seq);
    pool_.release(seq->blocks);
    seq->blocks.clear();
    seq->hashes.clear();
    seq->n_computed = 0;
    seq->preempted = true;
    seq->waiting_steps = 0;
    waiting_.push_front(seq);
    ++totals_.preemptions;
  }
  // 2. Admitted: acquire their cached prefixes (before any allocation, see scheduler.h).
  for (SeqId id : d.admitted) {
    SimSeq* seq = seqs_.at(id).get();
    std::erase(waiting_, seq);
    if (prefix_caching_) {
      auto hashes = prefix_hashes(*seq);
      const int64_t got = pool_.acquire_cached_prefix(hashes, seq->blocks);
      const int64_t max_cached =
          (static_cast<int64_t>(seq->tokens.size()) - 1) / config_.block_size;
      EXPECT_EQ(got, std::min(predicted_cached_.at(id), max_cached)) << "prefix shrank";
      seq->hashes.assign(hashes.begin(), hashes.begin() + got);
      seq->n_computed = got * config_.block_size;
      totals_.cached_blocks_acquired += got;
    }
    seq->preempted = false;
    running_.push_back(seq);
    ++totals_.admissions;
  }
  // 3. Allocate: never more than the free blocks. 4. Compute.
  for (const ScheduledSeq& s : d.batch) {
    SimSeq& seq = *seqs_.at(s.id);
    if (!pool_.allocate(s.n_new_blocks, seq.blocks)) {
      ADD_FAILURE() << "step " << step_ << ": allocation of " << s.n_new_blocks << " blocks with "
                    << pool_.n_free() << " free";
      return false;
    }
    const int64_t end = seq.n_computed + s.n_tokens;
    if (end - s.n_draft > static_cast<int64_t>(seq.tokens.size()) ||
        static_cast<int64_t>(seq.blocks.size()) * config_.block_size < end) {
      ADD_FAILURE() << "step " << step_ << ": chunk beyond the tokens or the blocks";
      return false;
    }
    if (std::ranges::find(d.admitted, s.id) != d.admitted.end() &&
        static_cast<int64_t>(seq.blocks.size()) * config_.block_size <
            static_cast<int64_t>(seq.tokens.size())) {
      ADD_FAILURE() << "step " << step_ << ": admitted without blocks for its whole prompt";
      return false;
    }
  }
  for (const ScheduledSeq& s : d.batch) {
    if (seqs_.contains(s.id)) compute(*seqs_.at(s.id), s.n_tokens, s.n_draft, rng);
  }
  return true;
}

// Writes the KV of n_tokens tokens, publishes the blocks they fill, and samples a token once
// the sequence is computed up to its end; finishes at its own length limit.
// Drafts: a random number of the n_draft are accepted (they and one more token join the
// sequence) and the blocks past the computed tokens are released.
void Simulator::compute(SimSeq& seq, int64_t n_tokens, int64_t n_draft, std::mt19937& rng) {
  seq.n_computed += n_tokens - n_draft;
  publish(seq);
  if (seq.n_computed < static_cast<int64_t>(seq.tokens.size())) return;
  const int64_t accepted = n_draft > 0 ? static_cast<int64_t>(rng() % (n_draft + 1)) : 0;
  for (int64_t i = 0; i <= accepted; ++i) seq.tokens.push_back(static_cast<int32_t>(rng() % 50));
  if (n_draft > 0) {
    seq.n_computed += accepted;
    const size_t keep =
        static_cast<size_t>((seq.n_computed + config_.block_size - 1) / config_.block_size);
    if (seq.blocks.size() > keep) {
      pool_.release(std::span(seq.blocks).subspan(keep));
      seq.blocks.resize(keep);
    }
    publish(seq);
  }
  if (static_cast<int64_t>(seq.tokens.size()) < seq.max_len) return;
  totals_.max_latency_steps = std::max(totals_.max_latency_steps, step_ + 1 - seq.arrival_step);
  std::erase(running_, &seq);
  pool_.release(seq.blocks);
  ++totals_.finished;
  const SeqId id = seq.id;
  seqs_.erase(id);  // destroys seq
}

// Publishes the full blocks of the computed tokens.
void Simulator::publish(SimSeq& seq) {
  if (!prefix_caching_) return;
  const size_t before = seq.hashes.size();
  pool_.extend_block_hashes(std::span(seq.tokens).first(seq.n_computed), seq.hashes);
  for (size_t i = before; i < seq.hashes.size(); ++i) pool_.publish(seq.blocks[i], seq.hashes[i]);
}

// The pool agrees with the tables: each block's ref count is the number of tables holding it.
bool Simulator::check_pool() {
  std::map<BlockId, int64_t> holders;
  for (const SimSeq* seq : running_) {
    for (BlockId b : seq->blocks) ++holders[b];
  }
  for (const SimSeq* seq : waiting_) {
    if (!seq->blocks.empty()) {
      ADD_FAILURE() << "a waiting sequence holds blocks";
      return false;
    }
  }
  if (pool_.n_used() != static_cast<int64_t>(holders.size())) {
    ADD_FAILURE() << "step " << step_ << ": pool uses " << pool_.n_used() << " blocks, tables "
                  << holders.size();
    return false;
  }
  for (const auto& [block, count] : holders) {
    if (pool_.ref_count(block) != count) {
      ADD_FAILURE() << "block " << block << " ref count " << pool_.ref_count(block)
                    << " != " << count;
      return false;
    }
  }
  return true;
}

// A random workload: prompts share a few leading prefixes (so the prefix cache has hits), some
// requests are cancelled, and every sequence fits the pool alone (as Engine::submit checks).
struct Workload {
  SchedulerConfig config;
  int64_t n_blocks = 0;
  bool prefix_caching = false;
  int64_t max_draft = 0;
  std::vector<std::vector<int32_t>> shared_prefixes;
};

Workload random_workload(std::mt19937& rng) {
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  Workload w;
  const int64_t block_sizes[] = {1, 2, 4, 8};
  w.config.block_size = block_sizes[uniform(0, 3)];
  w.config.max_running = uniform(1, 6);
  w.config.max_batch_tokens = w.config.max_running + uniform(0, 32);
  w.config.headroom_blocks_per_seq = uniform(0, 2);
  w.config.aging_steps = uniform(0, 12);
  w.n_blocks = uniform(6, 40);
  w.prefix_caching = uniform(0, 3) != 0;
  w.max_draft = uniform(0, 1) != 0 ? uniform(1, 6) : 0;
  for (int i = 0; i < 3; ++i) {
    std::vector<int32_t> prefix;
    for (int j = 0; j < 16; ++j) prefix.push_back(static_cast<int32_t>(uniform(0, 49)));
    w.shared_prefixes.push_back(prefix);
  }
  return w;
}

// Submits a random request; returns its length limit (prompt + generated tokens).
int64_t submit_random(Simulator& sim, const Workload& w, std::mt19937& rng) {
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  const int64_t capacity = w.n_blocks * w.config.block_size;  // tokens the pool holds
  const auto& shared = w.shared_prefixes[uniform(0, 2)];
  std::vector<int32_t> prompt(shared.begin(), shared.begin() + uniform(0, 16));
  const int64_t suffix = uniform(1, 24);
  for (int64_t i = 0; i < suffix; ++i) prompt.push_back(static_cast<int32_t>(uniform(0, 49)));
  const int64_t max_len = std::min<int64_t>(prompt.size() + uniform(1, 20), capacity);
  if (static_cast<int64_t>(prompt.size()) >= max_len) prompt.resize(max_len - 1);
  sim.submit(std::move(prompt), max_len);
  return max_len;
}

TEST(SchedulerSimulation, RandomWorkloadsKeepInvariantsAndFinish) {
  constexpr int kSeeds = 500;
  constexpr int64_t kArrivalSteps = 40;
  SimTotals all;
  int64_t worst_drain = 0;
  double worst_ratio = 0;  // drain steps per submitted token
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    const Workload w = random_workload(rng);
    ASSERT_TRUE(w.config.validate().ok());
    Simulator sim(w.config, w.n_blocks, w.prefix_caching, w.max_draft);
    int64_t total_tokens = 0;  // the work submitted, recomputation after preemption aside
    std::bernoulli_distribution arrive(0.6), cancel(0.04);
    for (int64_t t = 0; t < kArrivalSteps; ++t) {
      if (arrive(rng)) {
        total_tokens += submit_random(sim, w, rng);
      }
      if (cancel(rng) && !sim.idle()) {
        auto ids = sim.live_ids();
        sim.cancel(ids[rng() % ids.size()]);
      }
      ASSERT_TRUE(sim.step(rng));
    }
    // Drain: everything must finish within a bound (no starvation, no livelock). Every step
    // computes at least one token of some sequence; recomputation after preemption costs more.
    const int64_t bound = 2 * total_tokens + 50;
    int64_t drain = 0;
    while (!sim.idle() && drain < bound) {
      ASSERT_TRUE(sim.step(rng));
      ++drain;
    }
    ASSERT_TRUE(sim.idle()) << "not finished after " << bound << " drain steps";
    EXPECT_EQ(sim.pool().n_free(), w.n_blocks);
    worst_drain = std::max(worst_drain, drain);
    worst_ratio =
        std::max(worst_ratio, static_cast<double>(drain) / std::max<int64_t>(1, total_tokens));
    all.finished += sim.totals().finished;
    all.cancelled += sim.totals().cancelled;
    all.preemptions += sim.totals().preemptions;
    all.admissions += sim.totals().admissions;
    all.cached_blocks_acquired += sim.totals().cached_blocks_acquired;
    all.max_latency_steps = std::max(all.max_latency_steps, sim.totals().max_latency_steps);
  }
  // The workloads must exercise every path, or the invariants above prove little.
  EXPECT_GT(all.finished, kSeeds * 10);
  EXPECT_GT(all.cancelled, 10);
  EXPECT_GT(all.preemptions, 50);
  EXPECT_GT(all.admissions, all.finished);  // readmissions after preemption
  EXPECT_GT(all.cached_blocks_acquired, 100);
  std::printf(
      "[ sim ] finished %ld cancelled %ld preemptions %ld cached blocks %ld "
      "max latency %ld steps, worst drain %ld steps (%.2f per token)\n",
      static_cast<long>(all.finished), static_cast<long>(all.cancelled),
      static_cast<long>(all.preemptions), static_cast<long>(all.cached_blocks_acquired),
      static_cast<long>(all.max_latency_steps), static_cast<long>(worst_drain), worst_ratio);
}

// A request needing most of the pool, amid a never-ending stream of small ones that would
// always fit first. Returns the step at which it finished, or -1 if not within max_steps.
int64_t big_request_finish_step(int64_t aging_steps, int64_t max_steps) {
  SchedulerConfig config;
  config.block_size = 4;
  config.max_running = 4;
  config.max_batch_tokens = 16;
  config.headroom_blocks_per_seq = 1;
  config.aging_steps = aging_steps;
  Simulator sim(config, 16, /*prefix_caching=*/false);
  std::mt19937 rng(3);
  for (int i = 0; i < 3; ++i) sim.submit(std::vector<int32_t>(6, i), 14);
  EXPECT_TRUE(sim.step(rng));
  const SeqId big = sim.submit(std::vector<int32_t>(50, 7), 56);  // 13 of the 16 blocks
  for (int64_t t = 0; t < max_steps; ++t) {
    sim.submit(std::vector<int32_t>(6, 100 + static_cast<int32_t>(t)), 14);  // 2-4 blocks
    if (!sim.step(rng)) return -2;
    if (sim.finished(big)) return sim.steps();
  }
  return -1;
}

TEST(SchedulerSimulation, AgingKeepsABigRequestFromStarving) {
  const int64_t finished_at = big_request_finish_step(/*aging_steps=*/10, 300);
  EXPECT_GT(finished_at, 10);  // it did have to wait
  EXPECT_LT(finished_at, 80);
  // The same stream without aging starves it: the bound above is a real check.
  EXPECT_EQ(big_request_finish_step(/*aging_steps=*/1 << 30, 300), -1);
}

TEST(SchedulerSimulation, TightPoolPreemptsAndResumesWithoutLosingWork) {
  // Four sequences that together need twice the pool: preemption is certain.
  SchedulerConfig config;
  config.block_size = 2;
  config.max_running = 4;
  config.max_batch_tokens = 8;
  config.headroom_blocks_per_seq = 0;
  config.aging_steps = 4;
  Simulator sim(config, 12, /*prefix_caching=*/true);
  std::mt19937 rng(11);
  std::vector<SeqId> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(sim.submit(std::vector<int32_t>(3, i), 12));
  while (!sim.idle() && sim.steps() < 500) ASSERT_TRUE(sim.step(rng));
  EXPECT_TRUE(sim.idle());
  EXPECT_EQ(sim.totals().finished, 4);
  EXPECT_GT(sim.totals().preemptions, 0);
  EXPECT_EQ(sim.pool().n_free(), 12);
}

}  // namespace
}  // namespace mx
