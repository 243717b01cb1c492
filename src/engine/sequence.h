// Sequence: one request's state inside the engine (engine thread only). Its tokens are the
// prompt followed by what it generated; n_computed of them have KV in its blocks.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "engine/block_pool.h"
#include "engine/drafter.h"
#include "engine/engine.h"
#include "engine/sampler.h"

namespace mx {

struct Sequence {
  Sequence(SeqId seq_id, EngineRequest req, int32_t vocab_size,
           const SpeculativeConfig& speculative)
      : id(seq_id),
        request(std::move(req)),
        tokens(request.prompt),
        sampler(request.sampling, vocab_size),
        drafter(make_drafter(speculative)),
        pacer(speculative.draft_tokens),
        mtp_rng(request.sampling.seed ? *request.sampling.seed ^ 0x6d7470ULL
                                      : std::random_device{}()) {
    const auto first_output = request.prompt.end() - request.resumed_tokens;
    sampler.add_prompt_tokens({request.prompt.begin(), first_output});
    for (auto it = first_output; it != request.prompt.end(); ++it) sampler.accept(*it);
  }

  int64_t n_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t n_prompt() const { return static_cast<int64_t>(request.prompt.size()); }
  int64_t n_generated() const { return n_tokens() - n_prompt(); }

  SeqId id;
  EngineRequest request;
  std::vector<int32_t> tokens;    // prompt + generated
  int64_t n_computed = 0;         // tokens whose KV is written
  std::vector<BlockId> blocks;    // block table, position order
  std::vector<BlockHash> hashes;  // chained hashes of the full blocks of `tokens`
  int64_t n_published = 0;        // leading blocks published to the prefix cache
  SamplerState sampler;
  int64_t cached_tokens = -1;  // prompt tokens from the prefix cache, set at 1st admission
  int64_t waiting_steps = 0;
  bool preempted = false;
  // KvStore: leading prefix blocks (after the compute tier's) ready in memory below, and since
  // when the sequence waits for more of them to come back from disk.
  int64_t store_ready_blocks = 0;
  std::optional<std::chrono::steady_clock::time_point> store_wait_since;
  std::unique_ptr<Drafter> drafter;  // null: no speculation
  Draft draft;                       // this step's proposal (its tokens are not in `tokens`)
  // Draft tokens this step may verify (SequenceView::n_draft): draft.size(), or with MTP the
  // length wanted, which the engine drafts once schedule() has granted it (engine_mtp.cpp).
  int64_t draft_wanted = 0;
  DraftPacer pacer;  // draft length from recent acceptance
  // --speculative mtp: the draft's first token, made after the last step's sampling
  // (engine_mtp.cpp) and moved into `draft` when the next step starts; the length wanted; the
  // MTP module's output row [d_model] for the draft's last token (the next draft token's h);
  // the RNG it draws with.
  Draft mtp_draft;
  int64_t mtp_draft_length = 0;
  std::vector<float> mtp_hidden;
  std::mt19937_64 mtp_rng;
};

}  // namespace mx
