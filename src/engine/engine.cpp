#include "engine/engine.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <thread>

#include "engine/engine_impl.h"

namespace mx {

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::kNone:
      return "none";
    case StopReason::kStop:
      return "stop";
    case StopReason::kLength:
      return "length";
    case StopReason::kCancelled:
      return "cancelled";
    case StopReason::kError:
      return "error";
  }
  return "none";
}

Status EngineConfig::validate() const {
  if (block_size < 1 || block_size > 1024) {
    return make_error(ErrorCode::kInvalidArgument, "block size must be 1..1024 tokens, got {}",
                      block_size);
  }
  if (kv_blocks < 0) {
    return make_error(ErrorCode::kInvalidArgument, "kv blocks must be >= 0, got {}", kv_blocks);
  }
  if (kv_blocks == 0 && kv_memory_bytes < 1) {
    return make_error(ErrorCode::kInvalidArgument, "kv memory must be positive, got {} bytes",
                      kv_memory_bytes);
  }
  if (kv_dtype != DType::F16 && kv_dtype != DType::F32 && kv_dtype != DType::I8) {
    return make_error(ErrorCode::kInvalidArgument, "kv cache type must be f16, f32 or int8");
  }
  if (max_context < 0) {
    return make_error(ErrorCode::kInvalidArgument, "context must be >= 0 (0: the model's), got {}",
                      max_context);
  }
  if (max_waiting < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the queue must hold at least 1 sequence, got {}", max_waiting);
  }
  if (threads < 0) {
    return make_error(ErrorCode::kInvalidArgument, "threads must be >= 0 (0: all cores), got {}",
                      threads);
  }
  MX_RETURN_IF_ERROR(speculative.validate());
  return scheduler.validate();
}

namespace {

// Names the model's content and the KV layout: prefix blocks of another model, dtype or block
// size never match — also in the persistent SSD tier, which outlives the process.
uint64_t layout_seed(const Model& model, const EngineConfig& config, bool with_nextn) {
  const ModelConfig& c = model.config();
  const std::string id =
      fmt::format("{:016x}|{}|{}|{}|{}|{}|{}|{}|{}", model.fingerprint(), c.n_layers, c.n_kv_heads,
                  c.head_dim, c.vocab_size, static_cast<int>(config.kv_dtype), config.block_size,
                  KvCacheStorage::layout_name(c, config.kv_dtype),
                  KvCacheStorage::bytes_per_token(c, config.kv_dtype, with_nextn));
  return XXH3_64bits(id.data(), id.size());
}

// The context asked for: --ctx, else the model's (4096 when the model names none).
int64_t asked_context(const Model& model, const EngineConfig& config) {
  if (config.max_context > 0) return config.max_context;
  const int64_t model_context = model.config().context_length;
  return model_context > 0 ? model_context : 4096;
}

// Whole blocks of KV cache a sequence of `tokens` tokens holds at most.
int64_t blocks_for(int64_t tokens, int64_t block_size) {
  return (tokens + block_size - 1) / block_size;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(Model& model, EngineConfig config) {
  config.scheduler.block_size = config.block_size;
  MX_RETURN_IF_ERROR(config.validate());
  const ModelConfig& c = model.config();
  // MTP drafting keeps the nextn layers' KV in the same blocks as the main layers'.
  const bool with_nextn = config.speculative.method == SpeculativeMethod::kMtp;
  if (with_nextn && !model.has_mtp()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--speculative mtp needs a model with multi-token-prediction (nextn) "
                      "layers (DeepSeek-V3 style: num_nextn_predict_layers > 0), and {} ({}) "
                      "has none; use --speculative ngram instead",
                      model.source(), arch_name(c.arch));
  }
  int64_t n_blocks = config.kv_blocks;
  if (n_blocks == 0) {
    const size_t block_bytes = KvCacheStorage::bytes_per_token(c, config.kv_dtype, with_nextn) *
                               static_cast<size_t>(config.block_size);
    n_blocks = config.kv_memory_bytes / static_cast<int64_t>(block_bytes);
  }
  if (n_blocks < 2) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the KV cache holds only {} blocks of {} tokens; give it more memory",
                      n_blocks, config.block_size);
  }
  if (config.threads == 0) {
    config.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  const uint64_t seed = layout_seed(model, config, with_nextn);
  auto impl = std::make_unique<Impl>(model, config, n_blocks, seed);
  if (config.make_kv_store && config.prefix_caching) {
    MX_ASSIGN_OR_RETURN(impl->store, config.make_kv_store(seed, impl->kv.block_bytes()));
    Impl* raw = impl.get();
    raw->blocks.set_on_evict(
        [raw](BlockId block, BlockHash hash) { raw->offer_block(block, hash, false); });
  }
  std::unique_ptr<Engine> engine(new Engine(std::move(impl)));
  Impl* raw = engine->impl_.get();
  if (raw->max_context < asked_context(model, config)) {
    spdlog::warn(
        "engine: serving a context of {} tokens, not the {} asked for ({}): the KV "
        "cache holds {} tokens in all and one sequence must fit it; give it more "
        "--kv-memory to serve more",
        raw->max_context, asked_context(model, config),
        config.max_context > 0 ? "--ctx" : "the model's", raw->kv_tokens());
  }
  raw->publish_stats();
  raw->thread = std::thread([raw] { raw->loop(); });
  spdlog::info(
      "engine: {} KV blocks of {} tokens ({} MiB; KV {}, {} B/token, {}), context {}, {} "
      "threads, prefix caching {}, speculative {}",
      n_blocks, config.block_size, (n_blocks * raw->kv.block_bytes()) >> 20,
      KvCacheStorage::type_name(config.kv_dtype),
      KvCacheStorage::bytes_per_token(c, config.kv_dtype),
      KvCacheStorage::layout_name(c, config.kv_dtype), raw->max_context, config.threads,
      config.prefix_caching ? "on" : "off",
      !config.speculative.enabled() ? std::string("off")
      : config.speculative.method == SpeculativeMethod::kMtp
          ? fmt::format("mtp (k {})", config.speculative.draft_tokens)
          : fmt::format("{} (k {}, n-gram {}..{})",
                        speculative_method_name(config.speculative.method),
                        config.speculative.draft_tokens, config.speculative.ngram_min,
                        config.speculative.ngram_max));
  return engine;
}

Engine::Impl::Impl(Model& m, EngineConfig c, int64_t n_blocks, uint64_t seed)
    : model(m),
      config(c),
      max_context(std::min(asked_context(m, c), n_blocks * c.block_size)),
      kv(m.config(), n_blocks, c.block_size, c.kv_dtype,
         c.speculative.method == SpeculativeMethod::kMtp),
      blocks(n_blocks, c.block_size, seed),
      // A few times the pool: a reader that falls further behind takes a snapshot instead.
      kv_events(static_cast<size_t>(std::max<int64_t>(4 * n_blocks, 4096))),
      threads(c.threads, c.pin_threads),
      mtp(c.speculative.method == SpeculativeMethod::kMtp) {
  blocks.set_record_events(c.prefix_caching);
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { stop(); }

Status Engine::Impl::check(const EngineRequest& request) const {
  const ModelConfig& c = model.config();
  const int64_t n_prompt = static_cast<int64_t>(request.prompt.size());
  if (n_prompt == 0) {
    return make_error(ErrorCode::kInvalidArgument, "the prompt is empty; send at least one token");
  }
  for (int32_t token : request.prompt) {
    if (token < 0 || token >= c.vocab_size) {
      return make_error(ErrorCode::kInvalidArgument,
                        "prompt token id {} is outside the vocabulary (0..{})", token,
                        c.vocab_size - 1);
    }
  }
  if (request.max_new_tokens < 1) {
    return make_error(ErrorCode::kInvalidArgument, "max tokens must be at least 1, got {}",
                      request.max_new_tokens);
  }
  if (request.resumed_tokens < 0 || request.resumed_tokens >= n_prompt) {
    return make_error(ErrorCode::kInvalidArgument,
                      "resumed_tokens must be between 0 and the prompt's length - 1 ({}), got {}",
                      n_prompt - 1, request.resumed_tokens);
  }
  const int64_t total = n_prompt + request.max_new_tokens;
  if (total > max_context) {
    return make_error(ErrorCode::kOutOfRange,
                      "this model's context is {} tokens, but the request asks for {} ({} in "
                      "the prompt + {} to generate); shorten the prompt or max_tokens",
                      max_context, total, n_prompt, request.max_new_tokens);
  }
  // max_context <= kv_tokens(): a request within the context fits the KV pool alone.
  return request.sampling.validate(static_cast<int32_t>(c.vocab_size));
}

// The sequences that run at once (max_running of them, the longest ones at worst) must fit the
// pool together at their full length; otherwise the scheduler can only run them by preempting
// one another over and over.
Status Engine::Impl::check_group(std::span<const EngineRequest> requests) const {
  const int64_t block_size = config.block_size;
  std::vector<int64_t> need;
  for (const EngineRequest& request : requests) {
    const int64_t total = static_cast<int64_t>(request.prompt.size()) + request.max_new_tokens;
    need.push_back(blocks_for(total, block_size));
  }
  const size_t at_once = std::min(need.size(), static_cast<size_t>(config.scheduler.max_running));
  std::partial_sort(need.begin(), need.begin() + static_cast<std::ptrdiff_t>(at_once), need.end(),
                    std::greater<>());
  int64_t blocks_at_once = 0;
  for (size_t i = 0; i < at_once; ++i) blocks_at_once += need[i];
  if (blocks_at_once <= blocks.n_blocks()) return ok_status();
  const int64_t fits = max_new_tokens_for(static_cast<int64_t>(requests.front().prompt.size()),
                                          static_cast<int64_t>(at_once));
  const std::string fix =
      fits >= 1 ? fmt::format(
                      "ask for fewer choices (n) or a smaller max_tokens (at most {} with "
                      "this prompt and n)",
                      fits)
                : std::string("ask for fewer choices (n) or send a shorter prompt");
  return make_error(ErrorCode::kOutOfRange,
                    "the {} choices of this request that run at once need {} tokens of KV cache "
                    "together (up to {} each: prompt + max_tokens, in whole blocks of {}), but "
                    "the server holds {}; {}, or start the server with more --kv-memory",
                    at_once, blocks_at_once * block_size, need.front() * block_size, block_size,
                    kv_tokens(), fix);
}

int64_t max_new_tokens_for(const EngineLimits& limits, int64_t n_prompt, int64_t n_choices) {
  const int64_t at_once =
      std::clamp<int64_t>(n_choices, 1, std::max<int64_t>(limits.max_running, 1));
  const int64_t blocks_each = limits.kv_blocks_total / at_once;
  return std::min(limits.max_context, blocks_each * limits.block_size) - n_prompt;
}

EngineLimits Engine::Impl::limits() const {
  const ModelConfig& c = model.config();
  EngineLimits out;
  out.max_context = max_context;
  out.vocab_size = c.vocab_size;
  out.kv_blocks_total = blocks.n_blocks();
  out.block_size = config.block_size;
  out.max_running = config.scheduler.max_running;
  out.max_waiting = config.max_waiting;
  out.prefix_hash_seed = config.prefix_caching ? blocks.layout_seed() : 0;
  if (c.moe.n_experts > 0) {
    out.moe_layers = c.n_layers;
    out.n_experts = c.moe.n_experts;
  }
  return out;
}

Result<std::vector<SeqId>> Engine::submit_all(std::vector<EngineRequest> requests) {
  for (const EngineRequest& request : requests) MX_RETURN_IF_ERROR(impl_->check(request));
  if (requests.size() > 1) MX_RETURN_IF_ERROR(impl_->check_group(requests));
  const int64_t n = static_cast<int64_t>(requests.size());
  const int64_t max_waiting = impl_->config.max_waiting;
  if (n > max_waiting) {
    return make_error(ErrorCode::kOutOfRange,
                      "this request has {} choices but the server queues at most {} sequences "
                      "(--max-queue); ask for fewer choices (n)",
                      n, max_waiting);
  }
  const int32_t vocab = static_cast<int32_t>(impl_->model.config().vocab_size);
  std::lock_guard lock(impl_->mutex);
  if (impl_->stopping) {
    return make_error(ErrorCode::kUnavailable, "the server is shutting down; retry elsewhere");
  }
  if (impl_->queued + n > max_waiting) {
    return make_error(ErrorCode::kResourceExhausted,
                      "the server is busy: {} sequences are queued, at most {} may wait, and this "
                      "request adds {}; retry shortly",
                      impl_->queued, max_waiting, n);
  }
  impl_->queued += n;
  std::vector<SeqId> ids;
  for (EngineRequest& request : requests) {
    ids.push_back(impl_->next_id++);
    impl_->incoming.push_back(std::make_unique<Sequence>(ids.back(), std::move(request), vocab,
                                                         impl_->config.speculative));
  }
  impl_->wake.notify_one();
  return ids;
}

Result<SeqId> Engine::submit(EngineRequest request) {
  std::vector<EngineRequest> one;
  one.push_back(std::move(request));
  MX_ASSIGN_OR_RETURN(std::vector<SeqId> ids, submit_all(std::move(one)));
  return ids.front();
}

void Engine::cancel(SeqId id) {
  std::lock_guard lock(impl_->mutex);
  impl_->cancels.push_back(id);
  impl_->wake.notify_one();
}

EngineStats Engine::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

int64_t Engine::max_context() const { return impl_->max_context; }

EngineLimits Engine::limits() const { return impl_->limits(); }

int64_t Engine::max_new_tokens_for(int64_t n_prompt, int64_t n_choices) const {
  return impl_->max_new_tokens_for(n_prompt, n_choices);
}

const Model& Engine::model() const { return impl_->model; }
KvEventLog& Engine::kv_events() { return impl_->kv_events; }

void Engine::stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    impl_->wake.notify_one();
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Engine::Impl::loop() {
  for (;;) {
    {
      std::unique_lock lock(mutex);
      wake.wait(lock, [&] {
        return stopping || !incoming.empty() || !cancels.empty() || !running.empty() ||
               !waiting.empty();
      });
      if (stopping) break;
    }
    take_incoming();
    const bool ran = step();
    publish_stats();
    // Nothing could run (all waiting requests blocked): let cancellations or new requests in.
    if (!ran) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Shutdown: every request still here gets its final event.
  take_incoming();
  std::vector<Sequence*> left(running.begin(), running.end());
  left.insert(left.end(), waiting.begin(), waiting.end());
  for (Sequence* seq : left) finish(*seq, StopReason::kCancelled);
  publish_stats();
}

void Engine::Impl::take_incoming() {
  std::deque<std::unique_ptr<Sequence>> arrived;
  std::vector<SeqId> cancelled;
  {
    std::lock_guard lock(mutex);
    arrived.swap(incoming);
    cancelled.swap(cancels);
  }
  for (auto& seq : arrived) {
    waiting.push_back(seq.get());
    sequences.emplace(seq->id, std::move(seq));
  }
  for (SeqId id : cancelled) {
    auto it = sequences.find(id);
    if (it != sequences.end()) finish(*it->second, StopReason::kCancelled);
  }
}

void Engine::Impl::emit(Sequence& seq, TokenEvent event) {
  event.prompt_tokens = seq.n_prompt();
  event.cached_tokens = std::max<int64_t>(seq.cached_tokens, 0);
  event.completion_tokens = seq.n_generated();
  if (seq.request.on_event) seq.request.on_event(event);
}

void Engine::Impl::finish(Sequence& seq, StopReason reason, std::string error) {
  TokenEvent event;
  event.error = std::move(error);
  finish(seq, reason, std::move(event));
}

// `event` may carry the last sampled token.
void Engine::Impl::finish(Sequence& seq, StopReason reason, TokenEvent event) {
  release_blocks(seq);
  std::erase(running, &seq);
  std::erase(waiting, &seq);
  event.finished = true;
  event.stop_reason = reason;
  emit(seq, std::move(event));
  sequences.erase(seq.id);  // destroys seq
}

void Engine::Impl::publish_stats() {
  blocks.take_events(step_events);
  kv_events.append(step_events);
  step_events.clear();
  EngineStats s = totals;
  s.waiting = static_cast<int64_t>(waiting.size());
  s.running = static_cast<int64_t>(running.size());
  s.kv_blocks_total = blocks.n_blocks();
  s.kv_blocks_used = blocks.n_used();
  s.kv_blocks_free = blocks.n_free();
  s.prefix_queries = blocks.stats().prefix_queries;
  s.prefix_hits = blocks.stats().prefix_hits;
  if (store) s.kv_tiers = store->stats();
  std::lock_guard lock(mutex);
  s.waiting += static_cast<int64_t>(incoming.size());
  queued = s.waiting;
  stats = s;
}

}  // namespace mx
