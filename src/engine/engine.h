// Engine: the serving loop. Requests become Sequences; each step the Scheduler (pure policy)
// picks a Batch of decodes and prefill chunks under a token budget, the engine allocates their
// KV blocks from the BlockPool (reusing cached prefix blocks), runs the Model once over the
// whole batch (ModelRunner step), samples each sequence's next token (SamplerState) and hands it
// to the request's TokenStream callback. With speculative decoding on (EngineConfig::speculative)
// a decoding sequence's Drafter proposes tokens, the same forward computes logits for its last
// token and every draft, and SamplerState::verify keeps the drafts the target distribution
// agrees with (the output distribution is unchanged; greedy output is identical); the KV of
// rejected drafts is rolled back.
//
// Threads: one engine thread runs steps; submit() / cancel() / stats() may be called from any
// thread. Callbacks run on the engine thread and must not block (the server posts them to the
// connection's executor). Every submitted request gets exactly one final event (finished=true)
// — on end of generation, cancellation, error or shutdown — after which no more events come.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/block_pool.h"
#include "engine/drafter.h"
#include "engine/kv_event_log.h"
#include "engine/kv_store.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace mx {

enum class StopReason { kNone, kStop, kLength, kCancelled, kError };
const char* stop_reason_name(StopReason reason);  // "stop", "length", "cancelled", "error"

// One event of a request's TokenStream.
struct TokenEvent {
  SampledToken token;  // token.token < 0 when the event carries no token (final only)
  bool finished = false;
  StopReason stop_reason = StopReason::kNone;
  std::string error;        // with kError
  bool stop_token = false;  // token is the stop token that ended generation: not output text
  // Filled on every event: counts so far.
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens served from the prefix cache (first admission)
  int64_t completion_tokens = 0;
  // Final events in a cluster: the workers that computed the sequence, "host:port@epoch", in
  // order (more than one after a failover), comma-separated; empty in one process.
  std::string served_by;
};

// One sequence to generate: plain data (it crosses process boundaries: engine_client.h).
struct SequenceRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_new_tokens = 16;
  std::vector<int32_t> stop_token_ids;  // end of generation (EOS / end-of-turn ids)
  bool ignore_eos = false;              // keep generating through stop_token_ids
  // The last resumed_tokens of the prompt are output already delivered to the client (a
  // sequence moved from a failed worker): the sampler's presence / frequency penalties count
  // them as generated. 0 ≤ resumed_tokens < prompt.size().
  int64_t resumed_tokens = 0;
};

// A sequence and where its events go (in this process).
struct EngineRequest : SequenceRequest {
  std::function<void(const TokenEvent&)> on_event;
};

// What callers must know of an engine to size requests: fixed once it runs.
struct EngineLimits {
  int64_t max_context = 0;      // tokens per sequence (prompt + output)
  int64_t vocab_size = 0;       // token ids are below it
  int64_t kv_blocks_total = 0;  // the KV pool, in blocks of block_size tokens
  int64_t block_size = 0;
  int64_t max_running = 0;  // sequences in one step at most (the scheduler's)
  int64_t max_waiting = 0;  // sequences queued at most
  int64_t moe_layers = 0;   // layers × experts of Engine's expert token counters (0: dense)
  int64_t n_experts = 0;
  // The chained block hashes' seed (BlockPool's layout seed): with block_size, what a frontend
  // needs to compute this engine's prefix-cache hashes of a prompt. 0: prefix caching is off.
  uint64_t prefix_hash_seed = 0;
};

// The most tokens each of n_choices sequences of an n_prompt-token prompt may generate so that
// submit_all takes them: up to the context's end, and those that run at once fit the KV pool
// together. < 1: not even one token each fits.
int64_t max_new_tokens_for(const EngineLimits& limits, int64_t n_prompt, int64_t n_choices);

struct EngineConfig {
  int64_t kv_blocks = 0;  // 0: from kv_memory_bytes
  int64_t kv_memory_bytes = 1LL << 30;
  int64_t block_size = 32;
  DType kv_dtype = DType::F16;
  // The served context: 0 takes the model's context length. Either way it is capped to what
  // the KV pool holds (one sequence must be able to reach the context's end), logged at start.
  int64_t max_context = 0;
  // Sequences queued at most: submitted and not running (a request's n choices count n;
  // preempted ones count too). A submit beyond it is refused with kResourceExhausted (retry
  // later): a burst of requests waits in bounded memory.
  int64_t max_waiting = 256;
  bool prefix_caching = true;
  SchedulerConfig scheduler;  // block_size is copied from above
  int threads = 0;            // 0: all cores
  bool pin_threads = false;   // pin compute thread i to CPU i (ThreadPool)
  // The tiers under the prefix cache (host memory, SSD: kvstore/tiered_store.h), made once the
  // engine knows its layout seed and block size; unset: no tiers.
  std::function<Result<std::unique_ptr<KvStore>>(uint64_t layout_seed, size_t block_bytes)>
      make_kv_store;
  // How long a request waits for its prefix to come back from disk before it is admitted
  // anyway and recomputes what has not arrived.
  double kv_store_wait_seconds = 5.0;
  SpeculativeConfig speculative;  // off by default

  Status validate() const;
};

struct EngineStats {
  int64_t waiting = 0;
  int64_t running = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_free = 0;
  int64_t prefix_queries = 0;  // blocks looked up in the prefix cache
  int64_t prefix_hits = 0;     // blocks found
  int64_t prompt_tokens = 0;   // totals since start
  int64_t cached_tokens = 0;
  int64_t generated_tokens = 0;
  int64_t steps = 0;
  int64_t preemptions = 0;
  int64_t store_restored_blocks = 0;  // prefix blocks copied back from the tiers below
  std::vector<KvTierStats> kv_tiers;  // host / SSD tiers, when configured
  // Sequence-steps that emitted tokens (a prefill's last chunk, a decode, a verification):
  // generated_tokens / sampling_steps is the tokens one sequence gets per step.
  int64_t sampling_steps = 0;
  // Speculative decoding: draft tokens the drafters proposed (the scheduler may verify fewer:
  // budget, blocks), drafts verified, those accepted (acceptance rate = accepted / draft),
  // sequence-steps that verified a draft and the tokens those steps emitted (accepted + the
  // one sampled after them, unless a stop ended the run).
  int64_t spec_proposed_tokens = 0;
  int64_t spec_draft_tokens = 0;
  int64_t spec_accepted_tokens = 0;
  int64_t spec_verify_steps = 0;
  int64_t spec_emitted_tokens = 0;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> create(Model& model, EngineConfig config);
  ~Engine();  // stop()

  // Queues a request. Errors (empty prompt, prompt + max_new_tokens beyond the context, bad
  // sampling params: kInvalidArgument / kOutOfRange; a full queue: kResourceExhausted) come
  // back here and no event is sent.
  Result<SeqId> submit(EngineRequest request);
  // Several requests queued together (the n choices of one API request): all or none, and
  // they enter the same engine step, so a request served alone is scheduled the same way
  // every time (its sampled text then depends only on its seeds). Those that run at once (up
  // to the scheduler's max_running) must fit the KV pool together at their full length
  // (prompt + max_new_tokens), else they would only preempt one another: kOutOfRange.
  Result<std::vector<SeqId>> submit_all(std::vector<EngineRequest> requests);
  // Cancels a queued or running request: its blocks are freed before the next step and its
  // final event has StopReason::kCancelled. Unknown or finished ids are ignored.
  void cancel(SeqId id);
  EngineStats stats() const;
  EngineLimits limits() const;
  int64_t max_context() const;
  // mx::max_new_tokens_for over limits().
  int64_t max_new_tokens_for(int64_t n_prompt, int64_t n_choices) const;
  const Model& model() const;
  // The prefix cache's changes (published / evicted block hashes), appended after each step.
  KvEventLog& kv_events();
  // Stops taking requests; running ones are cancelled (final events sent); joins the thread.
  void stop();

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mx
